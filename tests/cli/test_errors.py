"""The one error handler: every class of failure is one line, a non-zero exit, and no traceback."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest

from gaelp.cli import errors, run

LOG = (
    "event_id,timestamp,user_id,channel,event_type,cost,value\n"
    "e1,2024-05-01T10:00:00Z,u1,[/],click,1,\n"
    "e2,2024-05-02T10:00:00Z,u1,,conversion,,120\n"
    "e3,2024-05-02T10:00:00Z,u2,[bold]x,click,1,\n"
    "e4,2024-05-03T10:00:00Z,u2,,conversion,,80\n"
)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "ev.csv"
    path.write_text(LOG)
    return path


def gaelp(capsys, *args: str | Path) -> tuple[int, str, str]:
    code = run([str(a) for a in args])
    out = capsys.readouterr()
    # usage errors come in a box that wraps lines: compare words
    return code, out.out, " ".join(out.err.replace("│", " ").split()) if code == 2 else out.err


def assert_one_clean_line(err: str) -> None:
    lines = [s for s in err.splitlines() if s.strip()]
    assert lines and lines[-1].startswith("error: ") and "Traceback" not in err, err


@pytest.mark.parametrize(("exc", "words"), [
    (PermissionError(errno.EACCES, "Permission denied", "/x/y"), ("Permission denied: /x/y", "permissions")),
    (IsADirectoryError(errno.EISDIR, "Is a directory", "/tmp"), ("/tmp", "not a folder")),
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "/no/f"), ("/no/f", "folder must exist")),
    (UnicodeDecodeError("utf-8", b"ab\xff", 2, 3, "bad"),
     ("not UTF-8", "0xff", "offset 2")),
    (MemoryError(), ("out of memory", "fewer")),
])
def test_os_and_decode_errors_become_what_where_and_what_to_do(exc: BaseException, words: tuple[str, ...]) -> None:
    message, code = errors.describe(exc)
    assert code == errors.EXIT_BAD_INPUT and "\n" not in message
    for w in words:
        assert w in message


def test_user_text_is_never_markup(capsys, log: Path) -> None:
    code, out, err = gaelp(capsys, "attribute", log, "--model", "last_click")
    assert code == 0, err
    assert "[/]" in out and "[bold]x" in out


@pytest.mark.parametrize("flag", ["--out", "--rejects"])
def test_output_to_a_folder_or_a_missing_folder_is_refused_up_front(capsys, log: Path, tmp_path: Path,
                                                                     flag: str) -> None:
    for target, words in ((tmp_path, "is a folder"), (tmp_path / "no" / "x.csv", "does not exist")):
        code, _, err = gaelp(capsys, "attribute", log, "--skip-bad", flag, target)
        assert code == 2 and words in err


@pytest.mark.parametrize("args", [
    ("attribute", "LOG", "--half-life", "0"),
    ("attribute", "LOG", "--window", "nan"),
    ("intel", "--spread", "inf"),
    ("intel", "--spread", "nan"),
])
def test_numbers_a_flag_cannot_take_are_usage_errors(capsys, log: Path, args: tuple[str, ...]) -> None:
    code, _, err = gaelp(capsys, *(log if a == "LOG" else a for a in args))
    assert code == 2 and "Invalid value for" in err and "Traceback" not in err, err


def test_a_bug_is_one_line_and_debug_shows_the_traceback(capsys, log: Path, monkeypatch) -> None:
    from gaelp.cli import attribute

    def broken(_path):
        raise RuntimeError("boom")

    monkeypatch.setattr(attribute, "read_table", broken)
    code, _, err = gaelp(capsys, "attribute", log)
    assert code == errors.EXIT_INTERNAL and "internal error (RuntimeError: boom)" in err
    assert_one_clean_line(err)
    code, _, err = gaelp(capsys, "--debug", "attribute", log)
    assert code == errors.EXIT_INTERNAL and "Traceback" in err


def test_a_config_file_that_is_not_utf8_is_named(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "c.toml"
    bad.write_bytes(b"users = 10 # caf\xe9\n")
    for command in (("config", "show"), ("simulate", "--days", "1")):
        code, _, err = gaelp(capsys, *command, "--config", bad)
        assert code == 2 and f"{bad} is not UTF-8" in err and "0xe9" in err
        assert_one_clean_line(err)


def test_a_world_too_big_for_memory_is_refused_with_the_estimate(capsys, monkeypatch) -> None:
    monkeypatch.setattr(errors, "available_memory_mb", lambda: 4096.0)
    code, _, err = gaelp(capsys, "simulate", "--users", "100000000", "--days", "1")
    assert code == 1 and "GB of memory (estimate)" in err and "4.0 GB are available" in err
    assert_one_clean_line(err)


def test_a_file_that_is_not_a_rivals_state_is_refused_and_left_alone(capsys, tmp_path: Path) -> None:
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.arange(3))
    before = other.read_bytes()
    code, _, err = gaelp(capsys, "competitors", "--shock", "1", "--days", "2", "--users", "300",
                         "--state", other, "--json")
    assert code == 2 and "is not a rivals' state" in err
    assert other.read_bytes() == before
    truncated = tmp_path / "cut.npz"
    truncated.write_bytes(before[: len(before) // 2])
    code, _, err = gaelp(capsys, "competitors", "--shock", "1", "--days", "2", "--users", "300",
                         "--state", truncated, "--json")
    assert code == 2 and "not a readable rivals' state" in err
    assert_one_clean_line(err)


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_resuming_nothing_is_an_error(capsys, tmp_path: Path, make: str) -> None:
    store = tmp_path / "j.duckdb"
    if make == "empty":
        store.write_bytes(b"")
    code, _, err = gaelp(capsys, "simulate", "--users", "200", "--days", "1", "--store", f"duckdb:///{store}",
                         "--resume", "--json")
    assert code == 1 and ("does not exist" in err or "is empty" in err), err
    assert (store.exists() and store.stat().st_size == 0) if make == "empty" else not store.exists()
