"""The command line's one error handler: every failure is one line, `error: what, where, what to do`.

Commands raise what they raise (the project's errors, the operating system's, Arrow's, the store's);
`run` turns each into one line on stderr and an exit code, so no user ever sees a traceback for bad
input, a missing folder or a damaged file. `gaelp --debug ...` shows the traceback as well.

Exit codes: 0 success, 1 bad input data or an unusable file or store, 2 bad usage (click's own),
3 an internal error (a bug: the message asks for `--debug` and a report), 130 interrupted.
"""

from __future__ import annotations

import errno
import math
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import typer
from rich.text import Text

from gaelp.cli.render import err

EXIT_BAD_INPUT, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 1, 2, 3, 130

# What to do about an OS error, by errno.
_OS_ADVICE = {
    errno.ENOENT: "check the path; its folder must exist",
    errno.EACCES: "check its permissions, or choose another path",
    errno.EPERM: "check its permissions, or choose another path",
    errno.EISDIR: "give a file path, not a folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.ENOSPC: "free disk space, or write elsewhere",
    errno.EROFS: "the file system is read-only: write elsewhere",
    errno.ENAMETOOLONG: "use a shorter path",
}


class UserError(ValueError):
    """Bad input the user can fix; the message already says what, where and what to do."""


def say(message: str) -> None:
    """Print `error: message` on stderr; the message is plain text, never rich markup."""
    err.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True, highlight=False)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print the error and return the `typer.Exit` to raise."""
    say(message)
    return typer.Exit(code)


def describe(e: BaseException) -> tuple[str, int]:
    """One line for an exception, and the exit code."""
    from gaelp.config import ConfigError
    from gaelp.journeys.engines import StoreError

    if isinstance(e, UserError | ConfigError | StoreError) or (isinstance(e, ValueError) and _raised_by_gaelp(e)):
        return _one_line(str(e)), EXIT_BAD_INPUT
    if isinstance(e, UnicodeDecodeError):
        bad = e.object[e.start:e.start + 1].hex() if isinstance(e.object, bytes) else "?"
        return (f"a file is not UTF-8 text (byte 0x{bad} at offset {e.start}); save it as UTF-8",
                EXIT_BAD_INPUT)
    if isinstance(e, OSError):
        where = " -> ".join(str(f) for f in (e.filename, e.filename2) if f is not None)
        what = e.strerror or str(e) or type(e).__name__
        advice = _OS_ADVICE.get(e.errno or 0, "check the path and its permissions")
        return f"{what}{': ' + where if where else ''}; {advice}", EXIT_BAD_INPUT
    if isinstance(e, MemoryError):
        return ("out of memory; use a smaller input (fewer people, days or rows), or a machine with more memory",
                EXIT_BAD_INPUT)
    if _is_database_error(e):
        orig = getattr(e, "orig", None) or e
        return (f"the journey store failed: {_one_line(str(orig).split('[SQL:')[0])}; if it is damaged, move "
                "it away and start a new store, or restore it from a copy"), EXIT_BAD_INPUT
    if _is_arrow_error(e):
        return f"cannot read the data: {_one_line(str(e))}; check the file's column types", EXIT_BAD_INPUT
    if isinstance(e, KeyboardInterrupt):
        return "interrupted", EXIT_INTERRUPTED
    internal = (f"internal error ({type(e).__name__}: {_one_line(str(e))}); this is a bug: rerun with "
                "`gaelp --debug ...` and report the traceback")
    return internal, EXIT_INTERNAL


def _raised_by_gaelp(e: BaseException) -> bool:
    """Whether `e` was raised in the project's own code (its ValueErrors name a bad argument or input),
    not in a library below it (where a ValueError means the project passed something it should not)."""
    from gaelp.jsonout import NonFiniteOutputError

    if isinstance(e, NonFiniteOutputError):
        return False
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and f"{os.sep}gaelp{os.sep}" in tb.tb_frame.f_code.co_filename


def _is_database_error(e: BaseException) -> bool:
    """A database driver's error (through SQLAlchemy or raw), i.e. a store that cannot be read."""
    kinds = [getattr(sys.modules.get(m), n, None) for m, n in
             (("sqlalchemy.exc", "DBAPIError"), ("duckdb", "Error"), ("sqlite3", "DatabaseError"))]
    return any(k is not None and isinstance(e, k) for k in kinds)


def _is_arrow_error(e: BaseException) -> bool:
    arrow = sys.modules.get("pyarrow")
    return arrow is not None and isinstance(e, arrow.ArrowException)


def _one_line(text: str) -> str:
    lines = [s.strip() for s in text.strip().splitlines() if s.strip()]
    return "; ".join(lines) if len(lines) <= 12 else "; ".join(lines[:12]) + "; ..."


def finite(value: float | None) -> float | None:
    """Typer callback for float options: NaN and infinities are not numbers a flag can take."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number, got {value}")
    return value


def positive(value: float | None) -> float | None:
    """Typer callback: a finite number > 0 (a half-life or a window of 0 days means nothing)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"must be a finite number > 0, got {value}")
    return value


def writable(path: Path | None) -> Path | None:
    """Typer callback for output paths: refuse a folder, a missing folder or an unwritable place up
    front, before a long run whose result would then be lost."""
    if path is None:
        return None
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a folder; give a file path")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise typer.BadParameter(f"folder {parent} does not exist; create it first")
    if path.exists() and not os.access(path, os.W_OK) or not path.exists() and not os.access(parent, os.W_OK):
        raise typer.BadParameter(f"{path} is not writable; check its permissions or choose another path")
    return path


# Memory of a simulated world: measured peak RSS of `gaelp bench` (166 MB at 10^5 people, 554 MB at
# 10^6: ~430 bytes a person over ~160 MB of code and libraries), with a margin of 1.5 for the
# larger daily arrays of bigger worlds. An estimate, not a bound.
_BASE_MB, _BYTES_PER_PERSON, _MARGIN = 160.0, 430.0, 1.5


def check_memory(users: int, copies: int = 1) -> None:
    """Refuse up front a world that cannot fit in the memory available (Linux: MemAvailable).

    Args:
        users: People in the world.
        copies: Worlds held at once (e.g. replays).
    """
    need_mb = _BASE_MB + _MARGIN * _BYTES_PER_PERSON * users * copies / 2**20
    have_mb = available_memory_mb()
    if have_mb is not None and need_mb > have_mb:
        raise UserError(f"{users:,} people need about {need_mb / 1024:,.1f} GB of memory (estimate), and "
                        f"{have_mb / 1024:,.1f} GB are available; use fewer people (--users), or a machine "
                        "with more memory")


def available_memory_mb() -> float | None:
    """Memory available to a new allocation, in MB (None where the OS does not say)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def debug_requested(args: Sequence[str]) -> bool:
    """Whether `--debug` comes before the command (it is a global option)."""
    for a in args:
        if a == "--debug":
            return True
        if not a.startswith("-"):
            return False
    return False


def run(app: typer.Typer, args: Sequence[str] | None = None) -> int:
    """Run the app on `args` (default: the command line) and return the exit code.

    Click's own usage errors keep their message and code 2; anything raised past a command becomes
    one line (see `describe`), with the traceback too under `--debug`.
    """
    argv = list(sys.argv[1:] if args is None else args)
    try:
        app(args=argv, prog_name="gaelp")
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_BAD_INPUT)
    except BaseException as e:  # noqa: BLE001 - the one place that turns every error into a line
        message, code = describe(e)
        if debug_requested(argv):
            traceback.print_exc()
        say(message)
        return code
    return 0
