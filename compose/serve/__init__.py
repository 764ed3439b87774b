"""compose serve: predictions over HTTP, and groups that learn from new samples (extra `[serve]`).

`create_app(store, ...)` returns the ASGI app (for uvicorn, or to mount in another app);
`serve(store, ...)` runs it with uvicorn. Without FastAPI and uvicorn installed, importing this
package raises `MissingExtraError` naming the extra to install.
"""

from __future__ import annotations

from compose.errors import MissingExtraError

HINT = "compose serve needs FastAPI and uvicorn: pip install 'compose-groups[serve]'"

try:
    from compose.serve.app import Limits, create_app
    from compose.serve.runner import serve
except ModuleNotFoundError as exc:
    if exc.name is not None and exc.name.split(".")[0] in {"fastapi", "starlette", "uvicorn", "anyio", "orjson"}:
        raise MissingExtraError(f"{HINT} ({exc.name} is missing)", name=exc.name) from exc
    raise

__all__ = ["HINT", "Limits", "create_app", "serve"]
