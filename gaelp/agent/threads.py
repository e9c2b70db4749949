"""One thread for the agent's arithmetic, so that a seed gives the same bits on any machine.

numpy's BLAS (OpenBLAS) splits a large product's sums over as many threads as the machine has cores, and
a sum split differently adds in another order: the offline prior's fit, and so every weight after it,
came out different bits under `OMP_NUM_THREADS=1` and without it on this 2-core machine. Training runs
inside `one_thread()`: torch on one thread (as the policy always did) and the BLAS limited to one while
inside (restored on exit, so nothing outside is touched).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from threadpoolctl import threadpool_limits


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the body with torch and numpy's BLAS on one thread each."""
    torch.set_num_threads(1)
    with threadpool_limits(limits=1, user_api="blas"):
        yield
