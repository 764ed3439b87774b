"""The embedded store: a local folder of versioned features and heads, and releases that pin them.

    models/<schema name>/
      features/<feature>/v0001/{model.joblib, meta.json}
      groups/<group>/v0001/{model.joblib, meta.json}
      releases/r0001.json      # one version of every node, the schema and the sha256 of each artifact
      CURRENT                  # the name of the live release

Every write goes to a temporary folder or file first and is then renamed into place, under a lock:
a crash leaves either the old state or the new one, never half of a version or of a release.
Reading an artifact checks its sha256 against both its meta.json and the release that pins it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import joblib

from compose.errors import ArtifactNotFoundError, IntegrityError, PluginError, StoreError, StoreLockedError
from compose.registry import Plugin

ARTIFACT = "model.joblib"
META = "meta.json"
KINDS = ("features", "groups", "decisions")
_VERSION = re.compile(r"^v(\d{4,})$")
_RELEASE = re.compile(r"^r(\d{4,})$")


def library_versions() -> dict[str, str]:
    import numpy
    import scipy
    import sklearn

    from compose._version import __version__

    return {"compose": __version__, "python": sys.version.split()[0], "scikit-learn": sklearn.__version__,
            "numpy": numpy.__version__, "scipy": scipy.__version__, "joblib": joblib.__version__}


def missing_plugin_message(path: Path, meta: dict[str, Any], exc: BaseException) -> str:
    """Why an intact artifact cannot be unpickled (a module or class it names is missing), and what
    to install: the plugin recorded in its meta.json when there is one, else the missing module."""
    plugin = meta.get("plugin") if isinstance(meta.get("plugin"), dict) else None
    missing = getattr(exc, "name", None) or str(exc)
    if plugin:
        made = Plugin(str(plugin.get("name", "")), str(plugin.get("module", "")),
                      str(plugin.get("distribution") or ""), str(plugin.get("version") or ""))
        source = f"{made.distribution} {made.version}".strip() or "no installed distribution"
        said = f"; it was made by {made.name!r} from module {made.module!r} ({source}); {made.install_hint()}"
    else:
        said = "; install the package that provides it"
    return (f"{path} needs {missing!r} to load, which is not importable here ({type(exc).__name__}: {exc})"
            f"{said}. The file itself is intact (its sha256 matches)")


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old content or the new, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def version_name(version: int) -> str:
    return f"v{version:04d}"


def parse_version(text: str | int) -> int:
    """`v0003`, `3` or 3 -> 3."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"v?(\d+)", text.strip())
    if not m:
        raise ArtifactNotFoundError(f"{text!r} is not a version; write it as v0003 or 3")
    return int(m.group(1))


def release_name(number: int) -> str:
    return f"r{number:04d}"


class ModelStore:
    """The folder of one model (one schema name) inside a store root."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @classmethod
    def open(cls, root: str | Path, model: str | None = None, *, create: bool = False) -> ModelStore:
        """The model folder `root/model`; `root` itself if it is a model folder; else its only model."""
        root = Path(root)
        if model is not None:
            path = root / model
            if not create and not (path / "releases").is_dir():
                known = list_models(root)
                raise ArtifactNotFoundError(f"store {str(root)!r} has no model {model!r}; models here: {known}")
            return cls(path)
        if (root / "releases").is_dir() or (root / "CURRENT").exists():
            return cls(root)
        if not root.is_dir():
            raise ArtifactNotFoundError(f"store {str(root)!r} does not exist; train a model first "
                                        f"(compose train SCHEMA --data FILE --store {root})")
        models = list_models(root)
        if not models:
            raise ArtifactNotFoundError(f"store {str(root)!r} holds no trained model; train one first "
                                        f"(compose train SCHEMA --data FILE --store {root})")
        if len(models) > 1:
            raise ArtifactNotFoundError(f"store {str(root)!r} holds several models {models}; "
                                        "pick one with --model NAME")
        return cls(root / models[0])

    @property
    def name(self) -> str:
        return self.path.name

    # --- locking -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, timeout: float = 600.0, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold the store's write lock; wait up to `timeout` seconds for another writer."""
        self.path.mkdir(parents=True, exist_ok=True)
        lock_path = self.path / ".lock"
        fh = lock_path.open("a+")
        try:
            deadline = time.monotonic() + timeout
            told = False
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    holder = lock_path.read_text(encoding="utf-8").strip() or "another process"
                    if time.monotonic() >= deadline:
                        raise StoreLockedError(
                            f"store {str(self.path)!r} is locked by {holder} for more than {timeout:.0f}s; "
                            "wait for it to finish, or raise the timeout") from exc
                    if not told and on_wait is not None:
                        on_wait(f"waiting for the store lock held by {holder} ...")
                        told = True
                    time.sleep(0.2)
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()} since {now()}")
            fh.flush()
            self._clean_temporaries()
            yield
        finally:
            with contextlib.suppress(OSError):
                fh.seek(0)
                fh.truncate()
            fh.close()  # closing releases the flock

    def _clean_temporaries(self) -> None:
        tmp = self.path / ".tmp"
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)

    # --- versions ------------------------------------------------------------------------------

    def node_dir(self, kind: str, name: str) -> Path:
        return self.path / kind / name

    def versions(self, kind: str, name: str) -> list[int]:
        folder = self.node_dir(kind, name)
        if not folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _VERSION.match(p.name)))

    def names(self, kind: str) -> list[str]:
        folder = self.path / kind
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def write_version(self, kind: str, name: str, obj: Any, meta: dict[str, Any],
                      extras: dict[str, Any] | None = None) -> tuple[int, str]:
        """Store a new version of `kind/name`; return (version, sha256). Call under `lock()`.

        `extras` are further objects saved beside the artifact (`<key>.joblib`), each with its
        sha256 in meta.json under `files`.
        """
        staging = self.path / ".tmp" / f"{kind}-{name}-{uuid.uuid4().hex}"
        staging.mkdir(parents=True)
        files: dict[str, str] = {}
        for filename, content in [(ARTIFACT, obj), *((f"{k}.joblib", v) for k, v in (extras or {}).items())]:
            with (staging / filename).open("wb") as fh:
                joblib.dump(content, fh, compress=3)
                fh.flush()
                os.fsync(fh.fileno())
            files[filename] = sha256_file(staging / filename)
        digest = files.pop(ARTIFACT)
        existing = self.versions(kind, name)
        version = (existing[-1] if existing else 0) + 1
        record = {"kind": kind[:-1], "name": name, "version": version, "sha256": digest, "files": files,
                  "created": now(), **meta, "libraries": library_versions()}
        (staging / META).write_text(json.dumps(record, indent=2, sort_keys=False, default=str), encoding="utf-8")
        target = self.node_dir(kind, name) / version_name(version)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staging, target)
        _fsync_dir(target.parent)
        return version, digest

    def meta(self, kind: str, name: str, version: int) -> dict[str, Any]:
        path = self.node_dir(kind, name) / version_name(version) / META
        if not path.is_file():
            raise ArtifactNotFoundError(f"{path} is missing: {kind[:-1]} {name!r} has no version "
                                        f"{version_name(version)}; list them with `compose versions`")
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IntegrityError(f"{path} is corrupt ({exc}); roll back to another version or retrain "
                                 f"{kind[:-1]} {name!r}") from exc
        return data

    def verify_version(self, kind: str, name: str, version: int,
                       expected_sha256: str | None = None) -> tuple[Path, dict[str, Any]]:
        """Check every file of a version against meta.json (and the release's sha256, if given),
        without unpickling anything; return the artifact's path and the meta. Raise IntegrityError."""
        meta = self.meta(kind, name, version)
        path = self.node_dir(kind, name) / version_name(version) / ARTIFACT
        if not path.is_file():
            raise IntegrityError(f"{path} is missing; retrain {kind[:-1]} {name!r} or roll back to another version")
        digest = sha256_file(path)
        for source, wanted in (("its meta.json", meta.get("sha256")), ("the release", expected_sha256)):
            if wanted is not None and digest != wanted:
                raise IntegrityError(f"{path} does not match the sha256 recorded in {source}: the file was "
                                     f"changed or corrupted after it was written. Retrain {kind[:-1]} {name!r} "
                                     "or roll back to another version; it will not be loaded")
        for filename, wanted_extra in meta.get("files", {}).items():
            extra = path.parent / filename
            if not extra.is_file() or sha256_file(extra) != wanted_extra:
                raise IntegrityError(f"{extra} is missing or does not match the sha256 in its meta.json: the "
                                     f"version was changed after it was written. Retrain {kind[:-1]} {name!r} "
                                     "or roll back to another version; it will not be loaded")
        return path, meta

    def load_version(self, kind: str, name: str, version: int, expected_sha256: str | None = None) -> Any:
        """Load an artifact after checking its sha256 against meta.json and the pinning release."""
        path, meta = self.verify_version(kind, name, version, expected_sha256)
        theirs = meta.get("libraries", {}).get("scikit-learn")
        mine = library_versions()["scikit-learn"]
        if theirs and theirs != mine:
            warnings.warn(f"{path} was made with scikit-learn {theirs} and is loaded with {mine}; "
                          "predictions may differ: retrain to be safe", stacklevel=2)
        try:
            return joblib.load(path)
        except ImportError as exc:  # a module the pickle names is not installed: the file is not corrupt
            raise PluginError(missing_plugin_message(path, meta, exc)) from exc
        except AttributeError as exc:
            if "Can't get attribute" not in str(exc):  # pickle's words for a class missing from its module
                raise IntegrityError(f"{path} cannot be loaded (AttributeError: {exc}); retrain "
                                     f"{kind[:-1]} {name!r}") from exc
            raise PluginError(missing_plugin_message(path, meta, exc)) from exc
        except Exception as exc:
            raise IntegrityError(f"{path} cannot be loaded ({type(exc).__name__}: {exc}); retrain "
                                 f"{kind[:-1]} {name!r}") from exc

    def load_extra(self, kind: str, name: str, version: int, key: str) -> Any:
        """Load an extra file of a version (for example a group's holdout), checking its sha256."""
        meta = self.meta(kind, name, version)
        filename = f"{key}.joblib"
        wanted = meta.get("files", {}).get(filename)
        path = self.node_dir(kind, name) / version_name(version) / filename
        if wanted is None:
            raise ArtifactNotFoundError(f"{kind[:-1]} {name!r} {version_name(version)} has no {filename}")
        if not path.is_file() or sha256_file(path) != wanted:
            raise IntegrityError(f"{path} is missing or does not match the sha256 in its meta.json; it will "
                                 f"not be used. Retrain {kind[:-1]} {name!r}")
        return joblib.load(path)

    # --- releases ------------------------------------------------------------------------------

    def release_numbers(self) -> list[int]:
        folder = self.path / "releases"
        if not folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in folder.glob("r*.json") if (m := _RELEASE.match(p.stem)))

    def current_name(self) -> str:
        path = self.path / "CURRENT"
        if not path.is_file():
            if self.release_numbers():
                raise IntegrityError(f"{path} is missing; set it to a release with "
                                     f"`compose rollback --to-release rNNNN --store {self.path.parent}`")
            raise ArtifactNotFoundError(f"{self.path} has no release yet; train a model first")
        name = path.read_text(encoding="utf-8").strip()
        if not _RELEASE.match(name) or not (self.path / "releases" / f"{name}.json").is_file():
            raise IntegrityError(f"{path} names {name!r}, which is not a release in {self.path / 'releases'}; "
                                 "set it to one of them with `compose rollback --to-release rNNNN`")
        return name

    def release(self, name: str | None = None) -> dict[str, Any]:
        name = name or self.current_name()
        path = self.path / "releases" / f"{name}.json"
        if not path.is_file():
            known = [release_name(n) for n in self.release_numbers()]
            raise ArtifactNotFoundError(f"release {name!r} does not exist in {self.path}; releases: {known}")
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IntegrityError(f"{path} is corrupt ({exc}); point CURRENT at another release with "
                                 "`compose rollback --to-release rNNNN`") from exc
        body = {k: v for k, v in data.items() if k != "sha256"}
        if data.get("sha256") != _digest_json(body):
            raise IntegrityError(f"{path} does not match its own sha256: it was edited or corrupted; point "
                                 "CURRENT at another release with `compose rollback --to-release rNNNN`")
        return data

    def write_release(self, body: dict[str, Any], *, make_current: bool = True) -> str:
        """Write the next release (pins, schema, note) and, by default, make it live. Call under `lock()`."""
        for kind in KINDS:
            for node, pin in body.get(kind, {}).items():
                if not (self.node_dir(kind, node) / version_name(pin["version"]) / ARTIFACT).is_file():
                    raise StoreError(f"cannot release: {kind[:-1]} {node!r} {version_name(pin['version'])} "
                                     "does not exist in the store")
        numbers = self.release_numbers()
        name = release_name((numbers[-1] if numbers else 0) + 1)
        record = {"release": name, "created": now(), **body}
        record["sha256"] = _digest_json(record)
        atomic_write_text(self.path / "releases" / f"{name}.json", json.dumps(record, indent=2))
        if make_current:
            self.set_current(name)
        return name

    def set_current(self, name: str) -> None:
        if not (self.path / "releases" / f"{name}.json").is_file():
            raise ArtifactNotFoundError(f"release {name!r} does not exist in {self.path}")
        atomic_write_text(self.path / "CURRENT", name + "\n")


def next_release(live: dict[str, Any], *, note: str, groups: dict[str, Any] | None = None,
                 decisions: dict[str, Any] | None = None) -> dict[str, Any]:
    """The body of a release that follows `live`: its pins, with `groups` and `decisions` replaced.

    A tuned decision belongs to the head version it was tuned on, so one whose group now pins
    another version is dropped (the schema's decision applies again).
    """
    body = {k: v for k, v in live.items() if k not in ("release", "created", "sha256", "decisions")}
    body["groups"] = {**live.get("groups", {}), **(groups or {})}
    kept = {g: p for g, p in {**live.get("decisions", {}), **(decisions or {})}.items()
            if body["groups"].get(g, {}).get("version") == p.get("for_group_version")}
    if kept:
        body["decisions"] = kept
    body["parent"] = live["release"]
    body["note"] = note
    return body


def _digest_json(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def list_models(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "releases").is_dir())
