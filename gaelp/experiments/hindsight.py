"""The hindsight choice of `oracle_lp`'s multiplier `k`, per world: replays over a grid of `k`.

`oracle_lp` bids `k x true P(purchase | click) x target CPA`. For each world we replay the same
campaign (same seed: the same people, the same draws) with several `k` and keep the best score.

**Grid** (powers of two, searched in log2 k):

1. coarse: `k` = 0.5, 1, 2, 4, 8;
2. while the best `k` lies at an end of what was played (and scores strictly more than its
   neighbour), one more doubling (or halving) outward, within 1/64 <= k <= 64;
3. refine around the best: x 2^-1/2 and x 2^+1/2, then x 2^-1/4 and x 2^+1/4 around the new best.

That is 9 replays per world when the best is inside the coarse grid, and the chosen `k` is within a
factor 2^1/8 (9%) of the best power of 2^1/4. Ties go to the smaller `k` (less spend for the same
score). The replays of one step are independent: `search_worlds` runs them for all worlds at once
through an executor (a process pool).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass

from gaelp.experiments.play import Play, WorldResult

ORACLE_LP = "oracle_lp"


@dataclass(frozen=True, slots=True)
class KGrid:
    """The search grid in log2 k.

    Attributes:
        coarse: exponents played first.
        lowest, highest: the exponents the outward extension may not pass.
        refine: half-widths of the refinement steps, in order.
    """

    coarse: tuple[float, ...] = (-1.0, 0.0, 1.0, 2.0, 3.0)
    lowest: float = -6.0
    highest: float = 6.0
    refine: tuple[float, ...] = (0.5, 0.25)

    def __post_init__(self) -> None:
        if not self.coarse or list(self.coarse) != sorted(set(self.coarse)):
            raise ValueError(f"KGrid.coarse must be distinct increasing exponents, got {self.coarse}")
        if not self.lowest <= self.coarse[0] <= self.coarse[-1] <= self.highest:
            raise ValueError(f"KGrid.coarse {self.coarse} must lie within [{self.lowest}, {self.highest}]")

    @property
    def typical_replays(self) -> int:
        """Replays per world when the best `k` lies inside the coarse grid."""
        return len(self.coarse) + 2 * len(self.refine)


DEFAULT_GRID = KGrid()


class KSearch:
    """The search of one world: proposes exponents to play, learns their scores, names the best.

    Example:
        >>> s = KSearch()
        >>> s.propose()
        [-1.0, 0.0, 1.0, 2.0, 3.0]
        >>> for e in s.propose():
        ...     s.record(e, 10.0 - (e - 1.3) ** 2)
        >>> s.propose()
        [0.5, 1.5]
    """

    def __init__(self, grid: KGrid = DEFAULT_GRID) -> None:
        self.grid = grid
        self.scores: dict[float, float] = {}
        self._step = 0  # refinement steps done

    def best(self) -> float:
        """The exponent with the highest score so far (the smallest one on ties)."""
        if not self.scores:
            raise ValueError("no k played yet")
        return max(sorted(self.scores), key=lambda e: self.scores[e])

    def propose(self) -> list[float]:
        """Exponents to play next ([] when the search is over)."""
        g = self.grid
        if not self.scores:
            return list(g.coarse)
        best, played = self.best(), sorted(self.scores)
        if self._step == 0 and len(played) > 1:
            # a best end strictly above its neighbour points outward; a tie (e.g. no conversions at all) does not
            if best == played[0] and self.scores[best] > self.scores[played[1]] and best - 1 >= g.lowest:
                return [best - 1]
            if best == played[-1] and self.scores[best] > self.scores[played[-2]] and best + 1 <= g.highest:
                return [best + 1]
        while self._step < len(g.refine):
            h = g.refine[self._step]
            self._step += 1
            todo = [e for e in (best - h, best + h) if e not in self.scores and g.lowest <= e <= g.highest]
            if todo:
                return todo
        return []

    def record(self, exponent: float, score: float) -> None:
        """The score of the replay with k = 2^exponent."""
        self.scores[exponent] = float(score)


def search_worlds(seeds: Iterable[int], run: Callable[[Play], Future[WorldResult]],
                  grid: KGrid = DEFAULT_GRID) -> dict[int, WorldResult]:
    """`oracle_lp` with its hindsight `k` in each world: the best of its replays.

    Args:
        seeds: the world seeds.
        run: submits one play and returns its future (e.g. a pool's `submit` bound to the config).
        grid: the search grid.

    Returns:
        seed -> the best replay's result (its `k` included).
    """
    searches = {s: KSearch(grid) for s in seeds}
    results: dict[int, dict[float, WorldResult]] = {s: {} for s in searches}
    pending = {s: ks.propose() for s, ks in searches.items()}
    while any(pending.values()):
        futures = {(s, e): run(Play(s, ORACLE_LP, 2.0 ** e)) for s, es in pending.items() for e in es}
        for (s, e), f in futures.items():
            res = f.result()
            results[s][e] = res
            searches[s].record(e, res.score)
        pending = {s: ks.propose() for s, ks in searches.items()}
    return {s: results[s][ks.best()] for s, ks in searches.items()}
