"""Throughput of the auction mechanisms (auctions cleared per second on one core).

Run as ``python -m benchmarks.bench_mechanisms`` for a table; the ``bench_*`` functions return the
figures as dicts for other tools. Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from gaelp.auction.mechanisms import get_mechanism


def make_market(
    n_auctions: int, n_bidders: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A synthetic batch that looks like a search hour: log-normal bids, CTR-like quality.

    About 10% of bids are 0 (the bidder skips the auction) and reserves vary per auction, so the
    benchmark pays for eligibility and empty slots as real traffic does.

    Args:
        n_auctions: number of auctions (rows).
        n_bidders: number of bidders (columns).
        rng: the random stream.

    Returns:
        ``(bids, quality, reserve)`` of shapes ``(n_auctions, n_bidders)`` twice and
        ``(n_auctions,)``.
    """
    bids = rng.lognormal(mean=0.5, sigma=0.6, size=(n_auctions, n_bidders))
    bids[rng.random((n_auctions, n_bidders)) < 0.1] = 0.0
    quality = rng.uniform(0.01, 0.08, size=(n_auctions, n_bidders))
    reserve = rng.uniform(0.05, 0.5, size=n_auctions)
    return bids, quality, reserve


def bench_mechanism(
    name: str,
    n_auctions: int = 500_000,
    n_bidders: int = 8,
    n_slots: int = 1,
    repeats: int = 5,
    seed: int = 0,
) -> dict:
    """Time one mechanism on one synthetic batch.

    Args:
        name: a mechanism name known to ``get_mechanism``.
        n_auctions: auctions per batch.
        n_bidders: bidders per auction.
        n_slots: slots per auction (1 for the single-item mechanisms).
        repeats: timed runs; the median is reported (one untimed warm-up run comes first).
        seed: seed of the synthetic batch.

    Returns:
        ``{"mechanism", "n_auctions", "n_bidders", "n_slots", "median_s", "auctions_per_s"}``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    mechanism = get_mechanism(name)
    bids, quality, reserve = make_market(n_auctions, n_bidders, np.random.default_rng(seed))
    mechanism(bids, quality, n_slots, reserve)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        mechanism(bids, quality, n_slots, reserve)
        times.append(time.perf_counter() - start)
    median = float(np.median(times))
    return {
        "mechanism": name,
        "n_auctions": n_auctions,
        "n_bidders": n_bidders,
        "n_slots": n_slots,
        "median_s": median,
        "auctions_per_s": n_auctions / median if median > 0 else float("inf"),
    }


def bench_gsp(
    n_auctions: int = 500_000, n_bidders: int = 8, n_slots: int = 4, repeats: int = 5, seed: int = 0
) -> dict:
    """Time :func:`gaelp.auction.mechanisms.gsp`; see :func:`bench_mechanism`."""
    return bench_mechanism("gsp", n_auctions, n_bidders, n_slots, repeats, seed)


def bench_second_price(
    n_auctions: int = 500_000, n_bidders: int = 8, repeats: int = 5, seed: int = 0
) -> dict:
    """Time :func:`gaelp.auction.mechanisms.second_price`; see :func:`bench_mechanism`."""
    return bench_mechanism("second_price", n_auctions, n_bidders, 1, repeats, seed)


def bench_first_price(
    n_auctions: int = 500_000, n_bidders: int = 8, repeats: int = 5, seed: int = 0
) -> dict:
    """Time :func:`gaelp.auction.mechanisms.first_price`; see :func:`bench_mechanism`."""
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
