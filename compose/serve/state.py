"""`ServeState`: what the routes of one app share (the store, the live release, the token, the limits,
the learner, the sample store), and the `Limits` of a request. The routes receive it as a dependency
(`compose.serve.deps.StateDep`)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from compose.serve.capture import Capture
from compose.serve.errors import ApiError
from compose.serve.holder import Live, ReleaseHolder
from compose.serve.learning import Learner
from compose.store.samples import SampleStore
from compose.store.store import ModelStore

log = logging.getLogger("compose.serve")
MAX_ROWS = 1000
MAX_BODY_BYTES = 4 * 2**20


@dataclass(frozen=True)
class Limits:
    """Rows per request and bytes per request body; over either the answer is 413."""

    max_rows: int = MAX_ROWS
    max_body_bytes: int = MAX_BODY_BYTES


class ServeState:
    """What the routes share: the store, the live release, the token, the limits, the learner."""

    def __init__(self, store: ModelStore, holder: ReleaseHolder, token: str | None, limits: Limits,
                 learner: Learner | None) -> None:
        self.store, self.holder, self.token, self.learner = store, holder, token, learner
        self.max_rows = limits.max_rows
        self.capture: Capture | None = None
        self.image_root: Path | None = None  # where requests may name images by path (--image-root)
        self.log = log
        self._samples: SampleStore | None = None
        self._samples_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._started = False

    def samples(self) -> SampleStore:
        """The model's sample store, opened (and created) on first use with the live release's schema."""
        with self._samples_lock:
            if self._samples is None:
                live = self.holder.live  # not self.live(): the learner opens the samples while it starts
                if live is None:
                    raise ApiError(503, "not_ready", f"no release of {self.store.path} is live yet",
                                   headers={"Retry-After": "1"})
                self._samples = SampleStore.open(self.store.samples_home, schema=live.model.schema, create=True)
            return self._samples

    def start(self) -> None:
        """Load the live release, start the watcher and the learner (which resumes the retrains that a
        stopped or killed server left waiting). Once; later calls do nothing."""
        with self._start_lock:
            if self._started:
                return
            self.holder.start()
            if self.learner is not None:
                self.learner.start()
            self._started = True

    def ensure_started(self) -> None:
        """Start on first use, for an app mounted inside another one (whose lifespan does not run it)."""
        if not self._started:
            self.start()

    def stop(self) -> None:
        with self._start_lock:
            if self.learner is not None:
                self.learner.stop()
            self.holder.stop()
            self.close()
            self._started = False

    def close(self) -> None:
        with self._samples_lock:
            if self._samples is not None:
                self._samples.close()
                self._samples = None

    def live(self, release: str | None = None) -> Live:
        """The live release (or the pinned `release`); 503 while none is live."""
        self.ensure_started()
        live = self.holder.model_for(release)
        if live is None:
            raise ApiError(503, "not_ready", self.holder.last_error or f"no release of {self.store.path} is live yet",
                           headers={"Retry-After": "1"})
        return live

    def check_rows(self, n: int) -> None:
        if n > self.max_rows:
            raise ApiError(413, "too_many_rows", f"{n} rows in one request; the limit is {self.max_rows}: split "
                                                 "them into several requests (or start the server with a larger "
                                                 "--max-rows)")
