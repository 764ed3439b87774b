"""Records of the store: releases, pins and version metadata, and the rules that read them."""

from __future__ import annotations

from typing import Any


def decision_version(release: dict[str, Any], group: str) -> int | None:
    """The version of the tuned decision that `release` applies to `group`, or None (the schema's own).

    A pinned decision applies only to the head version it was tuned for.
    """
    pin = release.get("decisions", {}).get(group)
    head = release.get("groups", {}).get(group)
    if pin is None or head is None or pin.get("for_group_version") != head.get("version"):
        return None
    return int(pin["version"])
