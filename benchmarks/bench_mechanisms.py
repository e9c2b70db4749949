"""Throughput of the auction mechanisms (auctions cleared per second on one core).

Run as ``python -m benchmarks.bench_mechanisms`` for a table, one row per mechanism of
``gaelp.market.mechanisms.MECHANISMS``; :func:`bench_all` returns the figures as dicts for other tools.
Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse

from gaelp.experiments.bench import bench_mechanism, make_market  # noqa: F401  (re-exported for scripts)
from gaelp.market.mechanisms import MECHANISMS


def bench_all(
    n_auctions: int = 500_000, n_bidders: int = 8, n_slots: int = 4, repeats: int = 5, seed: int = 0
) -> list[dict]:
    """Time every mechanism on the same synthetic batch; see :func:`bench_mechanism`.

    Args:
        n_slots: slots per auction where the mechanism sells several; the others sell their ``max_slots``.
    """
    return [
        bench_mechanism(m.name, n_auctions, n_bidders, n_slots if m.max_slots is None else m.max_slots,
                        repeats, seed)
        for m in MECHANISMS.values()
    ]


def main(argv: list[str] | None = None) -> None:
    """Print a table of throughputs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-auctions", type=int, default=500_000)
    parser.add_argument("--n-bidders", type=int, default=8)
    parser.add_argument("--n-slots", type=int, default=4, help="slots of the multi-slot mechanisms")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rows = bench_all(args.n_auctions, args.n_bidders, args.n_slots, args.repeats, args.seed)
    print(f"{'mechanism':<14}{'auctions':>10}{'bidders':>9}{'slots':>7}{'median ms':>11}{'M/s':>8}")
    for row in rows:
        print(
            f"{row['mechanism']:<14}{row['n_auctions']:>10,}{row['n_bidders']:>9}"
            f"{row['n_slots']:>7}{row['median_s'] * 1e3:>11.1f}{row['auctions_per_s'] / 1e6:>8.2f}"
        )


if __name__ == "__main__":
    main()
