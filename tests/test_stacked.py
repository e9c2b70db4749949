"""Stacked arrays of a batch of worlds: the objects view their rows, on either world axis."""

from types import SimpleNamespace

import numpy as np
import pytest

from gaelp.stacked import Stacked


@pytest.mark.parametrize("axis", [0, 1])
def test_the_worlds_objects_view_their_rows_of_the_stacked_array(axis):
    rng = np.random.default_rng(3)
    own = [rng.random((5, 2)) for _ in range(3)]
    objects = [SimpleNamespace(a=a.copy()) for a in own]
    s = Stacked(objects, "a", axis=axis)
    arr = s.get()
    assert arr.shape == ((3, 5, 2) if axis == 0 else (5, 3, 2))
    for w, o in enumerate(objects):
        assert np.array_equal(o.a, own[w])
        assert np.shares_memory(o.a, arr)
    arr[(1, 4) if axis == 0 else (4, 1)] += 10.0  # a write into the stack is world 1's own
    assert np.array_equal(objects[1].a[4], own[1][4] + 10.0)
    objects[1].a[0] = -1.0  # and a world's write is the stack's
    assert np.array_equal(s.get()[(1, 0) if axis == 0 else (0, 1)], [-1.0, -1.0])


@pytest.mark.parametrize("axis", [0, 1])
def test_a_world_that_rebinds_its_array_is_stacked_again(axis):
    objects = [SimpleNamespace(a=np.zeros((4, 2))) for _ in range(2)]
    s = Stacked(objects, "a", axis=axis)
    objects[0].a = np.ones((4, 2))  # a restored checkpoint
    arr = s.get()
    world0 = arr[0] if axis == 0 else arr[:, 0]
    assert np.array_equal(world0, np.ones((4, 2))) and np.shares_memory(objects[0].a, arr)

