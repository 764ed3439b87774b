"""Write the JSON Schema of the YAML format to `schemas/compose.schema.json`, for editors.

Regenerate after changing `compose.schema.models`:  python -m compose.schema.jsonschema
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from compose.schema.load import json_schema

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "schemas" / "compose.schema.json"


def render() -> str:
    """The JSON Schema as the text committed in the repository."""
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(path: str | Path = DEFAULT_PATH) -> Path:
    """Write the JSON Schema to `path` and return it."""
    target = Path(path)
    target.write_text(render(), encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = write(args[0]) if args else write()
    sys.stdout.write(f"wrote {target}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
