"""`compose serve`: the HTTP API (extra `[serve]`, imported only when the command runs)."""

from __future__ import annotations

import argparse

from compose.cli._output import Adder, store_args


def cmd_serve(a: argparse.Namespace) -> int:
    from compose.serve.security import check_bind, read_token  # raises MissingExtraError without the extra

    token = read_token(a.token_file)
    check_bind(a.host, token)  # refuse before loading the model
    from compose.serve import create_app, serve  # raises MissingExtraError (exit 2) naming the extra
    from compose.serve.app import Limits

    app = create_app(a.store, a.model, token=token, learn=not a.no_learn, capture=a.capture,
                     limits=Limits(a.max_rows, a.max_body_bytes), poll_interval=a.poll_interval, debounce=a.debounce,
                     image_root=a.image_root)
    serve(app, host=a.host, port=a.port, log_level="warning" if a.quiet else "info")
    return 0


def register(add: Adder) -> None:
    sp = add("serve", cmd_serve, "serve the live release over HTTP (needs the [serve] extra)")
    store_args(sp)
    sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; any other "
                                                        "needs a token)")
    sp.add_argument("--port", type=int, default=8000)
    sp.add_argument("--token-file", help="file holding the bearer token of the mutating routes "
                                         "(default: $COMPOSE_SERVE_TOKEN; none: read-only)")
    sp.add_argument("--no-learn", action="store_true", help="serve read-only: no samples, no retraining")
    sp.add_argument("--capture", action="store_true", help="store every predicted row as an unannotated sample")
    sp.add_argument("--max-rows", type=int, default=1000, help="rows per request (default 1000; more: 413)")
    sp.add_argument("--max-body-bytes", type=int, default=4 * 2**20, help="request body size (default 4 MiB)")
    sp.add_argument("--poll-interval", type=float, default=0.5,
                    help="seconds between checks of the store's CURRENT for a new release (default 0.5)")
    sp.add_argument("--debounce", type=float, default=1.0,
                    help="seconds a group waits after its last new annotation before it is retrained (default 1)")
    sp.add_argument("--image-root", metavar="DIR",
                    help="the folder under which requests may name image inputs by path; without it a request "
                         "sends image bytes (base64 or a data: URL) and no path is read")
