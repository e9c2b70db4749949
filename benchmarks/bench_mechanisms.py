"""Throughput of the auction mechanisms (auctions cleared per second on one core).

Run as ``python -m benchmarks.bench_mechanisms`` for a table; the ``bench_*`` functions return the
figures as dicts for other tools. Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse

from gaelp.experiments.bench import bench_mechanism, make_market  # noqa: F401  (re-exported for scripts)


def bench_gsp(
    n_auctions: int = 500_000, n_bidders: int = 8, n_slots: int = 4, repeats: int = 5, seed: int = 0
) -> dict:
    """Time :func:`gaelp.market.mechanisms.gsp`; see :func:`bench_mechanism`."""
    return bench_mechanism("gsp", n_auctions, n_bidders, n_slots, repeats, seed)


def bench_second_price(
    n_auctions: int = 500_000, n_bidders: int = 8, repeats: int = 5, seed: int = 0
) -> dict:
    """Time :func:`gaelp.market.mechanisms.second_price`; see :func:`bench_mechanism`."""
    return bench_mechanism("second_price", n_auctions, n_bidders, 1, repeats, seed)


def bench_first_price(
    n_auctions: int = 500_000, n_bidders: int = 8, repeats: int = 5, seed: int = 0
) -> dict:
    """Time :func:`gaelp.market.mechanisms.first_price`; see :func:`bench_mechanism`."""
    return bench_mechanism("first_price", n_auctions, n_bidders, 1, repeats, seed)


def main(argv: list[str] | None = None) -> None:
    """Print a table of throughputs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-auctions", type=int, default=500_000)
    parser.add_argument("--n-bidders", type=int, default=8)
    parser.add_argument("--n-slots", type=int, default=4, help="GSP slots")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    common = {"n_auctions": args.n_auctions, "n_bidders": args.n_bidders}
    common |= {"repeats": args.repeats, "seed": args.seed}
    rows = [
        bench_gsp(n_slots=args.n_slots, **common),
        bench_second_price(**common),
        bench_first_price(**common),
    ]
    print(f"{'mechanism':<14}{'auctions':>10}{'bidders':>9}{'slots':>7}{'median ms':>11}{'M/s':>8}")
    for row in rows:
        print(
            f"{row['mechanism']:<14}{row['n_auctions']:>10,}{row['n_bidders']:>9}"
            f"{row['n_slots']:>7}{row['median_s'] * 1e3:>11.1f}{row['auctions_per_s'] / 1e6:>8.2f}"
        )


if __name__ == "__main__":
    main()
