"""Device identifiers -> dense, stable device ids."""

from __future__ import annotations

import os
import subprocess
import sys

from gaelp.serving.devices import ANONYMOUS, DeviceIndex, stable_key


def test_ids_are_dense_in_order_of_first_sight_and_repeat():
    index = DeviceIndex()
    assert [index.id_of(x) for x in ("a", "b", "a", "", "c")] == [1, 2, 1, ANONYMOUS, 3]
    assert len(index) == 3
    assert list(index.ids_of(["c", "a", "z"])) == [3, 1, 4]


def test_state_round_trips():
    index = DeviceIndex()
    index.ids_of([f"dev-{i}" for i in range(50)])
    restored = DeviceIndex()
    restored.load_state_dict(index.state_dict())
    assert [restored.id_of(f"dev-{i}") for i in (0, 49, 50)] == [1, 50, 51]


def test_the_key_is_the_same_in_another_process_whatever_its_hash_seed():
    code = "from gaelp.serving.devices import stable_key; print(stable_key('d:ifa-123'))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert int(other.stdout) == stable_key("d:ifa-123")
    assert stable_key("d:ifa-123") != stable_key("d:ifa-124")
