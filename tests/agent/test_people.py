"""Credit by resolved person: a purchase on a device linked to the clicking one (the same account)
pays and labels the click; a purchase on an unlinked device does not. Also the reward's timing."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.agent.bidder import AgentBidder
from gaelp.agent.people import ResolvedPeople
from gaelp.bidders.protocol import BidderOutcome, OpportunityBatch
from gaelp.config import build_config

CFG = build_config({"users": 200, "days": 2, "seed": 3})
PHONE, LAPTOP, STRANGER = 10, 11, 12  # the phone and the laptop log in to one account; the stranger to another
ACCOUNT = {PHONE: 7, LAPTOP: 7, STRANGER: 8}


class _Signals:
    """Every device has its own address (no home links); logins from `ACCOUNT`, on every event."""

    def address(self, device: np.ndarray, t: np.ndarray) -> np.ndarray:
        return 1000 + np.asarray(device)

    def login(self, device: np.ndarray, key: np.ndarray, purchase: np.ndarray) -> np.ndarray:
        return np.array([ACCOUNT[int(d)] for d in device], np.int64)


def _hour(t: int, clicks: list[int], buyers: list[int]) -> BidderOutcome:
    n = len(clicks)
    batch = OpportunityBatch(t=t, weekday=0, channel=np.zeros(n, np.int8), device=np.array(clicks, np.int64),
                             device_type=np.zeros(n, np.int8), intent=np.full(n, 2, np.int8),
                             reserve=np.zeros(n), channel_names=CFG.channel_names)
    return BidderOutcome(batch, np.full(n, 2.0), np.zeros(n, np.int8), np.full(n, 1.5), np.ones(n, bool),
                         np.full(n, 1.5), np.full(len(buyers), t), np.array(buyers, np.int64),
                         np.full(len(buyers), 220.0))


def _play(buyer: int, timing: str = "arrival", identity: bool = True) -> tuple[AgentBidder, float]:
    agent = AgentBidder(CFG, reward_timing=timing)
    if identity:
        agent.attach_identity(_Signals())
    total = 0.0
    for t, clicks, buyers in ((0, [PHONE], []), (5, [STRANGER], []), (30, [], [buyer])):
        agent.bid(_hour(t, clicks, []).batch)
        agent.observe(_hour(t, clicks, buyers))
        total += agent.last_reward
    return agent, total


def test_a_purchase_on_a_linked_device_credits_the_other_devices_click() -> None:
    agent, total = _play(LAPTOP)
    # the phone's click (hour 0) is labelled converted at hour 30; the stranger's click is not
    assert agent.value.conv_t.tolist() == [30, -1]
    # last click of the person: the phone's, worth the target CPA; both clicks cost 1.5
    assert total == pytest.approx(CFG.bidders.target_cpa - 3.0)
    assert agent.encoder.is_converted(np.array([PHONE, LAPTOP, STRANGER])).tolist() == [True, True, False]


def test_without_identity_or_link_the_purchase_credits_nothing() -> None:
    agent, total = _play(LAPTOP, identity=False)  # per device: the laptop never clicked
    assert agent.value.conv_t.tolist() == [-1, -1] and total == pytest.approx(-3.0)
    ACCOUNT[13] = 9  # a device of a third account, never clicked
    try:
        agent, total = _play(13)
    finally:
        del ACCOUNT[13]
    assert agent.value.conv_t.tolist() == [-1, -1] and total == pytest.approx(-3.0)
    assert agent.encoder.is_converted(np.array([PHONE, STRANGER])).tolist() == [False, False]


def test_click_timing_advances_the_expected_credit_and_sums_to_the_same_credit() -> None:
    agent = AgentBidder(CFG, reward_timing="click")
    agent.attach_identity(_Signals())
    rewards, p = [], []
    for t, clicks, buyers in ((0, [PHONE], []), (30, [], [LAPTOP])):
        p.append(agent.value_per_click(_hour(t, clicks, []).batch)[1])
        agent.observe(_hour(t, clicks, buyers))
        rewards.append(agent.last_reward)
    assert rewards[0] == pytest.approx(CFG.bidders.target_cpa * p[0][0] - 1.5)  # advanced when bought
    assert sum(rewards) == pytest.approx(CFG.bidders.target_cpa - 1.5)  # the correction completes it


def test_credited_device_is_the_persons_latest_click_within_the_window() -> None:
    people = ResolvedPeople(_Signals(), window_h=24)
    people.record_clicks(0, np.array([LAPTOP]), np.array([0]))
    people.record_clicks(3, np.array([PHONE, STRANGER]), np.array([0, 1]))
    people.record_purchases(np.array([10, 10, 40]), np.array([LAPTOP, STRANGER, LAPTOP]))
    assert people.credited_device(np.array([10, 10, 40]), np.array([LAPTOP, STRANGER, LAPTOP])).tolist() == \
        [PHONE, STRANGER, LAPTOP]  # the last purchase is past the window of every click: its own device
    row, linked = people.devices_of(np.array([STRANGER, PHONE]))
    assert row.tolist() == [0, 1, 1] and sorted(linked[1:].tolist()) == [PHONE, LAPTOP] and linked[0] == STRANGER


def test_the_identity_log_survives_a_state_round_trip() -> None:
    agent, _ = _play(LAPTOP)
    copy = AgentBidder(CFG, reward_timing="arrival")
    copy.attach_identity(_Signals())
    copy.load_state_dict(agent.state_dict())
    got = copy.people.credited_device(np.array([31]), np.array([LAPTOP]))
    assert got.tolist() == [PHONE] == agent.people.credited_device(np.array([31]), np.array([LAPTOP])).tolist()
