"""The project fuzzes itself: the real entry points on N generated malformed inputs each.

For each entry point, hypothesis draws N inputs (`tests/fuzz/strategies.py`: event logs, path tables,
click logs, config files), writes each to a file, runs the command in this process through
`gaelp.cli.run` (the same handler as the `gaelp` script) and counts the outcome:

* ok: exit 0, and any JSON output is strict JSON;
* clean error: exit 1 or 2 with a one-line `error: ...` (or click's usage message), no traceback;
* traceback: a traceback printed, or exit 3 (an internal error: a bug);
* hang: no answer within `--timeout` seconds;
* non-finite output: NaN or Infinity in the JSON;
* rows not conserved: with --skip-bad, good + rejected rows differ from the rows written.

Inputs are derandomized (the same N gives the same inputs). Cases of the bad classes are saved in
`--save` for replay. Run as ``python -m benchmarks.fuzz --n 1000 [--only attribute-events]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from gaelp.cli import run
from tests.fuzz.strategies import Case, click_logs, config_files, event_logs, path_tables

OUTCOMES = ("ok", "clean error", "traceback", "hang", "non-finite output", "rows not conserved")
BAD = ("traceback", "hang", "non-finite output", "rows not conserved")


class _Hang(BaseException):
    """Raised by the alarm: the command took too long."""


@dataclass(frozen=True)
class EntryPoint:
    """A command under test: its input strategy, its arguments, and how to count its good rows."""

    strategy: st.SearchStrategy[Case]
    args: Callable[[Path, Path], list[str]]
    json_out: bool
    kept: Callable[[Path, str, Path], int | None] | None = None  # good + rejected rows, None: not checked


def _events_kept(path: Path, _out: str, rejects: Path) -> int | None:
    from gaelp.attribution.event_log import parse_events
    from gaelp.attribution.files import read_table

    parsed = parse_events(read_table(path), skip_bad=True)
    return len(parsed.events.row) + _csv_rows(rejects)


def _paths_kept(path: Path, _out: str, rejects: Path) -> int | None:
    from gaelp.attribution.files import read_table
    from gaelp.attribution.tables import parse_path_table

    return parse_path_table(read_table(path), skip_bad=True).paths.n_paths + _csv_rows(rejects)


def _ingest_kept(_path: Path, out: str, _rejects: Path) -> int | None:
    doc = json.loads(out)
    return doc["new"] + doc["already_stored"] + doc["rejected"]


def _csv_rows(path: Path) -> int:
    import pandas as pd

    return len(pd.read_csv(path)) if path.exists() and path.stat().st_size else 0


def entry_points(work: Path) -> dict[str, EntryPoint]:
    """The commands fuzzed; `work` holds their stores."""
    store = f"duckdb:///{work / 'ingest.duckdb'}"
    return {
        "attribute-events": EntryPoint(event_logs(), lambda f, r: ["attribute", str(f), "--json", "--skip-bad",
                                                                   "--rejects", str(r)], True, _events_kept),
        "attribute-paths": EntryPoint(path_tables(), lambda f, r: ["attribute", str(f), "--format", "paths",
                                                                   "--json", "--skip-bad", "--rejects", str(r)],
                                      True, _paths_kept),
        "lag-fit": EntryPoint(click_logs(), lambda f, _r: ["lag", "fit", str(f), "--group", "channel", "--json"],
                              True),
        "config-show": EntryPoint(config_files(), lambda f, _r: ["config", "show", "--config", str(f)], False),
        "ingest": EntryPoint(event_logs(), lambda f, r: ["ingest", str(f), "--store", store, "--skip-bad",
                                                         "--rejects", str(r), "--json"], True, _ingest_kept),
    }


def _strict(text: str) -> bool:
    def refuse(constant: str) -> float:
        raise ValueError(constant)

    try:
        json.loads(text, parse_constant=refuse)
    except ValueError:
        return False
    return True


def run_case(ep: EntryPoint, case: Case, work: Path, timeout_s: float) -> tuple[str, str]:
    """Run one input; returns (outcome, the command's stderr)."""
    path = work / f"input{case.suffix}"
    rejects = work / "rejects.csv"
    rejects.unlink(missing_ok=True)
    path.write_bytes(case.data)
    out, err = io.StringIO(), io.StringIO()
    hung = []

    def alarm(_signum, _frame) -> None:
        hung.append(True)
        raise _Hang

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(ep.args(path, rejects))
    except _Hang:
        code = -1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    text = err.getvalue()
    if hung:
        return "hang", text
    if "Traceback" in text or code not in (0, 1, 2):
        return "traceback", text
    if code != 0:
        return "clean error", text
    if ep.json_out and not _strict(out.getvalue()):
        return "non-finite output", out.getvalue()
    if ep.kept is not None and case.rows >= 0:
        kept = ep.kept(path, out.getvalue(), rejects)
        if kept is not None and kept != case.rows:
            return "rows not conserved", f"{kept} rows kept or rejected of {case.rows}"
    return "ok", text


def fuzz(name: str, ep: EntryPoint, n: int, work: Path, timeout_s: float, save: Path | None) -> Counter:
    """Run `ep` on `n` derandomized inputs; count the outcomes."""
    counts: Counter = Counter()

    @settings(max_examples=n, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(ep.strategy)
    def one(case: Case) -> None:
        outcome, detail = run_case(ep, case, work, timeout_s)
        counts[outcome] += 1
        if outcome in BAD and save is not None:
            save.mkdir(parents=True, exist_ok=True)
            k = sum(counts[b] for b in BAD)
            (save / f"{name}-{k}{case.suffix}").write_bytes(case.data)
            (save / f"{name}-{k}.txt").write_text(detail)

    one()
    return counts


def main(argv: list[str] | None = None) -> int:
    """Fuzz every entry point; print the table of outcomes; exit 1 if any bad outcome."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.fuzz", description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="inputs per entry point")
    ap.add_argument("--only", action="append", help="entry point(s) to fuzz (default: all)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds before a run counts as a hang")
    ap.add_argument("--save", type=Path, default=None, help="folder for the inputs of bad outcomes")
    args = ap.parse_args(argv)
    rows = {}
    with tempfile.TemporaryDirectory(prefix="gaelp-fuzz-") as tmp:
        eps = entry_points(Path(tmp))
        for name in args.only or list(eps):
            start = time.perf_counter()
            rows[name] = fuzz(name, eps[name], args.n, Path(tmp), args.timeout, args.save)
            rows[name]["seconds"] = round(time.perf_counter() - start)
            print(f"{name}: {dict(rows[name])}", file=sys.stderr, flush=True)  # progress of a long run
    print("| entry point | runs | " + " | ".join(OUTCOMES) + " | seconds |")
    print("| --- " * (len(OUTCOMES) + 3) + "|")
    for name, c in rows.items():
        runs = sum(c[o] for o in OUTCOMES)
        print(f"| {name} | {runs:,} | " + " | ".join(f"{c[o]:,}" for o in OUTCOMES) + f" | {c['seconds']} |")
    return int(any(c[b] for c in rows.values() for b in BAD))


if __name__ == "__main__":
    sys.exit(main())
