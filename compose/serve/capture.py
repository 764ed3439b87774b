"""`--capture`: predicted rows are stored as unannotated samples (`source=capture`), each a new sample,
and the answers given to them in the served log (`compose.store.served`, what `compose monitor`
reads), by a background thread in batches."""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from compose.data.images import request_images
from compose.data.io import as_frame
from compose.errors import ComposeError
from compose.serve.errors import ApiError
from compose.serve.holder import Live
from compose.store.samples import SampleStore
from compose.store.served import ServedLog, ServedRow
from compose.store.served import now as served_now
from compose.typing import MergedResult

log = logging.getLogger("compose.serve")
_Item = tuple[list[dict[str, Any]], list[MergedResult] | None, str]


class Capture:
    """Rows handed to `add` are stored by a thread of their own; a full queue drops them (never slows a prediction)."""

    BATCH = 1000  # requests written in one transaction, at most
    FLUSH_SECONDS = 1.0  # how long the first request of a batch waits for others (one write per second)

    def __init__(self, live: Callable[[], Live], samples: Callable[[], SampleStore], home: Path,
                 image_root: Path | None = None) -> None:
        self.live, self.samples, self.home, self.image_root = live, samples, home, image_root
        self.queue: queue.Queue[_Item] = queue.Queue(maxsize=1000)
        self.served: ServedLog | None = None
        self.thread = threading.Thread(target=self._run, name="compose-serve-capture", daemon=True)
        self.thread.start()

    def add(self, rows: list[dict[str, Any]], results: list[MergedResult] | None = None) -> None:
        with contextlib.suppress(queue.Full):  # never slow a prediction down for the labelling queue
            self.queue.put_nowait((rows, results, served_now()))

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            deadline = time.monotonic() + self.FLUSH_SECONDS
            with contextlib.suppress(queue.Empty):
                while len(batch) < self.BATCH and (left := deadline - time.monotonic()) > 0:
                    batch.append(self.queue.get(timeout=left))
            try:
                self._store(batch)
            except (ComposeError, ApiError, sqlite3.Error) as exc:
                log.warning("compose serve: captured rows were not stored: %s", exc)

    def _store(self, batch: list[_Item]) -> None:
        schema = self.live().model.schema
        rows = [r for rs, _, _ in batch for r in rs]
        frame = as_frame([{k: v for k, v in r.items() if k in schema.inputs} for r in rows])
        with request_images(self.image_root):  # this thread, too, reads no path a request names
            ids = self.samples().upsert(frame, schema, source="capture", identity="new").ids  # a served row is new
        answered: list[ServedRow] = []
        start = 0
        for rs, results, at in batch:
            if results is not None:
                answered.extend(ServedRow.from_results(results, ids[start:start + len(rs)], at=at))
            start += len(rs)
        if answered:
            if self.served is None:
                self.served = ServedLog.open(self.home)
            self.served.append(answered)
