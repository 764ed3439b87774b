"""`--capture`: predicted rows are stored as unannotated samples (`source=capture`) by a background thread."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from compose.data.io import as_frame
from compose.errors import ComposeError
from compose.serve.errors import ApiError
from compose.serve.holder import Live
from compose.store.samples import SampleStore

log = logging.getLogger("compose.serve")


class Capture:
    """Rows handed to `add` are stored by a thread of their own; a full queue drops them (never slows a prediction)."""

    def __init__(self, live: Callable[[], Live], samples: Callable[[], SampleStore]) -> None:
        self.live, self.samples = live, samples
        self.queue: queue.Queue[list[dict[str, Any]]] = queue.Queue(maxsize=1000)
        self.thread = threading.Thread(target=self._run, name="compose-serve-capture", daemon=True)
        self.thread.start()

    def add(self, rows: list[dict[str, Any]]) -> None:
        with contextlib.suppress(queue.Full):  # never slow a prediction down for the labelling queue
            self.queue.put_nowait(rows)

    def _run(self) -> None:
        while True:
            rows = self.queue.get()
            try:
                schema = self.live().model.schema
                frame = as_frame([{k: v for k, v in r.items() if k in schema.inputs} for r in rows])
                self.samples().upsert(frame, schema, source="capture")
            except (ComposeError, ApiError) as exc:
                log.warning("compose serve: captured rows were not stored: %s", exc)
