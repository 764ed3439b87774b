"""The API's routers, one per concern (`APIRouter(prefix, tags, dependencies, responses)`); `create_app`
includes each with one `app.include_router(...)` line."""
