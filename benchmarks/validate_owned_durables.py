"""Durables in a calibrated forecast (`[market.buying] owned`), measured and against truth.

Run with `python benchmarks/validate_owned_durables.py [--customers N] [--seeds K]`.

1. CDNOW (tests/data/cdnow_sample.csv), calibrated to 1997-09-30 and forecast to 1998-06-30
   (4 replications, seed 1): repeat purchases with no spec, with the clinic's catalogue and
   no rules, under `owned = "lost"` and `"renormalise"` (the calibrated market's), with the
   market's role effects as they are and set neutral (no cycles followed, no programme,
   subscription or value effect).
2. Worlds of BG/NBD buyers whose rate counts every purchase (tests/worlds.py), calibrated
   (bgnbd) and forecast with a spec of two durables and a service (`cycle_follow = 0`):
   the forecast with no spec, with the spec under "renormalise" and under "lost", against
   what each world did, and pooled.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import clmlang  # noqa: E402
from clmlang.forecasting.calibration import fit_history  # noqa: E402
from clmlang.forecasting.history import load_history  # noqa: E402
from tests import worlds  # noqa: E402
from tests.test_owned_renormalise import DURABLES  # noqa: E402

NEUTRAL = {
    "cycle_follow": 0.0,
    "repeat_join": 0.0,
    "lifetime_take_up": 0.0,
    "value_dropout": 1.0,
    "lifetime_dropout": 1.0,
}


def _with(calibration, owned: str, roles: dict):
    m = calibration.market
    m = m.model_copy(
        update={
            "roles": m.roles.model_copy(update=roles),
            "buying": m.buying.model_copy(update={"owned": owned}),
        }
    )
    return dataclasses.replace(calibration, market=m)


def cdnow() -> None:
    data = ROOT / "tests" / "data" / "cdnow_sample.csv"
    text = (ROOT / "specs" / "clinic.clm").read_text(encoding="utf-8")
    clinic = clmlang.loads(text[: text.index("rule welcome")])  # its catalogue, no rules
    calibration = fit_history(load_history(data), "1997-09-30", rng=1)
    print("| spec | owned | roles | repeat purchases 1997-10-01 .. 1998-06-30 |")
    print("| --- | --- | --- | --- |")
    for spec, owned, roles in (
        (None, "renormalise", {}),
        (clinic, "lost", {}),
        (clinic, "renormalise", {}),
        (clinic, "lost", NEUTRAL),
        (clinic, "renormalise", NEUTRAL),
    ):
        result = clmlang.forecast_history(
            data,
            "1997-09-30",
            "1998-06-30",
            spec,
            market=_with(calibration, owned, roles),
            replications=4,
            seed=1,
        )
        name = "clinic catalogue" if spec else "none"
        print(
            f"| {name} | {owned} | {'neutral' if roles else 'as they are'} |"
            f" {result.summary['holdout_repeat_transactions']:,.1f} |"
        )
    print(f"actual: {result.summary['actual_repeat_transactions']:,.0f}\n")


def truth(customers: int, seeds: int) -> None:
    end, until = worlds.calibration_end(), worlds.until()
    print("| seed | truth | no spec | durables, renormalise | durables, lost |")
    print("| --- | --- | --- | --- | --- |")
    totals = [0.0, 0.0, 0.0, 0.0]
    for seed in range(1, seeds + 1):
        world = worlds.simulate(worlds.spec("None"), customers, seed)
        fit = fit_history(world.purchases, worlds._iso(end), model="bgnbd")
        row = [float(world.repeat_transactions_after(end))]
        for owned, spec in (("renormalise", None), ("renormalise", DURABLES), ("lost", DURABLES)):
            result = clmlang.forecast_history(
                world.purchases,
                worlds._iso(end),
                worlds._iso(until),
                clmlang.loads(spec) if spec else None,
                market=_with(fit, owned, {"cycle_follow": 0.0}),
                replications=2,
                seed=seed,
            )
            row.append(result.summary["holdout_repeat_transactions"])
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        cells = " | ".join(f"{x:,.0f} ({x / row[0] - 1:+.1%})" for x in row[1:])
        print(f"| {seed} | {row[0]:,.0f} | {cells} |", flush=True)
    cells = " | ".join(f"{x:,.0f} ({x / totals[0] - 1:+.1%})" for x in totals[1:])
    print(f"| pooled | {totals[0]:,.0f} | {cells} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--seeds", type=int, default=6)
    args = parser.parse_args()
    cdnow()
    truth(args.customers, args.seeds)


if __name__ == "__main__":
    main()
