"""What ties a person's devices together in an advertiser's logs: network addresses and logins.

The advertiser never sees person ids; it sees, on each of its own events, the device id, the time,
the public network address the request came from, and, after some clicks and on every purchase, a
login to an account on its site. This module is the world's side of those signals (assumptions, in
`gaelp/calibration.py` under `devices`):

* **Homes**: people 2k and 2k+1 share a home with probability `household_share` (drawn per pair),
  else each has their own. A home has one public address.
* **Addresses**: an event comes from the home address with probability `home_share_desktop` or
  `home_share_mobile` (by device type), else from one of the carrier's shared addresses (carrier-grade
  NAT: about `people_per_carrier_address` people behind each), drawn per device and day.
* **Logins**: a click is followed by a login with probability `login_rate`; a purchase always is (a
  subscription needs an account). An account belongs to one person.

Every draw is counter-based under its own purpose, so the signals change no other number of the
world; they are computed on demand for the events an advertiser logged.
"""

from __future__ import annotations

import numpy as np

from gaelp.config import DeviceConfig
from gaelp.rng import CounterRng, Purpose
from gaelp.world.population import Population

NO_ACCOUNT = -1
_ACCOUNT_MULT = 0x9E3779B97F4A7C15 % (1 << 40) | 1  # odd, so person -> account is one-to-one mod 2**40
_ACCOUNT_SPACE = 1 << 40


class IdentitySignals:
    """Network addresses and logins of a world's events.

    Args:
        cfg: the device config (signal rates).
        pop: the population (device owners and types).
        crng: the world's counter-based draws.
    """

    def __init__(self, cfg: DeviceConfig, pop: Population, crng: CounterRng) -> None:
        self.pop = pop
        self.crng = crng
        n = pop.n_devices.size
        pair = np.arange(n, dtype=np.int64) // 2
        shared = crng.uniform(pair, 0, Purpose.HOUSEHOLD) < cfg.household_share
        # (n_people,) home of each person: its pair's id when shared, else its own (offset past the pairs)
        self.home = np.where(shared, pair, (n + 1) // 2 + np.arange(n, dtype=np.int64))
        self.n_homes = (n + 1) // 2 + n
        self.n_carrier = max(1, round(n / cfg.people_per_carrier_address))
        self.home_share = np.array([cfg.home_share_mobile, cfg.home_share_desktop])
        self.login_rate = cfg.login_rate

    def address(self, device: np.ndarray, t: np.ndarray) -> np.ndarray:
        """(n,) public network address of events on `device` at hours `t`.

        Addresses `0 .. n_homes - 1` are homes, the rest the carrier's shared ones.
        """
        device = np.asarray(device, np.int64)
        day = np.asarray(t, np.int64) // 24
        owner = self.pop.device_owner[device]
        at_home = self.crng.uniform(device, np.asarray(t, np.int64), Purpose.AT_HOME) \
            < self.home_share[self.pop.device_type[device]]
        carrier = (self.crng.uniform(device, day, Purpose.CARRIER) * self.n_carrier).astype(np.int64)
        return np.where(at_home, self.home[owner], self.n_homes + carrier)

    def login(self, device: np.ndarray, key: np.ndarray, purchase: np.ndarray) -> np.ndarray:
        """(n,) account id logged in after each event (NO_ACCOUNT if none).

        Args:
            device: (n,) device of the event.
            key: (n,) the event's counter key (an impression's key; any distinct integer).
            purchase: (n,) bool, the event is a purchase (always logged in) rather than a click.
        """
        device = np.asarray(device, np.int64)
        logs_in = purchase | (self.crng.uniform(np.asarray(key, np.int64), 0, Purpose.LOGIN) < self.login_rate)
        account = (self.pop.device_owner[device] * _ACCOUNT_MULT) % _ACCOUNT_SPACE  # opaque, one per person
        return np.where(logs_in, account, NO_ACCOUNT)
