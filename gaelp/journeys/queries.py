"""Reading the journey store: the queries the rest of the system makes, as numpy columns.

Every query returns columns with the dtypes of `schema.DTYPES`, whichever engine answers, so results
compare equal across engines. Large tables are read page by page with keyset pagination on the
primary key (no OFFSET: every page costs the same).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa

from gaelp.journeys import schema as S
from gaelp.world.population import Stage

ACTIVE_STAGES = (Stage.AWARE, Stage.CONSIDERING, Stage.INTENT)


def _plain(x: Any) -> Any:
    return x.item() if isinstance(x, np.generic) else x


class Queries:
    """Read-only queries over `self.engine` (mixed into `JourneyStore`)."""

    @property
    def engine(self) -> sa.Engine:
        """The engine to query (given by `JourneyStore`)."""
        raise NotImplementedError

    def read_columns(self, stmt: sa.Select, dtypes: dict[str, np.dtype] | None = None) -> dict[str, np.ndarray]:
        """Run `stmt`; its result as column name -> (n,) array (numeric columns in `dtypes`' types)."""
        with self.engine.connect() as conn:
            result = conn.execute(stmt)
            keys = list(result.keys())
            rows = result.all()
        dtypes = dtypes or {}
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(keys)
        out = {}
        for k, values in zip(keys, columns, strict=True):
            a = np.empty(len(values), dtype=dtypes.get(k, np.dtype(object)))
            a[:] = values  # (an object column of equal-length bytes stays one-dimensional)
            out[k] = a
        return out

    def _table_columns(self, table: sa.Table, where: Any = None, order: Sequence[sa.Column] = (),
                       limit: int | None = None) -> dict[str, np.ndarray]:
        stmt = sa.select(*table.columns)
        if where is not None:
            stmt = stmt.where(where)
        if order:
            stmt = stmt.order_by(*order)
        if limit is not None:
            stmt = stmt.limit(limit)
        return self.read_columns(stmt, S.DTYPES[table.name])

    # --- counts ----------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Rows per table."""
        with self.engine.connect() as conn:
            return {t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
                    for t in S.metadata.sorted_tables}

    def committed_days(self) -> int:
        """Days committed so far (the day a resumed campaign starts at)."""
        with self.engine.connect() as conn:
            last = conn.execute(sa.select(sa.func.max(S.days.c.day))).scalar()
        return 0 if last is None else int(last) + 1

    def advertiser_names(self) -> dict[int, str]:
        """Advertiser id -> name (0 is ours)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(S.advertisers.c.advertiser_id, S.advertisers.c.name)).all()
        return {int(a): n for a, n in rows}

    # --- people ----------------------------------------------------------------------------------
    def person(self, person_id: int) -> dict[str, Any] | None:
        """A person's attributes, journey state and devices; None if unknown."""
        pid = int(person_id)
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(S.people, S.journeys.c.stage, S.journeys.c.last_activity, S.journeys.c.converted_at,
                          S.journeys.c.day)
                .join(S.journeys, S.journeys.c.person_id == S.people.c.person_id, isouter=True)
                .where(S.people.c.person_id == pid)).mappings().first()
            if row is None:
                return None
            devs = conn.execute(sa.select(S.devices.c.device_id, S.devices.c.device_type)
                                .where(S.devices.c.person_id == pid).order_by(S.devices.c.device_id)).all()
        out = dict(row)
        out["devices"] = [(int(d), int(k)) for d, k in devs]
        return out

    def owner_of(self, device_id: int) -> int | None:
        """The person owning a device (ground truth), or None if the device is unknown."""
        with self.engine.connect() as conn:
            pid = conn.execute(sa.select(S.devices.c.person_id).where(S.devices.c.device_id == int(device_id))).scalar()
        return None if pid is None else int(pid)

    def touchpoints_of(self, person_id: int, advertiser: int | None = None) -> dict[str, np.ndarray]:
        """A person's touchpoints in time order (all advertisers, or one)."""
        tp = S.touchpoints
        where = tp.c.person_id == int(person_id)
        if advertiser is not None:
            where = where & (tp.c.advertiser == int(advertiser))
        return self._table_columns(tp, where, (tp.c.t, tp.c.key, tp.c.slot))

    def stage_history_of(self, person_id: int) -> dict[str, np.ndarray]:
        """A person's stage changes in day order."""
        sh = S.stage_history
        return self._table_columns(sh, sh.c.person_id == int(person_id), (sh.c.day,))

    def conversions_of(self, person_id: int) -> dict[str, np.ndarray]:
        """A person's purchases in time order."""
        cv = S.conversions
        return self._table_columns(cv, cv.c.person_id == int(person_id), (cv.c.t,))

    # --- journeys and conversions ----------------------------------------------------------------
    def journeys_in(self, stages: Sequence[int] = ACTIVE_STAGES, limit: int | None = None) -> dict[str, np.ndarray]:
        """Journeys whose current stage is in `stages` (default: the active ones), by person id."""
        j = S.journeys
        return self._table_columns(j, j.c.stage.in_([int(s) for s in stages]), (j.c.person_id,), limit)

    def active_journeys(self, limit: int | None = None) -> dict[str, np.ndarray]:
        """Journeys in AWARE, CONSIDERING or INTENT (LAPSED, CONVERTED and LOST ones are not active)."""
        return self.journeys_in(ACTIVE_STAGES, limit)

    def conversions_between(self, t_start: int, t_end: int, advertiser: int | None = None) -> dict[str, np.ndarray]:
        """Purchases with `t_start <= t < t_end` (hours), in time order; all advertisers or one."""
        cv = S.conversions
        where = (cv.c.t >= int(t_start)) & (cv.c.t < int(t_end))
        if advertiser is not None:
            where = where & (cv.c.advertiser == int(advertiser))
        return self._table_columns(cv, where, (cv.c.t, cv.c.person_id))

    # --- paging ----------------------------------------------------------------------------------
    def iter_rows(self, table: str, batch_size: int = 100_000,
                  columns: Sequence[str] | None = None) -> Iterator[dict[str, np.ndarray]]:
        """Every row of a table in primary-key order, `batch_size` rows at a time.

        Args:
            table: a table name (`schema.TABLE_NAMES`).
            batch_size: rows per page (>= 1).
            columns: the columns to return (default: all).

        Yields:
            column -> (<= batch_size,) arrays.
        """
        if table not in S.metadata.tables:
            raise ValueError(f"unknown table {table!r}; known: {', '.join(S.TABLE_NAMES)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        t = S.metadata.tables[table]
        pk = list(t.primary_key.columns)
        cols = [t.c[c] for c in columns] if columns else list(t.columns)
        # the key columns are read too, to know where the next page starts
        extra = [c for c in pk if c not in cols]
        stmt = sa.select(*cols, *extra).order_by(*pk).limit(batch_size)
        last: tuple | None = None
        while True:
            page_stmt = stmt if last is None else stmt.where(sa.tuple_(*pk) > sa.tuple_(*last))
            page = self.read_columns(page_stmt, S.DTYPES[table])
            n = len(next(iter(page.values())))
            if n == 0:
                return
            last = tuple(_plain(page[c.name][-1]) for c in pk)
            yield {c.name: page[c.name] for c in cols}
            if n < batch_size:
                return

    # --- summary ---------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counts, journeys by stage, and per advertiser: impressions, clicks, spend, conversions, revenue."""
        tp, cv, j = S.touchpoints, S.conversions, S.journeys
        with self.engine.connect() as conn:
            stages: dict[int, int] = dict(conn.execute(sa.select(j.c.stage, sa.func.count()).group_by(j.c.stage)).all())
            imps = {int(a): (int(n), int(c or 0), float(s or 0.0)) for a, n, c, s in conn.execute(
                sa.select(tp.c.advertiser, sa.func.count(), sa.func.sum(sa.cast(tp.c.clicked, sa.Integer)),
                          sa.func.sum(tp.c.cost)).group_by(tp.c.advertiser)).all()}
            convs = {int(a): (int(n), float(v or 0.0)) for a, n, v in conn.execute(
                sa.select(cv.c.advertiser, sa.func.count(), sa.func.sum(cv.c.value)).group_by(cv.c.advertiser)).all()}
            episodes = [dict(r) for r in conn.execute(sa.select(S.episodes).order_by(S.episodes.c.episode_id))
                        .mappings().all()]
        names = self.advertiser_names()
        by_adv = []
        for a in sorted(set(names) | set(imps) | set(convs)):
            n, c, s = imps.get(a, (0, 0, 0.0))
            k, v = convs.get(a, (0, 0.0))
            by_adv.append({"advertiser": int(a), "name": names.get(a, str(a)), "impressions": n, "clicks": c,
                           "spend": round(s, 2), "conversions": k, "revenue": round(v, 2)})
        return {
            "committed_days": self.committed_days(),
            "counts": self.counts(),
            "stages": {Stage(int(s)).name: int(n) for s, n in sorted(stages.items())},
            "advertisers": by_adv,
            "episodes": episodes,
        }
