"""What keeps the server safe by default: the bearer token, the loopback rule and the body limit.

- Mutating routes need `Authorization: Bearer <token>`; the token comes from `--token-file` or the
  environment variable COMPOSE_SERVE_TOKEN and is compared in constant time. A server started
  without a token refuses every mutating request (read-only).
- The server refuses to listen on an address other than loopback without a token.
- A body over the limit is answered 413 before it is parsed, whether it says its length or streams.
- A request never reaches the server's disk: an image cell is its bytes (base64 or a `data:` URL),
  or a path under `--image-root` only (`ImageScope`, `compose.data.images.request_images`).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from compose.data.images import request_images
from compose.errors import ServeError

TOKEN_ENV = "COMPOSE_SERVE_TOKEN"
MIN_TOKEN_LENGTH = 16
MAKE_TOKEN = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def read_token(token_file: str | Path | None, environ: MutableMapping[str, str] | None = None) -> str | None:
    """The token from `token_file` (first line, stripped), else from COMPOSE_SERVE_TOKEN, else None."""
    env = os.environ if environ is None else environ
    if token_file is not None:
        path = Path(token_file)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ServeError(f"--token-file {path}: cannot be read ({exc.strerror or exc}); write a token into "
                             f"it, e.g. {MAKE_TOKEN} > {path}") from exc
        token = text.strip().splitlines()[0].strip() if text.strip() else ""
        source = f"--token-file {path}"
    elif env.get(TOKEN_ENV):
        token, source = env[TOKEN_ENV].strip(), f"${TOKEN_ENV}"
    else:
        return None
    check_token(token, source)
    return token


def check_token(token: str, source: str = "the token") -> None:
    if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
        raise ServeError(f"{source}: the token must be at least {MIN_TOKEN_LENGTH} characters without spaces "
                         f"(got {len(token)}); make one with {MAKE_TOKEN}")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`; every other name or address counts as reachable from outside."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen on a non-loopback address without a token."""
    if token is None and not is_loopback(host):
        raise ServeError(f"--host {host} is reachable from other machines and no token is set; give one with "
                         f"--token-file FILE or ${TOKEN_ENV} (make one with {MAKE_TOKEN}), or listen on 127.0.0.1")


def token_matches(expected: str | None, authorization: str | None) -> bool:
    if expected is None or not authorization:
        return False
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` is answered 413 (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _answer(self, send: Send, status: int, error: str, detail: str) -> None:
        body = json.dumps({"error": error, "detail": detail}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        too_big = (f"the request body is over the limit of {self.max_bytes} bytes; send fewer rows per request "
                   "(or start the server with a larger --max-body-bytes)")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await self._answer(send, 400, "bad_request", "the Content-Length header is not a number")
                return
            if length > self.max_bytes:
                await self._answer(send, 413, "too_large", too_big)
                return
            await self.app(scope, receive, send)  # the server holds it to its Content-Length
            return
        # No declared length (chunked): read the body here, up to the limit, then hand it on.
        chunks, pending = await read_body(receive, self.max_bytes)
        if pending is None and sum(map(len, chunks)) > self.max_bytes:
            await self._answer(send, 413, "too_large", too_big)
            return
        await self.app(scope, replay(chunks, pending, receive), send)


async def read_body(receive: Receive, max_bytes: int | None = None) -> tuple[list[bytes], Message | None]:
    """The chunks of a request body, read until its last one (or past `max_bytes`), and the message that
    ended it early (a disconnect: hand it on with `replay`), else None."""
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return chunks, message
        chunk = message.get("body", b"")
        chunks.append(chunk)
        seen += len(chunk)
        if not message.get("more_body", False) or (max_bytes is not None and seen > max_bytes):
            return chunks, None


def replay(chunks: list[bytes], pending: Message | None, receive: Receive) -> Receive:
    """A `receive` that gives the buffered body once (or a message already taken), then the real one."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if pending is not None:
                return pending
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return await receive()

    return replayed


def check_image_root(path: str | Path | None) -> Path | None:
    """`--image-root`, resolved; a path that is not a folder is refused before the server starts."""
    if path is None:
        return None
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise ServeError(f"--image-root {path}: not a folder; give the folder whose images requests may name "
                         "by path (or leave --image-root out: requests then send image bytes)")
    return root


class ImageScope:
    """ASGI middleware: every request is handled under `request_images(root)`, so its image cells are
    bytes (base64 or a data: URL) or paths under `root`, and no other file of the server is opened."""

    def __init__(self, app: ASGIApp, root: Path | None) -> None:
        self.app = app
        self.root = root

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with request_images(self.root):  # the context is copied into the thread pool of the sync routes
            await self.app(scope, receive, send)
