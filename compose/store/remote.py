"""Stores on object storage: a store named by an fsspec URL (`s3://bucket/prefix`, `memory://name`,
`gs://`, `az://`), with the few pathlib operations the store reads through, and the two conditional
writes it publishes with.

A plain path and a `file://` URL stay a local folder (`pathlib.Path`, with its renames and its lock);
every other URL becomes a `RemotePath`. On an object store nothing is renamed: a version is written
under a new key and never changed, a release is created exclusively (`If-None-Match: *`), and
CURRENT moves by compare-and-swap (`If-Match` on its ETag). On `memory://` the same two writes are
exact within the process (one lock); on other fsspec file systems they are a read, a comparison and
a write, which is exact for one writer at a time only.

fsspec is a dependency of the `[s3]` extra (s3fs), imported only when a URL is opened.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import hashlib
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any

from compose.errors import EnvironmentFault, MissingExtraError, StoreError

S3_HINT = "pip install 'compose-groups[s3]'"
_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://(.*)$")
_HINTS = {"s3": S3_HINT, "s3a": S3_HINT, "gs": "pip install gcsfs", "gcs": "pip install gcsfs",
          "az": "pip install adlfs", "abfs": "pip install adlfs"}
_MEMORY_LOCK = threading.RLock()  # memory:// is one process: its conditional writes are exact under this lock


def is_url(text: str | os.PathLike[str]) -> bool:
    """True for `s3://...`, `memory://...`, `file://...` (any `scheme://`); False for a plain path."""
    return isinstance(text, str) and _URL.match(text) is not None


def store_location(where: str | os.PathLike[str] | RemotePath) -> Path | RemotePath:
    """The store root or model folder that `where` names: a local `Path` for a plain path or a
    `file://` URL, a `RemotePath` for any other fsspec URL."""
    if isinstance(where, RemotePath | Path):
        return where
    if not isinstance(where, str) or not is_url(where):
        return Path(where)
    m = _URL.match(where)
    assert m is not None  # is_url matched it
    protocol, rest = m.group(1).lower(), m.group(2)
    if protocol == "file":
        return Path(rest or "/")
    return RemotePath(filesystem(protocol), protocol, rest.strip("/"))


def filesystem(protocol: str) -> Any:
    """The fsspec file system of `protocol`, without a listings cache (another writer's keys are seen at once)."""
    try:
        import fsspec
    except ImportError as exc:
        raise MissingExtraError(f"a store at a {protocol}:// URL needs fsspec: {_HINTS.get(protocol, S3_HINT)}") \
            from exc
    options: dict[str, Any] = {"use_listings_cache": False} if protocol in ("s3", "s3a", "gs", "gcs") else {}
    try:
        return fsspec.filesystem(protocol, **options)
    except ImportError as exc:
        raise MissingExtraError(f"a store at a {protocol}:// URL needs the {protocol} file system of fsspec, which "
                                f"is not installed: {_HINTS.get(protocol, 'install the fsspec implementation')}") \
            from exc
    except ValueError as exc:  # fsspec: "Protocol not known"
        raise StoreError(f"--store {protocol}://...: {protocol!r} is not a storage protocol fsspec knows; use a "
                         "folder, file://, s3://, gs://, az:// or memory://") from exc


def _fault(exc: Exception, where: str, doing: str) -> EnvironmentFault:
    """A storage error (no bucket, no credentials, the service out of reach) as one sentence, exit 4."""
    text = str(exc).strip() or type(exc).__name__
    return EnvironmentFault(f"{doing} {where} failed ({type(exc).__name__}: {text}); check the URL, the bucket, "
                            "the credentials (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL, ...) and the network", where,
                            getattr(exc, "errno", None))


@contextlib.contextmanager
def _storage(where: str, doing: str) -> Iterator[None]:
    """Let a missing key and an existing one through (the store handles them); any other failure is exit 4."""
    try:
        yield
    except (FileNotFoundError, FileExistsError, StoreError):
        raise
    except Exception as exc:
        raise _fault(exc, where, doing) from exc


class RemotePath:
    """One key (or prefix) of an fsspec file system, with the pathlib operations the store uses."""

    def __init__(self, fs: Any, protocol: str, key: str) -> None:
        self.fs, self.protocol, self.key = fs, protocol, key.strip("/")

    # --- naming --------------------------------------------------------------------------------

    def _fs_path(self) -> str:
        return "/" + self.key if self.protocol == "memory" else self.key

    def __str__(self) -> str:
        return f"{self.protocol}://{self.key}"

    def __repr__(self) -> str:
        return f"RemotePath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemotePath) and (self.protocol, self.key) == (other.protocol, other.key)

    def __hash__(self) -> int:
        return hash((self.protocol, self.key))

    def __truediv__(self, part: str) -> RemotePath:
        return RemotePath(self.fs, self.protocol, f"{self.key}/{part}" if self.key else part)

    @property
    def name(self) -> str:
        return PurePosixPath(self.key).name

    @property
    def stem(self) -> str:
        return PurePosixPath(self.key).stem

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.key).suffix

    @property
    def parent(self) -> RemotePath:
        return RemotePath(self.fs, self.protocol, str(PurePosixPath(self.key).parent).strip("."))

    def with_name(self, name: str) -> RemotePath:
        return self.parent / name

    # --- reading -------------------------------------------------------------------------------

    def exists(self) -> bool:
        with _storage(str(self), "reading"):
            return bool(self.fs.exists(self._fs_path()))

    def is_file(self) -> bool:
        with _storage(str(self), "reading"):
            return bool(self.fs.isfile(self._fs_path()))

    def is_dir(self) -> bool:
        with _storage(str(self), "reading"):
            return bool(self.fs.isdir(self._fs_path()))

    def iterdir(self) -> Iterator[RemotePath]:
        with _storage(str(self), "listing"):
            try:
                names = self.fs.ls(self._fs_path(), detail=False)
            except FileNotFoundError:
                names = []
        for name in sorted(names):
            base = PurePosixPath(str(name)).name
            if base:
                yield self / base

    def find(self) -> list[str]:
        """The keys under this prefix, relative to it, in one listing (no request per key)."""
        with _storage(str(self), "listing"):
            try:
                keys = self.fs.find(self._fs_path())
            except FileNotFoundError:
                return []
        base = self._fs_path().rstrip("/") + "/"
        return sorted(str(k)[len(base):] if str(k).startswith(base) else str(k).lstrip("/")[len(self.key) + 1:]
                      for k in keys)

    def glob(self, pattern: str) -> Iterator[RemotePath]:
        return (p for p in self.iterdir() if fnmatch.fnmatchcase(p.name, pattern))

    def read_bytes(self) -> bytes:
        with _storage(str(self), "reading"):
            try:
                return bytes(self.fs.cat_file(self._fs_path()))
            except FileNotFoundError as exc:
                raise FileNotFoundError(errno.ENOENT, "no such key", str(self)) from exc

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def open(self, mode: str = "rb") -> IO[bytes]:
        with _storage(str(self), "reading" if "r" in mode else "writing"):
            return self.fs.open(self._fs_path(), mode)  # type: ignore[no-any-return]

    def size(self) -> int:
        with _storage(str(self), "reading"):
            return int(self.fs.size(self._fs_path()))

    def du(self) -> int:
        """The bytes stored under this key or prefix."""
        with _storage(str(self), "listing"), contextlib.suppress(FileNotFoundError):
            return int(self.fs.du(self._fs_path()))
        return 0

    def read_tagged(self) -> tuple[bytes, str]:
        """The object's bytes and a tag that changes whenever it is written (its ETag on S3)."""
        with _storage(str(self), "reading"):
            if self.protocol in ("s3", "s3a"):
                with self.fs.open(self._fs_path(), "rb") as fh:  # the reads of an S3File carry If-Match on its ETag
                    tag = str(fh.details.get("ETag", ""))
                    return bytes(fh.read()), tag
            data = self.read_bytes()
            return data, hashlib.sha256(data).hexdigest()

    # --- writing -------------------------------------------------------------------------------

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Object stores have no folders: a prefix exists once a key is written under it."""

    def write_bytes(self, data: bytes) -> None:
        with _storage(str(self), "writing"):
            self.fs.pipe_file(self._fs_path(), data)

    def write_text(self, text: str, encoding: str = "utf-8") -> None:
        self.write_bytes(text.encode(encoding))

    def upload(self, local: Path) -> None:
        """Copy a local file to this key."""
        with _storage(str(self), "writing"):
            self.fs.put_file(str(local), self._fs_path())

    def create(self, data: bytes) -> bool:
        """Write the object only if no object has this key; False if one has (another writer's)."""
        with _storage(str(self), "writing"):
            if self.protocol == "memory":
                with _MEMORY_LOCK:
                    if self.fs.exists(self._fs_path()):
                        return False
                    self.fs.pipe_file(self._fs_path(), data)
                    return True
            try:
                self.fs.pipe_file(self._fs_path(), data, mode="create")
            except FileExistsError:
                return False
            return True

    def replace_if(self, data: bytes, tag: str | None) -> bool:
        """Compare-and-swap: write the object if its tag is still `tag` (None: if it does not exist yet);
        False when another writer changed it first."""
        if tag is None:
            return self.create(data)
        with _storage(str(self), "writing"):
            if self.protocol in ("s3", "s3a"):
                return self._replace_s3(data, tag)
            with _MEMORY_LOCK:
                try:
                    now = self.read_tagged()[1]
                except FileNotFoundError:
                    return False
                if now != tag:
                    return False
                self.fs.pipe_file(self._fs_path(), data)
                return True

    def _replace_s3(self, data: bytes, tag: str) -> bool:
        try:
            self.fs.pipe_file(self._fs_path(), data, IfMatch=tag)
        except FileNotFoundError:
            return False
        except OSError as exc:
            if _precondition_failed(exc):
                return False
            raise
        return True

    def unlink(self, missing_ok: bool = False) -> None:
        with _storage(str(self), "removing"):
            try:
                self.fs.rm_file(self._fs_path())
            except FileNotFoundError:
                if not missing_ok:
                    raise

    def rmtree(self) -> None:
        """Remove every key under this prefix (a version of an aborted run)."""
        with _storage(str(self), "removing"), contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._fs_path(), recursive=True)


def _precondition_failed(exc: OSError) -> bool:
    text = f"{exc} {exc.args}"
    return "PreconditionFailed" in text or "412" in text or "At least one of the pre-conditions" in text \
        or exc.errno == errno.EINVAL


@contextlib.contextmanager
def local_copy(path: Path | RemotePath) -> Iterator[Path]:
    """A local file holding `path`'s bytes: `path` itself when it is local, else a downloaded copy
    (removed afterwards), so the bytes checked are the bytes loaded."""
    if isinstance(path, Path):
        yield path
        return
    folder = Path(tempfile.mkdtemp(prefix="compose-"))
    try:
        target = folder / path.name
        with _storage(str(path), "reading"):
            try:
                path.fs.get_file(path._fs_path(), str(target))
            except FileNotFoundError as exc:
                raise FileNotFoundError(errno.ENOENT, "no such key", str(path)) from exc
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def current_stamp(path: Path | RemotePath) -> str | None:
    """A value that changes whenever the file is written (None when it is missing): a folder's inode,
    mtime and size; an object's ETag."""
    if isinstance(path, RemotePath):
        try:
            return path.read_tagged()[1]
        except FileNotFoundError:
            return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"


def samples_home(folder: Path | RemotePath) -> Path:
    """The local folder that holds a model's sample database: the model folder itself when it is
    local; for a store on object storage, `COMPOSE_SAMPLES` (a folder) or a folder of this user's
    cache named after the store's URL (SQLite does not run on object storage). With COMPOSE_SAMPLES
    a postgresql:// URL, the folder's name is the model's (its tables' schema is named after it)."""
    if isinstance(folder, Path):
        return folder
    named = os.environ.get("COMPOSE_SAMPLES")
    if named and not is_url(named):
        return Path(named) / folder.name
    if named and named.startswith("file://"):
        return Path(named[len("file://"):]) / folder.name
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", str(folder))
    if named and re.match(r"^postgres(ql)?(\+[a-z0-9]+)?://", named, re.IGNORECASE):
        return cache / "compose" / "samples" / slug / folder.name  # on PostgreSQL: the schema named after the model
    return cache / "compose" / "samples" / slug


#: Where a store (or one of its files) is: a local path, or a key of an object store.
StorePath = Path | RemotePath
