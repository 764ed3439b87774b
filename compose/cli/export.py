"""The `export` command (`--format onnx`); `compose.cli.main` adds it with `register`."""

from __future__ import annotations

import argparse
import sys

import compose
from compose.cli._output import EXIT_REFUSED, EXIT_USER_ERROR, Adder, emit, store_args, write_json


def cmd_export(a: argparse.Namespace) -> int:
    try:
        from compose.export.graphs import require_onnx
        from compose.export.onnx import export_onnx

        require_onnx()
    except ImportError as exc:
        sys.stderr.write(f"compose: error: {exc}\n")
        return EXIT_USER_ERROR
    try:
        report = export_onnx(a.store, a.out, model=a.model, release=a.release, tolerance=a.tolerance)
    except compose.ExportError as exc:
        sys.stderr.write(f"compose: export refused: {exc}\n")
        return EXIT_REFUSED
    for line in report.lines():
        emit(line)
    write_json(a.json, {"out": str(report.out), "release": report.release, "files": report.files,
                        "parity": report.parity, "rows": report.rows, "unchecked": report.unchecked})
    return 0


def register(add: Adder) -> None:
    sp = add("export", cmd_export,
             "export a release as ONNX graphs with a manifest, checked on the stored holdout rows")
    store_args(sp)
    sp.add_argument("--release", help="a release other than the live one")
    sp.add_argument("--format", choices=["onnx"], default="onnx", help="the export format (onnx)")
    sp.add_argument("--out", required=True, help="the folder to write (replaced if it holds an earlier export)")
    sp.add_argument("--tolerance", type=float, default=1e-5,
                    help="the largest difference from compose allowed on a feature value or probability (1e-5)")
    sp.add_argument("--json", help="write the report as JSON")
