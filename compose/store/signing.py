"""Checksums and HMAC-SHA256 signatures of the store's records (meta.json, releases, CURRENT).

Without a key every meta.json carries `meta_sha256`, a checksum of its own content, and the release
that pins a version carries that checksum too: an edit of labels, metrics or spec is detected.
A checksum stops accidents and careless edits, not a writer, who can recompute it.

With a key (`COMPOSE_SIGNING_KEY`, or `--key-file` on the command line), every record also carries
`signature`: an HMAC-SHA256 of the same canonical bytes, and CURRENT a second line with the HMAC of
the release it names. A reader with the key refuses a record that is unsigned or wrongly signed,
naming the file, before any artifact is unpickled: a planted pickle whose sha256 was recomputed into
meta.json and the release fails at meta.json's signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from compose.errors import IntegrityError, StoreError
from compose.store.remote import StorePath

ENV_KEY = "COMPOSE_SIGNING_KEY"
#: Passed as `key`: read without checking signatures, whatever the environment holds (`compose sign`).
NO_KEY = b""
SCHEME = "hmac-sha256"
#: Fields of a record that its checksum and signature do not cover (they are computed over the rest).
UNSIGNED_FIELDS = ("meta_sha256", "signature")


def signing_key(key: str | bytes | None = None) -> bytes | None:
    """The key to sign and check with: `key` if given, else `COMPOSE_SIGNING_KEY`, else None (unsigned).

    `NO_KEY` (empty) means no key even when the environment holds one.
    """
    if key is not None and not key:
        return None
    if key is None:
        key = os.environ.get(ENV_KEY) or None
    if key is None:
        return None
    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if len(raw) < 16:
        raise StoreError(f"the signing key is {len(raw)} bytes long; use at least 16 random bytes "
                         "(for example: python -c 'import secrets; print(secrets.token_hex(32))')")
    return raw


def read_key_file(path: str | Path) -> bytes:
    """The key held in a file (surrounding whitespace removed)."""
    p = Path(path)
    try:
        raw = p.read_bytes().strip()
    except OSError as exc:
        raise StoreError(f"--key-file {p}: cannot read the signing key ({exc.strerror or exc})") from exc
    if not raw:
        raise StoreError(f"--key-file {p} is empty; put the signing key in it")
    return raw


def canonical(record: dict[str, Any]) -> bytes:
    """The bytes a checksum and a signature cover: the record without them, as sorted JSON."""
    body = {k: v for k, v in record.items() if k not in UNSIGNED_FIELDS}
    return json.dumps(body, sort_keys=True, default=str).encode("utf-8")


def checksum(record: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def sign_bytes(key: bytes, data: bytes) -> str:
    return f"{SCHEME}:{hmac.new(key, data, hashlib.sha256).hexdigest()}"


def seal(record: dict[str, Any], key: bytes | None) -> dict[str, Any]:
    """The record with its checksum and, with a key, its signature (both over the same bytes).

    The record is first passed through JSON, so the bytes covered are those a reader parses back.
    """
    plain = json.loads(json.dumps(record, default=str))
    out = {k: v for k, v in plain.items() if k not in UNSIGNED_FIELDS}
    out["meta_sha256"] = checksum(out)
    if key is not None:
        out["signature"] = sign_bytes(key, canonical(out))
    return out


def check_signature(path: StorePath, data: bytes, signature: Any, key: bytes) -> None:
    """Refuse `path` unless `signature` is the HMAC of `data` under `key`."""
    if not isinstance(signature, str) or not signature:
        raise IntegrityError(f"{path} is not signed, and this store is read with a signing key: it was written "
                             "without the key or changed by someone who does not hold it; it will not be used. "
                             "Sign the store with `compose sign --store DIR` if you trust its content")
    if not hmac.compare_digest(signature, sign_bytes(key, data)):
        raise IntegrityError(f"{path} has a wrong signature: it was changed after it was signed, or signed with "
                             "another key; it will not be used")


def check_record(path: StorePath, record: dict[str, Any], key: bytes | None) -> None:
    """Check a meta.json record: its own checksum (when it has one) and, with a key, its signature."""
    wanted = record.get("meta_sha256")
    if wanted is not None and wanted != checksum(record):
        raise IntegrityError(f"{path} does not match its own checksum (meta_sha256): its content (labels, metrics, "
                             "spec, sha256s) was edited after it was written; retrain or roll back to another version")
    if key is not None:
        check_signature(path, canonical(record), record.get("signature"), key)


def current_text(name: str, key: bytes | None) -> str:
    """The content of CURRENT: the release's name and, with a key, a signature line."""
    if key is None:
        return name + "\n"
    return f"{name}\n{sign_bytes(key, name.encode('utf-8'))}\n"


def read_current(path: StorePath, text: str, key: bytes | None) -> str:
    """The release name in CURRENT, its signature checked when there is a key."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    name = lines[0] if lines else ""
    if key is not None:
        check_signature(path, name.encode("utf-8"), lines[1] if len(lines) > 1 else None, key)
    return name
