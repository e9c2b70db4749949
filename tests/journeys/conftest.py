"""Fixtures: a fresh store of every engine, small seeded worlds, and the PostgreSQL skip notice.

PostgreSQL tests run against the server in GAELP_TEST_PG_URL (scripts/pg.sh starts a throwaway one;
`make test` does it for you); each test gets its own schema there. Without it they skip, loudly: a
pytest warning, the skip reason in the short summary, and a line at the end of the run.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from gaelp.config import Config, load_config

ENGINES = ("duckdb", "sqlite", "postgresql")
PG_ENV = "GAELP_TEST_PG_URL"
PG_MISSING = (f"{PG_ENV} is unset: the journey-store tests against PostgreSQL are SKIPPED; run `make test` "
              f"(or eval \"$(scripts/pg.sh start)\" first) to run them against a throwaway server")
_warned: list[bool] = []

StoreFactory = Callable[..., str]


def pg_url() -> str | None:
    """The test server's URL, or None."""
    return os.environ.get(PG_ENV) or None


def skip_without_pg() -> None:
    """Skip the calling test, loudly, when there is no PostgreSQL."""
    if pg_url() is None:
        if not _warned:
            warnings.warn(PG_MISSING, pytest.PytestWarning, stacklevel=2)
            _warned.append(True)
        pytest.skip(PG_MISSING)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each store engine in turn (PostgreSQL only with a test server)."""
    if request.param == "postgresql":
        skip_without_pg()
    return request.param


class StoreMaker:
    """Makes URLs of new, empty stores of one engine; `cleanup` drops the PostgreSQL schemas."""

    def __init__(self, engine: str, folder) -> None:
        self.engine, self.folder = engine, folder
        self.schemas: list[str] = []
        self.admin = sa.create_engine(pg_url()) if engine == "postgresql" else None

    def __call__(self, name: str = "store") -> str:
        if self.admin is None:
            return f"{self.engine}:///{self.folder / name}.{self.engine}"
        schema = f"gaelp_test_{uuid.uuid4().hex[:12]}"
        with self.admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        self.schemas.append(schema)
        return with_schema(pg_url(), schema)

    def cleanup(self) -> None:
        if self.admin is not None:
            with self.admin.begin() as conn:
                for schema in self.schemas:
                    conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            self.admin.dispose()


@pytest.fixture
def new_store(engine: str, tmp_path) -> Iterator[StoreFactory]:
    """Factory: `new_store(name="store")` -> the URL of a new, empty store of `engine`."""
    maker = StoreMaker(engine, tmp_path)
    yield maker
    maker.cleanup()


def with_schema(url: str, schema: str) -> str:
    """A PostgreSQL URL whose sessions work in `schema`."""
    u = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return u.render_as_string(hide_password=False)


@pytest.fixture
def small_cfg() -> Config:
    """A small, seeded world: 400 people, a 30-day campaign."""
    return load_config(users=400, days=30, seed=11)
