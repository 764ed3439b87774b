"""The embedded store: a local folder of versioned features, heads and tuned decisions, and
releases that pin them.

    models/<schema name>/
      features/<feature>/v0001/{model.joblib, meta.json}     # model.skops with artifact_format: skops
      groups/<group>/v0001/{model.joblib, holdout.joblib, meta.json}
      decisions/<group>/v0001/{decision.json, meta.json}   # a tuned decision, as data
      releases/r0001.json      # a version of every feature and group (and tuned decisions), the
                               # schema, the sha256 of each artifact and the release's own sha256
      CURRENT                  # the name of the live release (and its signature, in a signed store)
      .lock                    # held by the one writer; .tmp/ holds its unfinished writes

A version folder is written in `.tmp/` and renamed into place, a release file and CURRENT through a
renamed temporary file, all under the lock: a crash leaves the old state or the new one. Reading an
artifact checks its sha256 against its meta.json and the release. A version carries a `.pending`
marker until its run ends; `compose gc` removes those of killed runs (`compose verify` names them).
On object storage (compose.store.remote): the same layout, no lock, no rename (compose.store.publish).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from compose._text import environment_fault
from compose.data.io import atomic_write, fsync_dir
from compose.errors import (
    ArtifactNotFoundError,
    ComposeError,
    EnvironmentFault,
    IntegrityError,
    PluginError,
    StoreConflictError,
    StoreError,
)
from compose.store import artifacts
from compose.store.files import library_versions, missing_plugin_message, now, sha256_file, wait_for_lock
from compose.store.layout import (
    KINDS,
    META,
    PENDING,
    canonical_json,
    digest_json,
    list_models,
    pinned_paths,
    read_json,
    temporaries,
)
from compose.store.names import (
    RELEASE_PATTERN,
    VERSION_PATTERN,
    node_folder,
    node_of_folder,
    release_name,
    version_name,
)
from compose.store.records import (
    DECISION,
    META_TYPES,
    DecisionMeta,
    FeatureMeta,
    GroupMeta,
    Holdout,
    Release,
    ReleaseBody,
    VersionMeta,
    parse_record,
)
from compose.store.remote import RemotePath, StorePath, current_stamp, local_copy, samples_home, store_location
from compose.store.signing import (
    check_record,
    check_signature,
    current_text,
    read_current,
    sign_bytes,
    signing_key,
)
from compose.store.version_files import meta_record, stage_files

log = logging.getLogger(__name__)

class ModelStore:
    """The folder of one model (one schema name) inside a store root.

    `key` signs what this store writes and is required of what it reads (see compose.store.signing);
    by default it is `COMPOSE_SIGNING_KEY`, and without one records carry only their checksums.
    """

    def __init__(self, path: str | Path | RemotePath, *, key: str | bytes | None = None) -> None:
        self.path: StorePath = store_location(path)
        self._session: list[StorePath] | None = None  # versions written under the lock held now
        self.key = signing_key(key)

    @classmethod
    def open(cls, root: str | Path | RemotePath, model: str | None = None, *, create: bool = False,
             key: str | bytes | None = None) -> ModelStore:
        """The model folder `root/model`; `root` itself if it is a model folder; else its only model.

        `root` is a folder or an fsspec URL (`s3://bucket/prefix`, `memory://name`; see compose.store.remote)."""
        root = store_location(root)
        if isinstance(root, Path) and root.exists() and not root.is_dir():
            raise EnvironmentFault(f"store {str(root)!r} is a file, not a folder; --store must name the store's "
                                   "folder (move the file away or choose another path)", str(root))
        if model is not None:
            path = root / model
            if not create and not (path / "releases").is_dir():
                known = list_models(root)
                raise ArtifactNotFoundError(f"store {str(root)!r} has no model {model!r}; models here: {known}")
            return cls(path, key=key)
        if (root / "releases").is_dir() or (root / "CURRENT").exists():
            return cls(root, key=key)
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
        return cls(root / models[0], key=key)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def remote(self) -> bool:
        """True for a store on object storage (no lock, no rename: writers meet at the release)."""
        return isinstance(self.path, RemotePath)

    @property
    def samples_home(self) -> Path:
        """The local folder of this model's sample database (the model folder, for a local store)."""
        return samples_home(self.path)

    def current_stamp(self) -> str | None:
        """A value that changes whenever CURRENT is written (None without CURRENT): what a server watches."""
        return current_stamp(self.path / "CURRENT")

    # --- locking -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, timeout: float = 600.0, on_wait: Callable[[str], None] | None = None, *,
             clean_staging: bool = True) -> Iterator[None]:
        """Hold the store's write lock; wait up to `timeout` seconds for another writer.

        Leaving normally settles the versions written meanwhile (they lose their `.pending` marker);
        leaving on an error (or Ctrl-C, or SIGTERM through SystemExit) removes the staging files and
        the versions written meanwhile that no release pins. An operating-system error (disk full,
        read-only, no permission) comes out as an EnvironmentFault naming the path.

        A store on object storage has no lock: this opens the same session without waiting, and
        concurrent writers meet at `write_release` (an exclusive release, CURRENT by compare-and-swap).
        """
        if isinstance(self.path, RemotePath):
            with self._remote_session():
                yield
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            lock_path = self.path / ".lock"
            fh = lock_path.open("a+b", buffering=0)  # unbuffered: a full disk cannot fail the close
        except OSError as exc:
            raise environment_fault(exc, str(self.path), "opening the store") from exc
        try:
            wait_for_lock(fh, lock_path, f"store {str(self.path)!r}", timeout, on_wait)
            with contextlib.suppress(OSError):  # the holder's note is a courtesy; a full disk must not stop us
                fh.seek(0)
                fh.truncate()
                fh.write(f"pid {os.getpid()} since {now()}".encode())
            if clean_staging:
                self._clean_temporaries()
            self._session = []
            try:
                yield
            except BaseException as exc:
                self._abort_session()
                if isinstance(exc, OSError) and exc.errno is not None and not isinstance(exc, ComposeError):
                    raise environment_fault(exc, str(exc.filename) if exc.filename else str(self.path)) from exc
                raise
            self.settle()
        finally:
            self._session = None
            with contextlib.suppress(OSError):
                fh.seek(0)
                fh.truncate()
            fh.close()  # closing releases the flock

    @contextlib.contextmanager
    def _remote_session(self) -> Iterator[None]:
        self._session = []
        try:
            yield
        except BaseException:
            self._abort_session()
            raise
        else:
            self.settle()
        finally:
            self._session = None

    def written(self, target: StorePath) -> None:
        """Note a version written in this session (an aborted session removes it unless a release pins it)."""
        if self._session is not None:
            self._session.append(target)

    def settle(self) -> None:
        """Mark the versions written under the lock as whole (call before writing the release)."""
        for target in self._session or []:
            with contextlib.suppress(FileNotFoundError):
                (target / PENDING).unlink()

    def _abort_session(self) -> None:
        """After a failed run: remove its staging files and the versions it wrote that no release pins."""
        if isinstance(self.path, Path):
            self._clean_temporaries()
            for p in [*temporaries(self.path), *temporaries(self.path / "releases")]:
                with contextlib.suppress(OSError):
                    p.unlink()
        pinned = pinned_paths(self)
        for target in self._session or []:
            if isinstance(target, RemotePath):
                if target not in pinned:
                    with contextlib.suppress(OSError, ComposeError):
                        target.rmtree()
                continue
            if target not in pinned:
                shutil.rmtree(target, ignore_errors=True)
                with contextlib.suppress(OSError):  # a node folder this run created and left empty
                    target.parent.rmdir()
                    target.parent.parent.rmdir()
            else:
                with contextlib.suppress(OSError):
                    (target / PENDING).unlink()

    def _clean_temporaries(self) -> None:
        tmp = self.path / ".tmp"
        if isinstance(tmp, Path) and tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)

    # --- versions ------------------------------------------------------------------------------

    def node_dir(self, kind: str, name: str) -> StorePath:
        return self.path / kind / node_folder(name)

    def versions(self, kind: str, name: str, *, claimed: bool = False) -> list[int]:
        """The versions of `kind/name`. On object storage, those whose meta.json is written (a version
        another writer is still uploading is not listed), or with `claimed` every number taken."""
        folder = self.node_dir(kind, name)
        if isinstance(folder, RemotePath):
            keys = [k.split("/", 1) for k in folder.find() if "/" in k]
            return sorted({int(m.group(1)) for top, rest in keys if (m := VERSION_PATTERN.match(top))
                           and (claimed or rest == META)})
        if not folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in folder.iterdir() if (m := VERSION_PATTERN.match(p.name)))

    def names(self, kind: str) -> list[str]:
        folder = self.path / kind
        if isinstance(folder, RemotePath):
            return sorted(node_of_folder(p.name) for p in folder.iterdir())
        return sorted(node_of_folder(p.name) for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def live_format(self) -> str:
        """The artifact format of the live release's heads (joblib for a new or an older store)."""
        try:
            live = self.release() if self.release_numbers() else None
        except StoreError:
            return "joblib"
        for kind in ("groups", "features"):
            for node, pin in (live.pins(kind) if live is not None else {}).items():
                return self.meta(kind, node, pin.version).format
        return "joblib"

    def write_version(self, kind: str, name: str, obj: Any, meta: dict[str, Any],
                      extras: dict[str, Any] | None = None, *, fmt: str | None = None) -> tuple[int, str]:
        """Store a new version of `kind/name`; return (version, sha256). Call under `lock()`.

        `meta` holds the kind's own fields of meta.json (see `compose.store.records`); they are
        checked against its record type before anything is written. A decision (`obj`, a mapping
        of decision parameters) is written as JSON (`decision.json`); features and heads are
        pickled (`model.joblib`), or saved with skops when `fmt` is `skops` (`model.skops`; default:
        the live release's format), which records per file the types it must trust to load
        (`trusted_types`). `extras` are further objects saved beside the artifact (`<key>.joblib`
        or `<key>.skops`), each with its sha256 in meta.json under `files`.
        """
        fmt = fmt or self.live_format()
        if isinstance(self.path, RemotePath):
            from compose.store.publish import write_remote_version

            return write_remote_version(self, kind, name, obj, meta, extras, fmt)
        staging = self.path / ".tmp" / f"{kind}-{node_folder(name)}-{uuid.uuid4().hex}"
        try:
            return self._write_staged(staging, kind, name, obj, meta, extras, fmt)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _write_staged(self, staging: Path, kind: str, name: str, obj: Any, meta: dict[str, Any],
                      extras: dict[str, Any] | None, fmt: str) -> tuple[int, str]:
        staging.mkdir(parents=True)
        (staging / PENDING).write_text("written by a run that has not finished\n", encoding="utf-8")
        artifact, files, trusted = stage_files(staging, kind, obj, extras, fmt)
        existing = self.versions(kind, name)
        version = (existing[-1] if existing else 0) + 1
        sealed = meta_record(self.key, kind, name, version, meta, (artifact, files, trusted), fmt,
                                   staging / META)
        (staging / META).write_text(json.dumps(sealed, indent=2), encoding="utf-8")
        target = self.node_dir(kind, name) / version_name(version)
        assert isinstance(target, Path)  # a local store
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(staging, target)
        self.written(target)
        fsync_dir(target.parent)
        return version, files[artifact]

    def meta(self, kind: str, name: str, version: int) -> VersionMeta:
        """The meta.json of a version, parsed into its record type (`FeatureMeta`, `GroupMeta`, `DecisionMeta`)."""
        if kind not in META_TYPES:
            raise StoreError(f"unknown kind of version {kind!r}; the store holds {list(META_TYPES)}")
        path = self.node_dir(kind, name) / version_name(version) / META
        missing = ArtifactNotFoundError(f"{path} is missing: {kind[:-1]} {name!r} has no version "
                                        f"{version_name(version)}; list them with `compose versions`")
        if isinstance(path, Path) and not path.is_file():
            raise missing
        fix = f"Roll back to another version or retrain {kind[:-1]} {name!r}"
        try:
            data = read_json(path, fix)
        except FileNotFoundError as exc:  # on object storage: one request, not a look and a read
            raise missing from exc
        check_record(path, data, self.key)
        meta = parse_record(META_TYPES[kind], data, path, fix)
        if (meta.name, meta.version) != (name, version):
            raise IntegrityError(f"{path} describes {meta.kind} {meta.name!r} {version_name(meta.version)}, not "
                                 f"{kind[:-1]} {name!r} {version_name(version)}: it was moved or edited. {fix}")
        return meta

    def feature_meta(self, name: str, version: int) -> FeatureMeta:
        meta = self.meta("features", name, version)
        assert isinstance(meta, FeatureMeta)  # META_TYPES parses features as FeatureMeta
        return meta

    def group_meta(self, name: str, version: int) -> GroupMeta:
        meta = self.meta("groups", name, version)
        assert isinstance(meta, GroupMeta)  # META_TYPES parses groups as GroupMeta
        return meta

    def decision_meta(self, name: str, version: int) -> DecisionMeta:
        meta = self.meta("decisions", name, version)
        assert isinstance(meta, DecisionMeta)  # META_TYPES parses decisions as DecisionMeta
        return meta

    def verify_version(self, kind: str, name: str, version: int, expected_sha256: str | None = None,
                       expected_meta: str | None = None, *, meta: VersionMeta | None = None,
                       local: Path | None = None) -> tuple[StorePath, VersionMeta]:
        """Check every file of a version against meta.json (and the release's sha256 of the artifact and
        checksum of meta.json, if given), without unpickling anything; return the artifact's path and the
        meta. Raise IntegrityError. `local` is a downloaded copy of the artifact to check instead (the
        bytes that will be loaded)."""
        meta = meta or self.meta(kind, name, version)
        path = self.node_dir(kind, name) / version_name(version) / meta.artifact
        if expected_meta is not None and meta.meta_sha256 != expected_meta:
            raise IntegrityError(f"{path.parent / META} does not match the checksum its release pins: the record was "
                                 f"changed after it was released. Retrain {kind[:-1]} {name!r} or roll back to "
                                 "another version; it will not be loaded")
        if local is None and not path.is_file():
            raise IntegrityError(f"{path} is missing; retrain {kind[:-1]} {name!r} or roll back to another version")
        digest = sha256_file(local or path)
        for source, wanted in (("its meta.json", meta.sha256), ("the release", expected_sha256)):
            if wanted is not None and digest != wanted:
                raise IntegrityError(f"{path} does not match the sha256 recorded in {source}: the file was "
                                     f"changed or corrupted after it was written. Retrain {kind[:-1]} {name!r} "
                                     "or roll back to another version; it will not be loaded")
        for filename, wanted_extra in meta.files.items():
            extra = path.parent / filename
            if not extra.is_file() or sha256_file(extra) != wanted_extra:
                raise IntegrityError(f"{extra} is missing or does not match the sha256 in its meta.json: the "
                                     f"version was changed after it was written. Retrain {kind[:-1]} {name!r} "
                                     "or roll back to another version; it will not be loaded")
        return path, meta

    def load_version(self, kind: str, name: str, version: int, expected_sha256: str | None = None,
                     expected_meta: str | None = None) -> Any:
        """Load an artifact after checking its sha256 against meta.json and the pinning release.

        A decision written as data comes back as the mapping it was; one pickled in store format 1
        is unpickled (after the same checks).
        """
        meta = self.meta(kind, name, version)
        artifact = self.node_dir(kind, name) / version_name(version) / meta.artifact
        try:
            with local_copy(artifact) as local:
                self.verify_version(kind, name, version, expected_sha256, expected_meta, meta=meta, local=local)
                return self._load_checked(kind, name, local, meta, artifact)
        except FileNotFoundError as exc:
            raise IntegrityError(f"{artifact} is missing; retrain {kind[:-1]} {name!r} or roll back to "
                                 "another version") from exc

    def _load_checked(self, kind: str, name: str, path: Path, meta: VersionMeta, source: StorePath) -> Any:
        """Unpickle (or read) an artifact whose checks passed; `source` is where it is stored, for messages."""
        if path.name == DECISION:
            return read_json(path, f"Tune group {name!r} again")
        theirs = meta.scikit_learn
        mine = library_versions()["scikit-learn"]
        if theirs and theirs != mine:
            warnings.warn(f"{source} was made with scikit-learn {theirs} and is loaded with {mine}; "
                          "predictions may differ: retrain to be safe", stacklevel=2)
        what = f"{kind[:-1]} {name!r}"
        try:
            return artifacts.load(path, meta.format, meta.trusted_types.get(path.name), what=what)
        except (IntegrityError, PluginError):  # refused by a check, or skops is not installed
            raise
        except ImportError as exc:  # a module the pickle names is not installed: the file is not corrupt
            raise PluginError(missing_plugin_message(source, meta, exc)) from exc
        except AttributeError as exc:
            if "Can't get attribute" not in str(exc):  # pickle's words for a class missing from its module
                raise IntegrityError(f"{source} cannot be loaded (AttributeError: {exc}); retrain "
                                     f"{kind[:-1]} {name!r}") from exc
            raise PluginError(missing_plugin_message(source, meta, exc)) from exc
        except Exception as exc:
            raise IntegrityError(f"{source} cannot be loaded ({type(exc).__name__}: {exc}); retrain "
                                 f"{kind[:-1]} {name!r}") from exc

    def load_extra(self, kind: str, name: str, version: int, key: str) -> Any:
        """Load an extra file of a version (for example a group's holdout), checking its sha256."""
        meta = self.meta(kind, name, version)
        filename = artifacts.filename(key, meta.format)
        wanted = meta.files.get(filename)
        path = self.node_dir(kind, name) / version_name(version) / filename
        if wanted is None:
            raise ArtifactNotFoundError(f"{kind[:-1]} {name!r} {version_name(version)} has no {filename}")
        refused = IntegrityError(f"{path} is missing or does not match the sha256 in its meta.json; it will "
                                 f"not be used. Retrain {kind[:-1]} {name!r}")
        if isinstance(path, Path) and not path.is_file():
            raise refused
        try:
            with local_copy(path) as local:
                if sha256_file(local) != wanted:
                    raise refused
                return artifacts.load(local, meta.format, meta.trusted_types.get(filename),
                                      what=f"{kind[:-1]} {name!r}")
        except FileNotFoundError as exc:
            raise refused from exc

    def holdout(self, group: str, version: int) -> Holdout:
        """The holdout stored with a head version (checked against its meta.json)."""
        obj = self.load_extra("groups", group, version, "holdout")
        filename = artifacts.filename("holdout", self.meta("groups", group, version).format)
        return Holdout.from_stored(obj, self.node_dir("groups", group) / version_name(version) / filename)

    # --- releases ------------------------------------------------------------------------------

    def release_numbers(self) -> list[int]:
        folder = self.path / "releases"
        if isinstance(folder, Path) and not folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in folder.glob("r*.json") if (m := RELEASE_PATTERN.match(p.stem)))

    def current_name(self) -> str:
        return self.current_tagged()[0]

    def current_tagged(self) -> tuple[str, str | None]:
        """The live release's name (checked) and, on object storage, the tag of CURRENT (for compare-and-swap)."""
        path = self.path / "CURRENT"
        fix = f"set it to a release with `compose rollback --to-release rNNNN --store {self.path.parent}`"
        try:
            raw, tag = path.read_tagged() if isinstance(path, RemotePath) else (path.read_bytes(), None)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            if self.release_numbers():
                raise IntegrityError(f"{path} is missing; {fix}") from None
            raise ArtifactNotFoundError(f"{self.path} has no release yet; train a model first") from None
        try:
            name = read_current(path, raw.decode("utf-8"), self.key)
        except UnicodeDecodeError as exc:
            raise IntegrityError(f"{path} is not UTF-8 text (byte {exc.start}); {fix}") from exc
        if not RELEASE_PATTERN.match(name) or not (self.path / "releases" / f"{name}.json").is_file():
            raise IntegrityError(f"{path} names {name!r}, which is not a release in {self.path / 'releases'}; "
                                 "set it to one of them with `compose rollback --to-release rNNNN`")
        return name, tag

    def release(self, name: str | None = None) -> Release:
        """A release (default: the live one), checked against its own sha256 and parsed."""
        name = name or self.current_name()
        path = self.path / "releases" / f"{name}.json"
        if not path.is_file():
            known = [release_name(n) for n in self.release_numbers()]
            raise ArtifactNotFoundError(f"release {name!r} does not exist in {self.path}; releases: {known}")
        fix = "Point CURRENT at another release with `compose rollback --to-release rNNNN`"
        data = read_json(path, fix)
        body = {k: v for k, v in data.items() if k not in ("sha256", "signature")}
        if data.get("sha256") != digest_json(body):
            raise IntegrityError(f"{path} does not match its own sha256: it was edited or corrupted; point "
                                 "CURRENT at another release with `compose rollback --to-release rNNNN`")
        if self.key is not None:
            check_signature(path, canonical_json(body), data.get("signature"), self.key)
        record = parse_record(Release, data, path, fix)
        if record.release != name:
            raise IntegrityError(f"{path} holds release {record.release!r}, not {name!r}: it was renamed. {fix}")
        return record

    def write_release(self, body: ReleaseBody, *, make_current: bool = True) -> str:
        """Write the next release (pins, schema, note) and, by default, make it live. Call under `lock()`.

        Each pin records the checksum of its version's meta.json too (`meta_sha256`).
        """
        checked: dict[str, dict[str, Any]] = {}
        for kind in KINDS:
            checked[kind] = {}
            for node, pin in body.pins(kind).items():
                folder = self.node_dir(kind, node) / version_name(pin.version)
                meta = self.meta(kind, node, pin.version) if (folder / META).is_file() else None
                if meta is None or not (folder / meta.artifact).is_file():
                    raise StoreError(f"cannot release: {kind[:-1]} {node!r} {version_name(pin.version)} "
                                     "does not exist in the store")
                checked[kind][node] = pin.model_copy(update={"meta_sha256": meta.meta_sha256}) \
                    if meta.meta_sha256 is not None else pin
        body = body.model_copy(update=checked)
        if isinstance(self.path, RemotePath):
            from compose.store.publish import publish

            return publish(self, body, make_current=make_current)
        numbers = self.release_numbers()
        name = release_name((numbers[-1] if numbers else 0) + 1)
        record = self.release_record(name, body)
        atomic_write(self.path / "releases" / f"{name}.json", json.dumps(record, indent=2))
        if make_current:
            self.set_current(name)
        return name

    def release_record(self, name: str, body: ReleaseBody) -> dict[str, Any]:
        """The record of release `name` with `body`: its date, sha256 and, with a key, signature."""
        record: dict[str, Any] = {"release": name, "created": now(), **body.body_json()}
        record["sha256"] = digest_json(record)
        if self.key is not None:
            record["signature"] = sign_bytes(self.key, canonical_json(record))
        parse_record(Release, record, self.path / "releases" / f"{name}.json", "This is a bug in compose")
        return record

    def rewrite_release(self, release: Release) -> None:
        """Write an existing release again with a fresh sha256 (and signature); `compose sign` only."""
        record: dict[str, Any] = {"release": release.release, "created": release.created, **release.body_json()}
        record["sha256"] = digest_json(record)
        if self.key is not None:
            record["signature"] = sign_bytes(self.key, canonical_json(record))
        path = self.path / "releases" / f"{release.release}.json"
        parse_record(Release, record, path, "This is a bug in compose")
        if isinstance(path, RemotePath):
            path.write_bytes(json.dumps(record, indent=2).encode("utf-8"))
        else:
            atomic_write(path, json.dumps(record, indent=2))

    def set_current(self, name: str) -> None:
        if not (self.path / "releases" / f"{name}.json").is_file():
            raise ArtifactNotFoundError(f"release {name!r} does not exist in {self.path}")
        current = self.path / "CURRENT"
        if isinstance(current, RemotePath):
            try:
                tag = self.current_tagged()[1]
            except ArtifactNotFoundError:
                tag = None
            except IntegrityError:  # a broken CURRENT is what a rollback mends: replace what is there
                tag = current.read_tagged()[1] if current.exists() else None
            if not current.replace_if(current_text(name, self.key).encode("utf-8"), tag):
                raise StoreConflictError(f"{current} was moved by another writer while it was set to {name}; "
                                         "look at `compose releases` and run again")
            return
        atomic_write(current, current_text(name, self.key))
