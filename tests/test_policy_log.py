"""The policy in force read from its message log: loading the log, the weights of the
untouched customers, the history without the purchases messages brought, and each rule's
response measured against its holdout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import clmlang
from clmlang.forecasting.exposure import exposure_weights, mark_induced
from clmlang.forecasting.history import HistoryError, load_history
from clmlang.forecasting.messages import load_messages
from clmlang.forecasting.timeline import history_at, purchase_after

from . import worlds
from .conftest import clm, clm_here


def _history(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return load_history(pd.DataFrame(rows, columns=["customer_id", "date"]).assign(amount=10.0))


def _log(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "date", "rule", "status"])
    return load_messages(frame.assign(channel="email"))


def test_a_log_is_checked_row_by_row(tmp_path):
    """A bad status, an empty id, a missing column: an error naming the row and column."""
    path = tmp_path / "m.csv"
    path.write_text(
        "customer_id,date,rule,channel,status\n1,2020-01-02,w,email,delivered\n"
        "2,2020-01-02,w,email,sent\n"
    )
    with pytest.raises(HistoryError, match=r"m.csv: row 3, column `status`: not a status"):
        load_messages(path)
    path.write_text("customer_id,date,rule,status\n1,2020-01-02,w,delivered\n")
    with pytest.raises(HistoryError, match="no column `channel`"):
        load_messages(path)
    path.write_text("customer_id,date,rule,channel,status\n,2020-01-02,w,email,delivered\n")
    with pytest.raises(HistoryError, match="row 2, column `customer_id`: empty"):
        load_messages(path)


def test_purchases_after_and_histories_at_a_day():
    """The first purchase within a window after a day, and the history up to a day, worked
    out by hand on three customers."""
    h = _history(
        [("a", "2020-01-01"), ("a", "2020-01-05"), ("a", "2020-01-20"), ("b", "2020-01-03")]
    )
    at = purchase_after(
        h,
        pd.Series(["a", "a", "a", "b", "c"]),
        pd.Series(
            pd.to_datetime(["2020-01-01", "2020-01-05", "2020-01-04", "2020-01-03", "2020-01-01"])
        ),
        pd.Series([4, 14, 1, 30, 30]),
    )
    # a on 01-01 within 4 days: 01-05 (row 1); a on 01-05 within 14: none (01-20 is day 15);
    # a on 01-04 within 1 day: 01-05; b after its only purchase: none; c: not in the history
    assert at.tolist() == [1, -1, 1, -1, -1]
    count, x, t_x, T = history_at(
        h,
        pd.Series(["a", "a", "b"]),
        pd.Series(pd.to_datetime(["2020-01-05", "2020-01-19", "2020-01-02"])),
    )
    assert count.tolist() == [2, 2, 0] and x.tolist() == [1, 1, 0]
    assert t_x.tolist() == pytest.approx([4 / 7, 4 / 7, 0.0])
    assert T.tolist() == pytest.approx([4 / 7, 18 / 7, 0.0])


def test_marks_fall_on_the_first_purchase_in_the_window_never_a_first_purchase():
    """With chance 1 every converted send marks its first purchase in the window as brought
    by the message (but a customer's first purchase never); chance 0 marks nothing; a woken
    mark is a marked purchase."""
    h = _history(
        [("a", "2020-01-01"), ("a", "2020-01-10"), ("a", "2020-01-12"), ("b", "2020-01-05")]
    )
    sends = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "date": pd.to_datetime(["2020-01-08", "2020-01-01"]),
            "rule": ["w", "w"],
            "window": [14, 14],
        }
    )
    rng = np.random.default_rng(0)
    marked, woken = mark_induced(h, sends, np.ones(2), np.ones(2), rng)
    # a's 01-10 is marked; b's 01-05 is b's first purchase
    assert marked.tolist() == [False, True, False, False] and woken.tolist() == marked.tolist()
    none, never = mark_induced(h, sends, np.zeros(2), np.ones(2), rng)
    assert not none.any() and not never.any()
    half, _ = mark_induced(h, sends, np.ones(2), np.zeros(2), rng)
    assert half.tolist() == marked.tolist()


def test_weights_are_one_over_the_chance_of_no_message():
    """Two rules, a control group: the untouched customers' weights by hand."""
    log = _log(
        [
            # rule w reaches a-d: delivered to a, b; held out c, d -> q_w = 2/4
            ("a", "2020-02-01", "w", "delivered"),
            ("b", "2020-02-01", "w", "delivered"),
            ("c", "2020-02-01", "w", "held_out"),
            ("d", "2020-02-01", "w", "held_out"),
            # rule v reaches d, e, f: delivered to e; f not reachable -> q_v = 2/3 (d, f)
            ("d", "2020-02-02", "v", "held_out"),
            ("e", "2020-02-02", "v", "delivered"),
            ("f", "2020-02-02", "v", "not_reachable"),
            # g is in the control group, reached by w
            ("g", "2020-02-01", "w", "control"),
        ]
    )
    customers = np.array(list("abcdefgh"))
    e = exposure_weights(customers, log, {"w", "v"})
    c = 1 / 7  # g among the 7 customers the rules reached
    q_w, q_v = 2 / 4, 2 / 3
    expected = {
        "a": 0.0,
        "b": 0.0,
        "c": 1 / (c + (1 - c) * q_w),
        "d": 1 / (c + (1 - c) * q_w * q_v),
        "e": 0.0,
        "f": 1 / (c + (1 - c) * q_v),
        "g": 1 / (c + (1 - c) * q_w),
        "h": 1.0,  # reached by no rule
    }
    assert e.weights.tolist() == pytest.approx([expected[k] for k in "abcdefgh"])
    assert e.untouched == 5 and e.inseparable == ()
    # a transactional rule (not in `effective`) touches nobody
    assert exposure_weights(customers, log, {"v"}).weights[0] == 1.0


def test_a_rule_sent_to_everyone_it_reached_stays_in_the_history():
    h = _history([(c, "2020-01-01") for c in "ab"])
    log = _log([("a", "2020-02-01", "w", "delivered"), ("b", "2020-02-01", "w", "delivered")])
    e = exposure_weights(np.array(["a", "b"]), log, {"w"})
    assert e.inseparable == ("w",) and e.weights.tolist() == [1.0, 1.0]
    assert len(h) == 2


@pytest.fixture(scope="module")
def winback_world():
    text = worlds.spec("In force", (worlds.WINBACK, None, None))
    return worlds.simulate(text, customers=4000, seed=11), clmlang.loads(text)


def test_the_response_is_measured_against_the_holdout(winback_world):
    """In a world whose email response is known (0.15), the win-back rule's measured
    response lands within 3 standard errors of it, and the purchases taken out of the
    history are as many as the messages truly brought, within sampling error."""
    world, policy = winback_world
    end = worlds.calibration_end()
    calibration = clmlang.fit_history(
        world.purchases, end, model="bgnbd", messages=world.messages, policy=policy
    )
    responses = calibration.responses
    (winback,) = responses
    assert winback.rule == "winback" and winback.offer_lift == pytest.approx(1.6)
    # the world's email unsubscribes 0.002 of the messages (the market's default): the
    # measured rate within 3 binomial standard errors of it
    sent = int((world.messages["status"] == "delivered").sum())
    rate = calibration.unsubscribes["email"]
    assert abs(rate - 0.002) <= 3 * np.sqrt(0.002 * 0.998 / sent), (rate, sent)
    assert calibration.market.channels["email"].unsubscribe == rate
    assert abs(winback.response - worlds.RESPONSE) <= 3 * winback.response_se, winback
    # the held-out arm is a fifth of the first contacts (holdout 20%): 3-sigma binomial band
    n = winback.sent + winback.held
    assert abs(winback.held / n - 0.2) <= 3 * np.sqrt(0.2 * 0.8 / n)


def test_calibrate_with_messages_from_the_command_line(tmp_path, winback_world):
    world, _ = winback_world
    history, messages = tmp_path / "p.csv", tmp_path / "m.csv"
    world.purchases.to_csv(history, index=False)
    world.messages.to_csv(messages, index=False)
    spec = tmp_path / "in_force.clm"
    spec.write_text(worlds.spec("In force", (worlds.WINBACK, None, None)))
    end = worlds.calibration_end().date().isoformat()
    bare = clm("calibrate", history, "--calibration-end", end, "--messages", messages)
    assert bare.returncode == 2 and "--messages: name the policy" in bare.stderr
    done = clm(
        "calibrate",
        history,
        "--calibration-end",
        end,
        "--messages",
        messages,
        "--policy",
        spec,
        "--model",
        "bgnbd",
        "-o",
        tmp_path / "market.toml",
    )
    assert done.returncode == 0, done.stderr
    assert "net of the policy in force" in done.stdout
    assert "response winback (email)" in done.stdout
    market = (tmp_path / "market.toml").read_text()
    assert "[market.rules.winback]" in market and "[market.channels.email]" in market


def test_forecast_with_messages_from_the_command_line(tmp_path, winback_world):
    """`clm forecast NEW --current CURRENT --messages LOG`: the change, and how the log was
    read, in forecast.json and the report; the same seed gives the same files."""
    import json

    world, _ = winback_world
    history, messages = tmp_path / "p.csv", tmp_path / "m.csv"
    world.purchases.to_csv(history, index=False)
    world.messages.to_csv(messages, index=False)
    current, new = tmp_path / "current.clm", tmp_path / "new.clm"
    current.write_text(worlds.spec("In force", (worlds.WINBACK, None, None)))
    new.write_text(worlds.spec("New", (worlds.EARLY, None, None)))
    end = worlds.calibration_end().date().isoformat()
    until = worlds.until().date().isoformat()
    args = ["forecast", new, "--current", current, "--messages", messages, "--history", history,
            "--calibration-end", end, "--until", until, "--replications", "2"]  # fmt: skip
    args = [str(a) for a in args]  # run in this process (clm_here): the same commands
    first = clm_here(*args, "--out", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr
    again = clm_here(*args, "--out", str(tmp_path / "b"))
    assert again.returncode == 0, again.stderr
    for name in ("forecast.json", "customers.csv", "report.html"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    summary = json.loads((tmp_path / "a" / "forecast.json").read_text())
    block = summary["net_of_policy"]
    assert block["responses"][0]["rule"] == "winback" and block["induced_purchases"] > 0
    assert summary["change"]["current_policy"] == "In force"
    assert (
        "The policy in force, from its message log" in (tmp_path / "a" / "report.html").read_text()
    )
    # the policy that sent the messages is required, and --model must be BG/NBD's
    bare = clm_here(*args[:2], *args[4:], "--out", str(tmp_path / "c"))
    assert bare.returncode == 2 and "--messages: name the policy" in bare.stderr
    other = clm_here(*args, "--model", "bgnbd_reactivation", "--out", str(tmp_path / "c"))
    assert other.returncode == 2 and "--messages" in other.stderr


def test_fit_history_needs_the_policy_that_sent_the_messages(winback_world):
    world, policy = winback_world
    end = worlds.calibration_end()
    with pytest.raises(ValueError, match="name the policy that sent them"):
        clmlang.fit_history(world.purchases, end, messages=world.messages)
    with pytest.raises(ValueError, match="cannot be named"):
        clmlang.fit_history(
            world.purchases, end, model="bgnbd_stages", messages=world.messages, policy=policy
        )


def test_nothing_after_the_calibration_end_is_read(winback_world):
    """The history and the log after the calibration end change nothing: the same market,
    the same responses, the same marks."""
    world, policy = winback_world
    end = worlds.calibration_end()
    full = clmlang.fit_history(
        world.purchases, end, model="bgnbd", messages=world.messages, policy=policy
    )
    cut = clmlang.fit_history(
        world.purchases[world.purchases["date"] <= end],
        end,
        model="bgnbd",
        messages=world.messages[world.messages["date"] <= end],
        policy=policy,
    )
    assert full.to_toml() == cut.to_toml()
    assert full.responses == cut.responses
    assert (full.summary.induced == cut.summary.induced).all()


def test_a_rule_sent_to_all_but_the_control_group_is_separable_through_it():
    """Every customer outside the control group got the message: the control group alone
    stands for the base, each of its customers weighted 1 / c."""
    log = _log(
        [
            ("a", "2020-02-01", "w", "delivered"),
            ("b", "2020-02-01", "w", "delivered"),
            ("c", "2020-02-01", "w", "delivered"),
            ("d", "2020-02-01", "w", "control"),
        ]
    )
    e = exposure_weights(np.array(list("abcde")), log, {"w"})
    assert e.inseparable == ()
    assert e.weights.tolist() == pytest.approx([0.0, 0.0, 0.0, 4.0, 1.0])
