"""The day's send steps sent in batches (engine/dispatch.py): several rules messaging the same
customers on one channel the same day, through caps that skip and caps that delay, give the
same bytes as one send step at a time (the numpy path), logs included."""

from __future__ import annotations

import numpy as np
import pytest

import clmlang
from clmlang.core import compiled
from clmlang.market.model import Market
from clmlang.simulation.engine import dispatch, simulate_policy

pytestmark = pytest.mark.skipif(not compiled.available(), reason="numba is not installed")

SPEC = """program "Batched"
channel email cost 0.13
channel sms cost 1
cap 3 per 7 days
cap email 2 per 5 days then delay
cap tag promo 4 per 30 days
stage everyone when purchases >= 0
rule a { on schedule daily when days_since_purchase >= 3 days send email "A" tag promo }
rule b { on schedule daily when days_since_purchase >= 6 days send email "B" }
rule c { on schedule weekly on monday send email "C" tag promo }
rule d { when days_since_purchase >= 9 days reentry once per 12 days send email "D" }
rule e { on schedule daily holdout 20% send sms "E" }
rule f { on schedule weekly on friday send email "F" transactional }
rule r { on purchase send email "Receipt" transactional }
"""


def _everything(run) -> dict[str, bytes]:
    rec = run.recorder
    out = {f"state.{k}": v.tobytes() for k, v in vars(run.state).items() if hasattr(v, "dtype")}
    out |= {f"daily.{k}": v.tobytes() for k, v in rec.daily.items()}
    out |= {f"arm.{k}": v.tobytes() for k, v in rec.arm_counters.items()}
    out |= {f"counts.{k}": v.tobytes() for k, v in rec.messages.counts().items()}
    out |= {f"messages.{k}": v.tobytes() for k, v in rec.messages.arrays().items()}
    out |= {f"unsent.{k}": v.tobytes() for k, v in rec.unsent.arrays().items()}
    out |= {f"unsubscribes.{k}": v.tobytes() for k, v in rec.unsubscribes.arrays().items()}
    out |= {f"firings.{k}": v.tobytes() for k, v in rec.rule_events.arrays().items()}
    return out


def test_batches_of_send_steps_give_the_bytes_of_one_step_at_a_time(monkeypatch):
    policy = clmlang.loads(SPEC)
    seen = {"batches": 0, "rounds": 0}
    batch, round_ = dispatch.Dispatch._send_batch, dispatch.Dispatch._round

    def counting_batch(self, *args):
        seen["batches"] += 1
        return batch(self, *args)

    def counting_round(self, *args):
        seen["rounds"] += 1
        return round_(self, *args)

    monkeypatch.setattr(dispatch.Dispatch, "_send_batch", counting_batch)
    monkeypatch.setattr(dispatch.Dispatch, "_round", counting_round)
    runs = []
    for switch in ("0", "1"):
        monkeypatch.setenv(compiled.SWITCH, switch)
        runs.append(
            simulate_policy(
                policy, Market(), customers=800, days=40, rng=np.random.default_rng(7), logs=True
            )
        )
    # the compiled run batched, and customers repeated within batches (more rounds)
    assert seen["batches"] >= 40 and seen["rounds"] > seen["batches"]
    rec = runs[0].recorder
    assert rec.daily["delayed"].sum() > 0 and rec.daily["capped"].sum() > 0
    assert rec.daily["unsubscribes"].sum() > 0
    assert _everything(runs[1]) == _everything(runs[0])


def test_rounds_hold_each_customers_kth_message_in_batch_order() -> None:
    """Steps messaging [1, 2, 3], [2, 3] and [3, 5]: customer 3's messages go in rounds 0, 1
    and 2, customer 2's in 0 and 1; each round keeps the batch's order. The kernel and its
    numpy twin agree on random batches and leave their scratch array cleared."""
    from clmlang.simulation.engine.delivery import rounds

    parts = [np.array([1, 2, 3]), np.array([2, 3]), np.array([3, 5])]
    for order, starts in (
        rounds(np.concatenate(parts), np.zeros(8, np.int32)),
        dispatch.rounds_numpy(parts, np.zeros(8, np.int32)),
    ):
        assert order.tolist() == [0, 1, 2, 6, 3, 4, 5]
        assert starts.tolist() == [0, 4, 6, 7]
    rng = np.random.default_rng(3)
    seen = np.zeros(50, np.int32)
    for _ in range(20):
        parts = [np.unique(rng.integers(0, 50, rng.integers(1, 30))) for _ in range(6)]
        want = dispatch.rounds_numpy(parts, seen)
        got = rounds(np.concatenate(parts), seen)
        assert all(np.array_equal(a, b) for a, b in zip(want, got, strict=True))
        assert not seen.any()
