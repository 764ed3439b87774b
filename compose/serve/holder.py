"""The served release: one reference to a loaded model, replaced as a whole when CURRENT changes.

A request reads `holder.live` once and uses that `Live` to the end, so a request in flight finishes
on the release it started with while the next ones see the new one: the swap is the assignment of
one attribute, never an edit of a model in place. A watcher thread polls the store's CURRENT file
(its inode, mtime and size; the name inside when they change), loads a new release off the request
path and swaps it in, so a release made by the CLI, by `compose learn` or by the server's own
learning jobs is picked up. A release that fails to load is logged and the previous one keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from compose.errors import ComposeError
from compose.runtime.load import load
from compose.runtime.model import ComposedModel
from compose.store.remote import StorePath
from compose.store.store import ModelStore

log = logging.getLogger("compose.serve")

#: Releases other than the live one kept loaded for requests that pin them.
PINNED_CACHE = 4


@dataclass(frozen=True)
class Live:
    """A loaded release and when it was swapped in."""

    model: ComposedModel
    release: str
    since: float


class ReleaseHolder:
    """Holds the live release of one model folder and swaps it when the folder's CURRENT changes."""

    def __init__(self, store: ModelStore, *, poll_interval: float = 0.5) -> None:
        self.store = store
        self.poll_interval = poll_interval
        self.live: Live | None = None
        self.last_error: str | None = None
        self._seen: str | None = "never"  # never a real stamp: the first poll loads
        self._load_lock = threading.Lock()  # one load at a time; readers never take it
        self._pinned: OrderedDict[str, ComposedModel] = OrderedDict()
        self._pinned_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    @property
    def current_file(self) -> StorePath:
        return self.store.path / "CURRENT"

    def _stamp(self) -> str | None:
        """CURRENT's inode, mtime and size in a folder; its ETag on object storage (`ModelStore.current_stamp`)."""
        return self.store.current_stamp()

    def refresh(self, *, force: bool = False) -> bool:
        """Load and swap in the release CURRENT names if it is not the live one; True when it swapped."""
        with self._load_lock:
            stamp = self._stamp()
            if not force and stamp == self._seen and (self.live is not None or stamp is None):
                return False
            self._seen = stamp
            if stamp is None:
                self.last_error = f"{self.store.path} has no release yet; train a model first"
                return False
            try:
                name = self.store.current_name()
                if self.live is not None and self.live.release == name:
                    return False
                model = load(self.store.path, release=name)
            except (ComposeError, OSError) as exc:
                if str(exc) != self.last_error:  # once per distinct problem, not once per poll
                    log.error("compose serve: the release in %s could not be loaded%s: %s", self.store.path,
                              ", the previous one keeps serving" if self.live else "", exc)
                self.last_error = str(exc)
                return False
            previous = self.live
            self.live = Live(model, name, time.time())  # the swap: one reference, replaced as a whole
            self.last_error = None
            if previous is not None:
                with self._pinned_lock:
                    self._remember(previous.release, previous.model)
            log.info("compose serve: release %s is live%s", name,
                     f" (was {previous.release})" if previous else "")
            return True

    def _remember(self, name: str, model: ComposedModel) -> None:
        self._pinned[name] = model
        self._pinned.move_to_end(name)
        while len(self._pinned) > PINNED_CACHE:
            self._pinned.popitem(last=False)

    def model_for(self, release: str | None) -> Live | None:
        """The live release, or the pinned `release` (loaded once and cached); None when nothing is live."""
        live = self.live
        if release is None or (live is not None and live.release == release):
            return live
        with self._pinned_lock:
            model = self._pinned.get(release)
            if model is None:
                model = load(self.store.path, release=release)
                self._remember(release, model)
            else:
                self._pinned.move_to_end(release)
        return Live(model, release, 0.0)

    # --- the watcher ---------------------------------------------------------------------------

    def start(self) -> None:
        """Load the live release now and start the watcher thread (once; later calls do nothing)."""
        with self._start_lock:
            if self._thread is not None:
                return
            self._stop.clear()
            self.refresh()
            self._thread = threading.Thread(target=self._watch, name="compose-serve-watcher", daemon=True)
            self._thread.start()

    def ensure_started(self) -> None:
        """Start on first use, for an app mounted inside another one (whose lifespan does not run)."""
        if self._thread is None:
            self.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_interval):
            try:
                self.refresh()
            except Exception:  # the watcher must outlive any one bad release
                log.exception("compose serve: the release watcher failed once; it keeps polling")

    def stop(self) -> None:
        with self._start_lock:
            self._stop.set()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._thread = None
