"""`compose monitor`: what the served releases answered per group, from the answers `serve --capture` kept."""

from __future__ import annotations

import argparse
import datetime as dt
import re

from compose.cli._output import Adder, emit, store_args, write_json

EXIT_FLAGGED = 1  # a group's drift is over its threshold: a cron job can alert on it
_AGO = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def since_time(text: str, now: dt.datetime | None = None) -> str:
    """`--since`: an ISO time (UTC when it names no zone) or an age (`90m`, `24h`, `7d`), as a UTC ISO time."""
    import compose

    m = _AGO.match(text.strip())
    if m:
        moment = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(seconds=float(m.group(1)) * _UNIT[m.group(2)])
    else:
        try:
            moment = dt.datetime.fromisoformat(text.strip())
        except ValueError as exc:
            raise compose.DataError(f"--since {text!r} is neither an ISO time (2026-05-01T12:00) nor an age "
                                    "(90m, 24h, 7d); give one of them") from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")


def cmd_monitor(a: argparse.Namespace) -> int:
    from compose.evaluation.monitoring import lines, monitor

    report = monitor(a.store, a.model, since=since_time(a.since) if a.since else None, release=a.release)
    for line in lines(report):
        emit(line)
    write_json(a.json, report)
    if a.html:
        from compose.evaluation.monitor_section import write_monitor_html

        write_monitor_html(report, a.html)
        emit(f"wrote {a.html}")
    if report["flagged"]:
        emit(f"drift flagged: {', '.join(report['flagged'])}")
        return EXIT_FLAGGED
    return 0


def register(add: Adder) -> None:
    sp = add("monitor", cmd_monitor, "what the served releases answered per group: drift against the holdout, "
                                     "confidence, abstain/review/gated-off shares, realized accuracy (exit 1 when "
                                     "a group's drift is flagged)")
    store_args(sp)
    sp.add_argument("--since", help="only answers at or after this time: ISO (2026-05-01T12:00, UTC unless a zone "
                                    "is given) or an age (90m, 24h, 7d)")
    sp.add_argument("--release", help="only the answers of this release (rNNNN)")
    sp.add_argument("--json", help="write the report as JSON to this file")
    sp.add_argument("--html", help="write the report as HTML (with plots; needs matplotlib) to this file")
