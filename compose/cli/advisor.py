"""The `suggest`, `check` and `convert` commands; `compose.cli.main` adds them with `register`."""

from __future__ import annotations

import argparse
import logging

import compose
from compose._defaults import DEFAULT_TOLERANCE, IMPLICATION, MIN_EXAMPLES, MIN_SUPPORT
from compose.cli._output import Adder, emit, write_json

EXIT_FINDINGS = 1
log = logging.getLogger("compose")


def cmd_suggest(a: argparse.Namespace) -> int:
    s = compose.suggest(a.data, a.tags, tolerance=a.tolerance, min_support=a.min_support,
                        implication=a.implication)
    for line in s.table():
        emit(line)
    text = s.draft(a.name)
    if a.out:
        from compose.data.io import atomic_write

        out = atomic_write(a.out, text)
        emit(f"\nwrote the draft schema to {out}")
    else:
        emit("")
        emit(text.rstrip("\n"))
    if a.data_out:
        schema = compose.parse_schema(text, source=a.out or "<draft>")
        converted = compose.convert(schema, s.frame, tags=a.tags)
        compose.write_table(converted, a.data_out)
        emit(f"wrote {a.data_out}: one column per group, ready for "
               f"`compose train {a.out or 'draft.yaml'} --data {a.data_out} --store models`")
    return 0


def cmd_check(a: argparse.Namespace) -> int:
    report = compose.check(compose.load_schema(a.schema), a.data, tags=a.tags, min_examples=a.min_examples)
    for line in report.lines():
        emit(line)
    write_json(a.json, report.to_json())
    return 0 if report.ok else EXIT_FINDINGS


def cmd_convert(a: argparse.Namespace) -> int:
    schema = compose.load_schema(a.schema)
    if a.to_flat:
        frame = compose.to_flat(schema, a.data, tags=a.tags)
        compose.write_table(frame, a.out)
        emit(f"wrote {a.out}: {len(frame)} rows, group columns joined into {a.tags!r}")
        return 0
    frame = compose.convert(schema, a.data, tags=a.tags)
    compose.write_table(frame, a.out)
    emit(f"wrote {a.out}: {len(frame)} rows, one column per group ({', '.join(schema.groups)})")
    for group, n in frame.attrs.get("conflicts", {}).items():
        log.warning("group %r: %d rows hold two of its labels; their %r cell is left empty (not annotated)",
                    group, n, group)
    return 0


def register(add: Adder) -> None:
    """Add the advisor's subcommands through `add(name, handler, help)` of compose.cli.main."""
    sp = add("suggest", cmd_suggest, "propose label groups (and a draft schema) from a flat tag column")
    sp.add_argument("data", help="CSV, JSON Lines or Parquet with a flat tag column")
    sp.add_argument("--tags", required=True, help="the column holding the tags (a|b or a JSON list)")
    sp.add_argument("--out", help="write the draft schema here (default: print it)")
    sp.add_argument("--data-out", help="also write the data converted to one column per group")
    sp.add_argument("--name", help="the schema's name (default: from the file name)")
    sp.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                    help="co-occurrences in up to this share of the rarer label's rows are taken as noise, "
                         f"not as a sign that two labels belong to different groups (default {DEFAULT_TOLERANCE})")
    sp.add_argument("--min-support", type=int, default=MIN_SUPPORT,
                    help=f"rows a label needs before its implications are reported (default {MIN_SUPPORT})")
    sp.add_argument("--implication", type=float, default=IMPLICATION,
                    help=f"P(B|A) from which A => B is an implication (default {IMPLICATION})")
    sp = add("check", cmd_check, "check a data set against a schema: exclusivity, undeclared labels, "
                                 "coverage, balance, rare labels, unlabelled rows")
    sp.add_argument("--schema", required=True)
    sp.add_argument("--data", required=True)
    sp.add_argument("--tags", help="read the labels from this flat tag column instead of one column per group")
    sp.add_argument("--min-examples", type=int, default=MIN_EXAMPLES,
                    help=f"warn about labels with fewer rows (default {MIN_EXAMPLES})")
    sp.add_argument("--json", help="write the findings as JSON")
    sp = add("convert", cmd_convert, "split a flat tag column into one column per group (or join them back)")
    sp.add_argument("--schema", required=True)
    sp.add_argument("--data", required=True)
    sp.add_argument("--out", required=True, help="the converted file (.csv, .jsonl or .parquet)")
    sp.add_argument("--tags", default="tags", help="the flat tag column (default 'tags')")
    sp.add_argument("--to-flat", action="store_true", help="join the group columns into the tag column instead")
