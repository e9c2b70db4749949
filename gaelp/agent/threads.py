"""One thread for the agent's arithmetic, so that a seed gives the same bits on any number of cores; and
what else the bits depend on (`numerics`).

numpy's BLAS (OpenBLAS) splits a large product's sums over as many threads as the machine has cores, and
a sum split differently adds in another order: the offline prior's fit, and so every weight after it,
came out different bits under `OMP_NUM_THREADS=1` and without it on this 2-core machine. Training runs
inside `one_thread()`: torch on one thread (as the policy always did) and the BLAS limited to one while
inside (restored on exit, so nothing outside is touched).

One thread is not enough across machines: the vendor libraries pick their kernels by the CPU (torch's MKL by
vendor and instruction set, unless `MKL_CBWR` pins a branch; OpenBLAS by its core type; torch's own kernels
by `ATEN_CPU_CAPABILITY`), and a kernel that adds in another order gives other low bits, which PPO's updates
amplify (docs/agent.md, "Same seed, other machine"). `numerics()` names those choices; training records them
in its checkpoint and warns when a run resumes under others.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the body with torch and numpy's BLAS on one thread each."""
    torch.set_num_threads(1)
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def numerics() -> dict[str, str]:
    """What the agent's bits depend on besides its seed: the CPU, the libraries' versions and the kernels they
    pick (OpenBLAS's core type, torch's CPU capability, MKL's code branch: `MKL_CBWR`, AUTO unless set)."""
    cpu = platform.processor()
    info = Path("/proc/cpuinfo")
    if info.is_file():
        cpu = next((line.split(":", 1)[1].strip() for line in info.read_text().splitlines()
                    if line.startswith("model name")), cpu)
    blas = next((f"{i['internal_api']} {i.get('version')} {i.get('architecture')}" for i in threadpool_info()
                 if i.get("user_api") == "blas"), "none")
    return {"cpu": cpu or "unknown", "numpy": np.__version__, "torch": torch.__version__, "blas": blas,
            "torch_capability": torch.backends.cpu.get_cpu_capability(), "mkl_cbwr": os.environ.get("MKL_CBWR", "AUTO")}
