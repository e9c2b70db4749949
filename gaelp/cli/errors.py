"""The command line's one error handler: every failure is one line, `error: what, where, what to do`.

Commands raise what they raise (the project's errors, the operating system's, Arrow's, the store's);
`run` turns each into one line on stderr and an exit code, so no user ever sees a traceback for bad
input, a missing folder or a damaged file. `gaelp --debug ...` shows the traceback as well.

Exit codes: 0 success, 1 bad input data or an unusable file or store, 2 bad usage (click's own),
3 an internal error (a bug: the message asks for `--debug` and a report), 130 interrupted.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from collections.abc import Sequence

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


def _is_arrow_error(e: BaseException) -> bool:
    arrow = sys.modules.get("pyarrow")
    return arrow is not None and isinstance(e, arrow.ArrowException)


def _one_line(text: str) -> str:
    lines = [s.strip() for s in text.strip().splitlines() if s.strip()]
    return "; ".join(lines) if len(lines) <= 12 else "; ".join(lines[:12]) + "; ..."


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
