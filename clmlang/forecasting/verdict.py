"""The forecast in words a manager can paste into an email: the verdict first (what is
forecast, with its 95% range, against what happened when the history covers the period, and
what the policy does), then the key figures with readable names and formatted numbers.

Used by the report (report.py) and by `HoldoutForecast._repr_html_` in a notebook.
"""

from __future__ import annotations

from markupsafe import Markup

__all__ = ["MODEL_NAMES", "compact_html", "currency_of", "key_figures", "money", "sentences"]

MODEL_NAMES = {
    "bgnbd": "BG/NBD",
    "bgnbd_stages": "BG/NBD with stage multipliers",
    "bgnbd_reactivation": "BG/NBD with reactivation",
    "pareto_nbd": "Pareto/NBD",
}


def money(value: float, currency: str | None = None) -> str:
    """An amount as a manager reads it: thousands separated, no cents past 1,000, the
    currency code after it when known."""
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}"
    return f"{text} {currency}" if currency else text


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _range(interval: object, form=_count) -> str:
    if not isinstance(interval, list | tuple):
        return ""
    return f" (95% range {form(interval[0])} to {form(interval[1])})"


def _off(error: float | None) -> str:
    if error is None:
        return "not comparable (nothing happened)"
    return f"{abs(error):,.1%} {'under' if error < 0 else 'over'}"


def currency_of(s: dict) -> str | None:
    """The spec's currency, unless the spec is suspected of another currency than the
    history's (then amounts are left unnamed)."""
    return None if s.get("currency_warning") else (s.get("currency") or None)


def sentences(s: dict) -> list[str]:
    """The verdict, sentence by sentence, in plain words with intervals."""
    cur = currency_of(s)
    out = [
        f"From {s['calibration_end']} (the calibration end) to {s['until']}, the"
        f" {s['customers']:,} customers of the history are forecast to make"
        f" {_count(s['holdout_repeat_transactions'])} repeat purchases"
        f"{_range(s.get('holdout_repeat_transactions_interval'))} worth"
        f" {money(s['holdout_revenue'], cur)} in revenue"
        f"{_range(s.get('holdout_revenue_interval'), lambda v: money(v, cur))}."
    ]
    if s.get("actual_repeat_transactions") is not None:
        actual, revenue = s["actual_repeat_transactions"], s.get("actual_revenue", 0.0)
        inside, whose = "", "the forecast"
        interval = s.get("holdout_repeat_transactions_interval")
        ran = s.get("compared_repeat_transactions")
        if ran is not None and ran != s["holdout_repeat_transactions"]:  # accuracy.py
            interval = None  # the range is the spec's policy's, which did not run
            whose = f"the forecast of what ran ({s['compared_with']}: {_count(ran)})"
        if isinstance(interval, list):
            inside = (
                ", inside the 95% range"
                if interval[0] <= actual <= interval[1]
                else ", outside the 95% range"
            )
        out.append(
            f"In fact they made {_count(actual)} repeat purchases worth {money(revenue, cur)}:"
            f" {whose} is {_off(s.get('transactions_error'))} on purchases{inside}, and"
            f" {_off(s.get('revenue_error'))} on revenue."
        )
        if s.get("correlation") is not None:
            out.append(
                "Customer by customer, forecast and actual purchases correlate at"
                f" {s['correlation']:.2f}; the typical miss is {s['rmse']:.2f} purchases per"
                " customer (root mean square error)."
            )
    out.extend(f"The buying model's {note}." for note in s.get("fit_notes", []))
    if s.get("not_compared"):
        out.append(f"It is not compared with what happened: {s['not_compared']}.")
    policy = s.get("policy")
    change, effect = s.get("change"), s.get("policy_effect")
    if isinstance(change, dict):
        out.append(_change_sentence(change, cur))
    elif isinstance(effect, dict):
        out.append(
            f"The forecast is under the policy \u201c{policy}\u201d: "
            + _change_sentence(effect, cur, against="the same customers with no marketing")
        )
    elif policy:
        out.append(
            f"The forecast is under the policy \u201c{policy}\u201d; its effect is not separated"
            " from the rest of the forecast here (no rules to run, or a buying model without a"
            " closed form)."
        )
    else:
        out.append(
            "No policy was given: the forecast assumes the marketing of the past carries on, as"
            " the customer-lifetime models assume."
        )
    out.append(f"Buying model: {MODEL_NAMES.get(str(s['buying_model']), s['buying_model'])}.")
    return out


def _change_sentence(block: dict, cur: str | None, against: str | None = None) -> str:
    rows = {r["kpi"]: r for r in block["kpis"]}
    parts = []
    for kpi, label, form in (
        ("repeat_transactions", "repeat purchases", _count),
        ("revenue", "revenue", lambda v: money(v, cur)),
        ("profit", "profit", lambda v: money(v, cur)),
    ):
        r = rows.get(kpi)
        if r is None:  # profit against no marketing: the run without products has no costs
            continue
        sign = "+" if r["change"] >= 0 else "\u2212"
        span = (
            ""
            if r["low"] is None
            else f" (95% interval {_signed(r['low'], form)} to {_signed(r['high'], form)})"
        )
        parts.append(f"{label} {sign}{form(abs(r['change']))}{span}")
    whom = against or f"the policy in force, \u201c{block['current_policy']}\u201d"
    lead = "" if against else f"Changing to \u201c{block['new_policy']}\u201d from {whom}: "
    tail = f" against {whom}" if against else ""
    return f"{lead}{', '.join(parts)}{tail}, over {block['replications']} replications."


def _signed(value: float, form) -> str:
    return ("+" if value >= 0 else "\u2212") + form(abs(value))


def key_figures(s: dict) -> list[tuple[str, str]]:
    """The figures of forecast.json worth a manager's eye, with readable names, formatted."""
    cur = currency_of(s)
    rows: list[tuple[str, str]] = [
        ("Calibration end", str(s["calibration_end"])),
        ("Forecast until", str(s["until"])),
        ("Customers", f"{s['customers']:,}"),
        ("Policy", str(s.get("policy") or "none")),
        ("Buying model", MODEL_NAMES.get(str(s["buying_model"]), str(s["buying_model"]))),
        ("Replications", f"{s['replications']:,}"),
        (
            "Forecast repeat purchases",
            _count(s["holdout_repeat_transactions"])
            + _range(s.get("holdout_repeat_transactions_interval")),
        ),
        (
            "Forecast revenue",
            money(s["holdout_revenue"], cur)
            + _range(s.get("holdout_revenue_interval"), lambda v: money(v, cur)),
        ),
    ]
    if s.get("actual_repeat_transactions") is not None:
        if s.get("compared_with") is not None:  # the error is that of what ran (accuracy.py)
            rows += [
                ("Compared with what ran", str(s["compared_with"])),
                ("Its forecast repeat purchases", _count(s["compared_repeat_transactions"])),
                ("Its forecast revenue", money(s["compared_revenue"], cur)),
            ]
        rows += [
            ("Actual repeat purchases", _count(s["actual_repeat_transactions"])),
            ("Actual revenue", money(s["actual_revenue"], cur)),
            ("Error on purchases", _percent(s.get("transactions_error"))),
            ("Error on revenue", _percent(s.get("revenue_error"))),
            ("Per customer: mean absolute error", f"{s['mae']:.2f} purchases"),
            ("Per customer: root mean square error", f"{s['rmse']:.2f} purchases"),
            (
                "Per customer: correlation",
                "n/a" if s.get("correlation") is None else f"{s['correlation']:.2f}",
            ),
        ]
    rows.append(
        (
            "Simulated repeat purchases (same-day purchases as one)",
            _count(s["simulated_repeat_transactions"]),
        )
    )
    if s.get("closed_form_transactions") is not None:
        rows.append(("Closed-form repeat purchases", _count(s["closed_form_transactions"])))
    if s.get("bgnbd_closed_form_transactions") is not None:
        rows.append(
            ("BG/NBD closed-form repeat purchases", _count(s["bgnbd_closed_form_transactions"]))
        )
    products = s.get("history_products")
    if isinstance(products, dict):
        rows.append(
            (
                "Products of the history not in the spec",
                f"{len(products['ignored']):,} ({products['ignored_purchases']:,} purchases)",
            )
        )
    return rows


def _percent(error: float | None) -> str:
    return "n/a" if error is None else f"{error:+,.1%}"


def compact_html(s: dict) -> str:
    """A short HTML summary (for Jupyter): the warning, the verdict and the key figures."""
    parts = ["<div class='clm-forecast'>"]
    warning = s.get("currency_warning")
    if isinstance(warning, dict):
        parts.append(
            Markup("<p style='color:#b42318'><b>Warning:</b> {}. Hint: {}.</p>").format(
                warning["message"], warning["hint"]
            )
        )
    parts.append(Markup("<p>{}</p>").format(" ".join(sentences(s))))
    parts.append("<table>")
    for name, value in key_figures(s):
        row = Markup("<tr><th style='text-align:left'>{}</th><td>{}</td></tr>")
        parts.append(row.format(name, value))
    parts.append("</table></div>")
    return "".join(parts)
