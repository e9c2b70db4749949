"""The people of a batch of worlds as one world-major population: person `w * n + i` is world w's person i.

Each world of a batch (`gaelp.experiments.batched.BatchedWorlds`) keeps its own `JourneyState`; its arrays
become rows of (W, n, ...) arrays (`gaelp.stacked.Stacked`) that the world's state views, so one array
program updates every world's people in place and each world (its checkpoints, its own stages, a later hour
alone) still holds its own numbers. A stage that has every world's rows gathers and scatters through one
index, `world * n + person`, instead of one call per world.

Exactness: the journeys' updates are per person (`np.add.at` adds a world's impressions in the world's own
order, world after world), and every draw is its world's own (`WorldsRng`, keys local to the world), so a
world's people move as they move alone (tested).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gaelp.rng import WorldsRng
from gaelp.stacked import Stacked
from gaelp.world.journey import Exposures, JourneyModel
from gaelp.world.population import JourneyState


class WorldsJourneys:
    """The journeys of a batch's worlds (the same number of people each, one journey model) as one.

    Args:
        states: each world's `JourneyState`, in world order.
        model: the worlds' journey model (any world's: the batched stages read only its config's numbers).
        rng: the batch's draws (world w's seed at index w).
    """

    def __init__(self, states: Sequence[JourneyState], model: JourneyModel, rng: WorldsRng) -> None:
        self.n = states[0].stage.shape[0]
        if any(s.stage.shape[0] != self.n for s in states):
            raise ValueError("a batch's worlds must have the same number of people")
        self.n_worlds = len(states)
        self.model, self.rng = model, rng
        self._stacked = {name: Stacked(states, name) for name in states[0].arrays}

    def array(self, name: str) -> np.ndarray:
        """(W * n, ...) every world's `JourneyState` array `name`, world-major (writes are the worlds' own)."""
        a = self._stacked[name].get()
        return a.reshape(self.n_worlds * self.n, *a.shape[2:])

    def state(self) -> JourneyState:
        """Every world's people as one `JourneyState` of W * n people (views of the worlds' arrays)."""
        a = self.array
        return JourneyState(stage=a("stage"), last_activity=a("last_activity"), seen=a("seen"),
                            seen_creative=a("seen_creative"), brand=a("brand"), converted_at=a("converted_at"),
                            journey_start=a("journey_start"))

    def expose(self, t: int, world: np.ndarray, exposures: Exposures) -> None:
        """Each world's `journey.expose` of its hour's exposures at once: `exposures` (persons local to their
        worlds) of every world, world-major, `world` (k,) of each (`Simulation.settle_hour`'s, end to end)."""
        if not world.size:
            return
        key, person, advertiser, channel, clicked, stage_now, creative = exposures
        day, rng = t // 24, self.rng
        self.model.expose(self.state(), t, day, key, world * self.n + person, advertiser, channel, clicked,
                          stage_now, creative, draw=lambda rows, keys, purpose: rng.uniform(world[rows], keys, day,
                                                                                            purpose))
