"""Damaged stores: a resume refuses them before writing; reading them gives one clean line."""

from __future__ import annotations

from pathlib import Path

import pytest

from gaelp.cli import run
from gaelp.journeys import store as store_module


def gaelp(capsys, *args: str) -> tuple[int, str]:
    code = run(list(args))
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> dict[str, bytes]:
    """The bytes of a 2-day, 300-person store on each embedded engine."""
    out = {}
    for engine in ("duckdb", "sqlite"):
        path = tmp_path_factory.mktemp(engine) / f"j.{engine}"
        assert run(["simulate", "--users", "300", "--days", "2", "--store", f"{engine}:///{path}", "--json"]) == 0
        out[engine] = path.read_bytes()
    return out


@pytest.mark.parametrize("cut", [0.02, 0.08, 0.3])
def test_a_truncated_duckdb_store_is_refused_by_resume_and_left_as_it_was(capsys, tmp_path: Path, stored,
                                                                         cut: float) -> None:
    path = tmp_path / "j.duckdb"
    data = stored["duckdb"][: int(len(stored["duckdb"]) * (1 - cut))]
    path.write_bytes(data)
    code, err = gaelp(capsys, "simulate", "--users", "300", "--days", "1", "--store", f"duckdb:///{path}",
                      "--resume", "--json")
    assert code == 1 and err.startswith("error: journey store") and "damaged" in err or "truncated" in err, err
    assert path.read_bytes() == data
    for command in (("journeys", "stats"), ("journeys", "show", "--person", "3")):
        code, err = gaelp(capsys, *command, "--store", f"duckdb:///{path}")
        assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_an_overwritten_sqlite_store_is_refused_by_resume(capsys, tmp_path: Path, stored) -> None:
    path = tmp_path / "j.sqlite"
    data = bytearray(stored["sqlite"])
    page = 4096 * 3  # the header of a b-tree page (SQLite's default page size is 4 KiB)
    data[page:page + 64] = b"\xa5" * 64
    path.write_bytes(bytes(data))
    code, err = gaelp(capsys, "simulate", "--users", "300", "--days", "1", "--store", f"sqlite:///{path}",
                      "--resume", "--json")
    assert code == 1 and "journey store" in err and "Traceback" not in err, err
    assert path.read_bytes() == bytes(data)


def test_a_whole_store_still_resumes(capsys, tmp_path: Path, stored) -> None:
    path = tmp_path / "j.duckdb"
    path.write_bytes(stored["duckdb"])
    code, err = gaelp(capsys, "simulate", "--users", "300", "--days", "1", "--store", f"duckdb:///{path}",
                      "--resume", "--json")
    assert code == 0, err


@pytest.mark.parametrize(("message", "lock"), [
    ('IO Error: Could not set lock on file "j.duckdb": Conflicting lock is held', True),
    ("database is locked", True),
    ("IO Error: Corrupt database file: computed checksum 123 does not match stored checksum 456 in block 9", False),
    ("file is not a database", False),
])
def test_a_lock_and_a_damaged_file_are_told_apart(message: str, lock: bool) -> None:
    is_lock = bool(store_module._LOCK_MESSAGE.search(message)) and not store_module._DAMAGE_MESSAGE.search(message)
    assert is_lock == lock
