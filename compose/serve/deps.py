"""The dependencies of the routes: the app's state, the bearer-token guard, the learning switch, the
sample store and a known group. Routes declare them (`state: StateDep`, `dependencies=[Authorized]`)
and FastAPI solves them; nothing calls them by hand.

The ones on the prediction path are `async def`: FastAPI runs a plain `def` dependency in a thread,
a hop that costs more than the dependency itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from compose.errors import DataError
from compose.serve.errors import ApiError
from compose.serve.messages import SampleFilter
from compose.serve.security import TOKEN_ENV, token_matches
from compose.serve.state import ServeState
from compose.store.samples import SampleStore

BEARER = HTTPBearer(auto_error=False, description=f"the server's --token-file or ${TOKEN_ENV}")


async def get_state(request: Request) -> ServeState:
    """The `ServeState` of the app that received the request (`create_app` puts it on `app.state`)."""
    state: ServeState = request.app.state.compose
    return state


StateDep = Annotated[ServeState, Depends(get_state)]


async def authorized(state: StateDep,
                     credentials: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)] = None) -> None:
    """The guard of every mutating route: the server's bearer token, compared in constant time."""
    if state.token is None:
        raise ApiError(401, "read_only", "this server was started without a token, so it changes nothing; "
                                         f"restart it with --token-file FILE or ${TOKEN_ENV}",
                       headers={"WWW-Authenticate": "Bearer"})
    given = f"Bearer {credentials.credentials}" if credentials is not None else None
    if not token_matches(state.token, given):
        raise ApiError(401, "unauthorized", "missing or wrong bearer token; send the header "
                                            "`Authorization: Bearer <token>` with the server's token",
                       headers={"WWW-Authenticate": "Bearer"})


Authorized = Depends(authorized)


async def learning(state: StateDep) -> None:
    """The guard of the routes that store samples or annotations: 403 on a server started with --no-learn."""
    if state.learner is None:
        raise ApiError(403, "read_only", "this server was started with --no-learn: it stores no samples "
                                         "and retrains nothing; restart it without --no-learn")


Learning = Depends(learning)


def sample_store(state: StateDep) -> SampleStore:
    """The model's sample store (opened on first use, in a worker thread: it may create the file)."""
    return state.samples()


SamplesDep = Annotated[SampleStore, Depends(sample_store)]


def _group_of(state: ServeState, group: str) -> str:
    groups = list(state.live().model.schema.groups)
    if group not in groups:
        raise ApiError(404, "not_found", f"unknown group {group!r}; the model has {groups}")
    return group


def known_group(group: str, state: StateDep) -> str:
    """The path's `group`, a group of the live release; 404 otherwise (in a worker thread: it may load the release)."""
    return _group_of(state, group)


def sample_filter(state: StateDep, query: Annotated[SampleFilter, Query()]) -> SampleFilter:
    """The query of a samples list; its `group` (when given) a group of the live release, 404 otherwise."""
    if query.disagrees and query.group is None:
        raise DataError("disagrees=true needs group=G: the group whose predictions are compared")
    if query.group is not None:
        _group_of(state, query.group)
    return query


GroupDep = Annotated[str, Depends(known_group)]
FilterDep = Annotated[SampleFilter, Depends(sample_filter)]
