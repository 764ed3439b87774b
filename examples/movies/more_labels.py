"""Write the file a second annotation round for one group would deliver: the inputs and that group's column.

    python examples/movies/more_labels.py mpaa more_mpaa_labels.csv [--data examples/movies/movies.csv.gz]

It keeps the rows labelled for the group, and the columns of the groups its `when` reads (mpaa is
applied to English films, so the file carries `language` too). Here the labels are the shipped
ones: a stand-in for new annotations, so `compose retrain --group mpaa --data more_mpaa_labels.csv`
runs the whole gated retrain on real rows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import compose

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("group")
    ap.add_argument("out")
    ap.add_argument("--schema", default=str(ROOT / "schemas" / "movies.yaml"))
    ap.add_argument("--data", default=str(ROOT / "examples" / "movies" / "movies.csv.gz"))
    args = ap.parse_args()
    schema = compose.load_schema(args.schema)
    if args.group not in schema.groups:
        raise SystemExit(f"unknown group {args.group!r}; the schema declares {list(schema.groups)}")
    df = compose.read_table(args.data)
    gates = list(schema.groups[args.group].when or {})
    rows = df[df[args.group].notna()][[*[c for c in schema.inputs if c in df.columns], *gates, args.group]]
    compose.write_table(rows, args.out)
    print(f"wrote {len(rows)} rows labelled for {args.group} ({', '.join(rows.columns)}) to {args.out}")


if __name__ == "__main__":
    main()
