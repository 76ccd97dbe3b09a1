"""Purchase histories from files and databases, checked, merged by day, cut at a date.

A history is one row per purchase: a customer id, a date and an amount (column names are
options). It comes from CSV, Parquet, or a SQL database through a SQLAlchemy URL and a query.
Same-day purchases of one customer are merged into one transaction (amounts added), as the
literature does. `summarise` turns it into what the buying models are fitted on, using
nothing after the calibration end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.extras import MissingExtra, require
from ..core.file_kinds import empty_history
from ..simulation.engine.holdings import Holdings
from .dates import AmbiguousDates, one_order
from .distinct import distinct_rows

__all__ = [
    "HistoryError",
    "Summary",
    "bad_amount",
    "distinct_rfm",
    "load_history",
    "merge_days",
    "read_table",
    "repeat_gaps",
    "rfm_groups",
    "summarise",
]


class HistoryError(Exception):
    """A history that cannot be read: says the file, the row and the column."""


def load_history(
    source: str | Path | pd.DataFrame,
    *,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str = "amount",
    product_col: str | None = None,
    query: str | None = None,
) -> pd.DataFrame:
    """Read a history into columns `customer_id`, `date` (datetime64), `amount` (float),
    one row per customer and day. `source`: a .csv or .parquet file, a SQLAlchemy URL
    (`postgresql://...`, `sqlite:///...`) with `query`, or a DataFrame (checked the same way;
    a bad row is named by its index).

    Products: with `product_col` named, that column must exist; without, a column `product`
    is read when there is one. Then the result has a column `products` too: the tuple of the
    products bought that day, in the history's order (an empty value names none)."""
    columns = (customer_col, date_col, amount_col, product_col)
    if isinstance(source, pd.DataFrame):
        return _check(source, "<dataframe>", *columns, by_index=True)
    raw, where = read_table(source, query, "a history")
    return _check(raw, where, *columns)


def read_table(source: str | Path, query: str | None, what: str) -> tuple[pd.DataFrame, str]:
    """The raw table of a .csv or .parquet file (CSV as text), or of a SQL query through a
    SQLAlchemy URL, and where it came from (a URL without its password); `what` names the
    table in messages."""
    text = str(source)
    if "://" in text:
        if not query:
            raise HistoryError(f"{text}: a database needs a query, the SQL that selects the rows")
        try:
            sqlalchemy = require("sqlalchemy", f"reading {what} from a database")
            engine = sqlalchemy.create_engine(_with_driver(text))
            with engine.connect() as connection:
                raw = pd.read_sql(sqlalchemy.text(query), connection)
        except MissingExtra:  # an extra to install, not a problem of the history
            raise
        except ImportError as error:  # a database driver that is not installed
            raise HistoryError(
                f"{_safe_url(text)}: the database driver is not installed ({error})\n"
                "  hint: pip install 'clmlang[sql]' installs PostgreSQL's (psycopg)"
            ) from None
        except Exception as error:  # the driver's own errors: connection, SQL, permissions
            raise HistoryError(f"{_safe_url(text)}: {type(error).__name__}: {error}") from None
        where = _safe_url(text)
    else:
        path = Path(text)
        if not path.exists():
            raise HistoryError(f"{path}: no such file")
        empty = empty_history(path)
        if empty is not None:  # as the command line says it (core/file_kinds.py)
            hint = f"\n  hint: {empty[1]}" if what == "a history" else ""
            raise HistoryError(f"{path}: {empty[0]}{hint}")
        try:
            if path.suffix.lower() in (".parquet", ".pq"):
                require("pyarrow", f"reading {what} as Parquet")
                raw = pd.read_parquet(path)
            else:
                raw = pd.read_csv(path, dtype=str, keep_default_na=False)
        except MissingExtra:  # an extra to install, not a problem of the history
            raise
        except UnicodeDecodeError:
            raise HistoryError(_not_utf8(path)) from None
        except Exception as error:
            raise HistoryError(f"{path}: cannot read: {error}") from None
        where = str(path)
    return raw, where


def _with_driver(url: str) -> str:
    """`postgresql://...` with no driver named uses psycopg (3), the one `[sql]` installs;
    SQLAlchemy's own default would be psycopg2."""
    scheme, sep, rest = url.partition("://")
    if scheme.lower() in ("postgresql", "postgres"):
        return f"postgresql+psycopg{sep}{rest}"
    return url


def _not_utf8(path: Path) -> str:
    """Where a file stops being UTF-8, by line and column (the decoder's own offset counts
    from the start of a buffer, which says nothing to a user)."""
    with path.open("rb") as stream:
        for number, line in enumerate(stream, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as error:
                return (
                    f"{path}: line {number}, column {error.start + 1}: not UTF-8 text "
                    f"(byte 0x{line[error.start]:02x}); save the file as UTF-8"
                )
    return f"{path}: not UTF-8 text; save the file as UTF-8"


def _parse_dates(values: pd.Series) -> pd.Series:
    """Dates as naive datetime64. A time-zone offset is dropped: the date is the local date
    as written (`1997-01-01T23:30:00-05:00` is 1 January), whatever the offsets of other rows;
    what cannot be read is NaT."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):  # a database's timestamptz column
        return values.dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values
    text = values.astype(str).str.strip()
    try:
        dates = pd.to_datetime(text, errors="coerce", format="mixed")
    except (ValueError, TypeError):  # offsets differ between rows, or some rows have none
        dates = pd.to_datetime(pd.Series([_local(v) for v in text], index=text.index))
    if isinstance(dates.dtype, pd.DatetimeTZDtype):
        dates = dates.dt.tz_localize(None)
    return one_order(text, dates)


def _local(text: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        return pd.NaT
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def bad_amount(amounts: pd.Series) -> tuple[int, str] | None:
    """The position of the first amount that is not a finite, non-negative number, and why."""
    values = amounts.to_numpy(dtype=float)
    for mask, what in (
        (np.isnan(values), "not a number"),
        (np.isinf(values), "not a finite number"),
        (values < 0, "a negative amount (leave refunds out, or net them against the purchase)"),
    ):
        if mask.any():
            return int(np.flatnonzero(mask)[0]), what
    return None


def _safe_url(url: str) -> str:
    """The URL without its password."""
    try:
        import sqlalchemy

        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def _check(
    raw: pd.DataFrame,
    where: str,
    customer: str,
    date: str,
    amount: str,
    product: str | None = None,
    *,
    by_index=False,
) -> pd.DataFrame:
    if product is None and "product" in raw.columns:
        product = "product"
    for column in (customer, date, amount, *([product] if product else [])):
        if column not in raw.columns:
            close = [c for c in raw.columns if c.lower() == column.lower()]
            hint = (
                f" (did you mean `{close[0]}`?)"
                if close
                else f"; the columns are: {', '.join(map(str, raw.columns))}"
            )
            raise HistoryError(f"{where}: no column `{column}`{hint}")
    ids = raw[customer].astype(str).str.strip()

    def refuse(row: int, column: str, what: str) -> HistoryError:
        place, value = _place(raw, row, by_index), raw[column].iloc[row]
        return HistoryError(f"{where}: {place}, column `{column}`: {what}: {value!r}")

    for column in (customer, date, amount):  # parsers drop a NUL silently: a corrupt file
        if pd.api.types.is_object_dtype(raw[column]) or pd.api.types.is_string_dtype(raw[column]):
            nul = raw[column].astype(str).str.contains("\x00", regex=False).to_numpy()
            if nul.any():
                raise refuse(int(np.flatnonzero(nul)[0]), column, "a NUL byte (a corrupt file?)")
    try:
        dates = _parse_dates(raw[date])
    except AmbiguousDates as error:
        raise refuse(error.row, date, error.what(lambda r: _place(raw, r, by_index))) from None
    amounts = pd.to_numeric(raw[amount].astype(str).str.strip(), errors="coerce")
    for mask, column, what in (
        ((ids == "") | raw[customer].isna().to_numpy(), customer, "an empty customer id"),
        (dates.isna(), date, "not a date"),
    ):
        if mask.any():
            raise refuse(int(np.flatnonzero(mask.to_numpy())[0]), column, what)
    bad = bad_amount(amounts)
    if bad is not None:
        raise refuse(bad[0], amount, bad[1])
    frame = pd.DataFrame({"customer_id": ids, "date": dates.dt.normalize(), "amount": amounts})
    if product:
        names = raw[product].astype(object).where(raw[product].notna(), "")
        frame["product"] = names.astype(str).str.strip().to_numpy()
    elif "products" in raw.columns:  # a history this function read before
        frame["products"] = [tuple(p) for p in raw["products"]]
    return merge_days(frame)


def _place(raw: pd.DataFrame, row: int, by_index: bool) -> str:
    # row numbers as a spreadsheet shows them: the header is row 1
    return f"index {raw.index[[row]].tolist()[0]!r}" if by_index else f"row {row + 2}"


def merge_days(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per customer and day; amounts added; with a `product` column, `products`: the
    tuple of the day's products (empty names left out), in the frame's order."""
    groups = frame.groupby(["customer_id", "date"], as_index=False, sort=True)
    merged = groups["amount"].sum()
    if "product" in frame.columns:
        named = frame["product"].astype(str)
        kept = frame.assign(product=named)[named != ""]
        bought = kept.groupby(["customer_id", "date"], sort=True)["product"].agg(tuple)
        index = pd.MultiIndex.from_frame(merged[["customer_id", "date"]])
        products = bought.reindex(index).to_numpy(dtype=object)
        merged["products"] = [p if isinstance(p, tuple) else () for p in products]
    elif "products" in frame.columns:  # tuples already: joined, day by day
        ordered = frame.sort_values(["customer_id", "date"], kind="stable")
        if len(ordered) == len(merged):
            merged["products"] = list(ordered["products"])
        else:
            joined = ordered.groupby(["customer_id", "date"], sort=True)["products"]
            merged["products"] = list(joined.agg(lambda days: tuple(p for t in days for p in t)))
    return merged.reset_index(drop=True)


@dataclass(frozen=True)
class Summary:
    """Per customer, from the calibration period only (times in weeks since their first
    purchase): repeat purchases x, the time of the last one t_x, the observation length T,
    the mean value of the repeat purchases, and every repeat purchase time."""

    customers: np.ndarray  # ids
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    monetary: np.ndarray  # mean amount of repeat purchases (0 when none)
    first: np.ndarray  # datetime64 of the first purchase
    times: list[np.ndarray]  # repeat purchase times, weeks since the first
    holdings: Holdings | None = None  # the products bought, when the history names them
    # per rule of the policy in force (from its message log): the day each customer last
    # fired it, counted from the day after the calibration end (NaN: never)
    fired: dict[str, np.ndarray] | None = None
    # per customer: the repeat purchases a message of the policy in force brought (from its
    # log): chances to drop out, as every purchase is, but no evidence of the buying rate
    induced: np.ndarray | None = None
    # of those, the ones that woke a customer who had lapsed: a dropout before each
    revived: np.ndarray | None = None
    # per customer: log P(messages left unanswered since the last purchase | active) /
    # P(the same | lapsed), from the log: silence after messages is evidence of lapsing
    silence: np.ndarray | None = None

    @property
    def x_rate(self) -> np.ndarray:
        """The repeat purchases that tell the buying rate: all but the induced ones."""
        return self.x if self.induced is None else self.x - self.induced

    @property
    def lapses(self) -> np.ndarray | int:
        """Dropouts known to have happened (each woken customer lapsed once before): of
        the x chances to drop out, these failed and the rest were survived."""
        return 0 if self.revived is None else self.revived

    def take(self, rows: np.ndarray) -> Summary:
        """The customers at positions `rows`, in that order (repeated ones repeated)."""
        return Summary(
            customers=self.customers[rows],
            x=self.x[rows],
            t_x=self.t_x[rows],
            T=self.T[rows],
            monetary=self.monetary[rows],
            first=self.first[rows],
            times=[self.times[i] for i in rows],
        )


def summarise(history: pd.DataFrame, calibration_end: str | pd.Timestamp) -> Summary:
    """Summarise a merged history up to `calibration_end` (inclusive). Nothing later is read:
    the rows after it are dropped before anything is computed."""
    end = pd.Timestamp(calibration_end)
    cal = history[history["date"] <= end]
    if cal.empty:
        raise HistoryError(f"no purchase on or before {end.date()}")
    cal = cal.sort_values(["customer_id", "date"], kind="stable")
    ids = cal["customer_id"].to_numpy()
    days = cal["date"].to_numpy()
    amounts = cal["amount"].to_numpy(dtype=float)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    sizes = np.diff(np.r_[starts, ids.size])
    first_day = np.repeat(days[starts], sizes)
    t = (days - first_day) / np.timedelta64(1, "D") / 7.0
    x = sizes - 1
    last = starts + sizes - 1
    t_x = np.where(x > 0, t[last], 0.0)
    repeat_spend = np.add.reduceat(amounts, starts) - amounts[starts]
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(x > 0, repeat_spend / np.maximum(x, 1), 0.0)
    # each customer's repeat purchase times, as views (np.split costs ten times as much)
    times = [t[a + 1 : b + 1] for a, b in zip(starts.tolist(), last.tolist(), strict=True)]
    T = (end.to_datetime64() - days[starts]) / np.timedelta64(1, "D") / 7.0
    holdings = None
    if "products" in cal.columns:
        owner = np.repeat(np.arange(starts.size), sizes)
        holdings = _holdings(cal["products"].to_numpy(), owner, starts + sizes - 1)
    return Summary(
        holdings=holdings,
        customers=ids[starts],
        x=x,
        t_x=t_x,
        T=T,
        monetary=monetary,
        first=days[starts],
        times=times,
    )


def _holdings(products: np.ndarray, owner: np.ndarray, last_rows: np.ndarray) -> Holdings:
    """The products of each row (tuples), flat: per entry its customer, product and whether
    its row is the customer's last."""
    lengths = np.fromiter((len(p) for p in products), dtype=np.int64, count=products.size)
    flat = [name for bought in products for name in bought]
    codes, names = pd.factorize(pd.Series(flat, dtype=object), sort=True)
    row = np.repeat(np.arange(products.size), lengths)
    is_last = np.zeros(products.size, dtype=bool)
    is_last[last_rows] = True
    return Holdings(
        names=tuple(str(n) for n in names),
        customer=owner[row].astype(np.int64),
        product=codes.astype(np.int64),
        last_day=is_last[row],
    )


def repeat_gaps(summary: Summary) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every repeat purchase of every customer, flat: (customer, its place among their
    repeat purchases from 0, the gap before it in weeks)."""
    x = summary.x.astype(np.int64)
    times = np.concatenate([*summary.times, np.zeros(0)])
    owner = np.repeat(np.arange(x.size), x)
    position = np.arange(times.size) - (np.cumsum(x) - x)[owner]
    gap = times - np.where(position > 0, np.roll(times, 1), 0.0)
    return owner, position, gap


def rfm_groups(summary: Summary) -> tuple[np.ndarray, np.ndarray]:
    """The customers with the same (x, t_x, T), times to the day: all that BG/NBD and
    Pareto/NBD read. (The first customer of each group, each customer's group.)"""
    keys = np.column_stack([summary.x, np.rint(summary.t_x * 7), np.rint(summary.T * 7)]).astype(
        np.int64
    )
    return distinct_rows(keys)


def distinct_rfm(summary: Summary) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (x, t_x, T) of a summary, with how many customers share each, so that
    each is evaluated once."""
    first, inverse = rfm_groups(summary)
    weight = np.bincount(inverse, minlength=first.size).astype(float)
    return summary.x[first], summary.t_x[first], summary.T[first], weight
