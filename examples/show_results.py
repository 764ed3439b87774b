"""Print the first merged results of a `compose predict` JSON Lines file, one readable block per row."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(path: str, limit: int = 5) -> None:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for line in lines[:limit]:
        result = json.loads(line)
        print(f"labels: {result['labels']}  (release {result['release']})")
        for group, g in result["groups"].items():
            if "skipped" in g:
                print(f"  {group:<10} skipped: {g['skipped']}")
            elif "labels" in g:
                top = sorted(g["scores"].items(), key=lambda kv: -kv[1])[:3]
                print(f"  {group:<10} {g['labels']}  top scores {top}  v{g['version']}")
            else:
                why = f"  abstained: {g['abstained']}" if "abstained" in g else ""
                print(f"  {group:<10} {g['label']!s:<14} confidence {g['confidence']}  v{g['version']}{why}")
    print(f"({len(lines)} results in {path})")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5)
