"""CloudWatch alarm evaluation, composite alarms, alarm history and alarm actions.

moto 5.2.5 stores alarms but never evaluates them: a new alarm is `OK` ("Unchecked: Initial
alarm creation") whatever its metric says, PutCompositeAlarm and DescribeAlarmHistory are not
implemented, and no alarm action ever runs. This module models AWS alarm evaluation:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html

- Metric alarms (one metric: Namespace, MetricName, Dimensions, Statistic or
  ExtendedStatistic, Unit, Period) and metric-math alarms (`Metrics`: MetricStat queries and
  expressions; the query with ReturnData is the alarm's time series) are evaluated over the
  most recent EvaluationPeriods periods ending now: period k covers (now-(k+1)P, now-kP].
  "Datapoints to Alarm is the number of data points within the Evaluation Periods that must be
  breaching to cause the alarm to go to the ALARM state" (M out of N).
- Missing data (TreatMissingData, default `missing`): `breaching` / `notBreaching` fill the
  missing periods; `ignore` keeps the current state unless the present datapoints decide it
  whatever the missing ones would be; `missing` is INSUFFICIENT_DATA when every period is
  missing, otherwise the present datapoints decide (at most as many as are present are needed).
  Alarms on `AWS/DynamoDB` metrics "always ignore missing data even if you choose a different
  option" (PutMetricAlarm, TreatMissingData).
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
- Evaluation runs on every PutMetricData (alarms of that region) and on a periodic tick (a
  daemon thread of the server process, every EMULATOR_ALARM_TICK_SECONDS, default 10; 0 turns
  it off), started with the first alarm put. A state holds until an evaluation computes another
  one: SetAlarmState's state "returns to [the] actual state" at the next evaluation.
- Composite alarms (PutCompositeAlarm): AlarmRule with ALARM(x) / OK(x) / INSUFFICIENT_DATA(x)
  (names or ARNs, quoted or not), TRUE, FALSE, AND, OR, NOT and parentheses; ALARM when the
  rule is true, OK otherwise. Evaluated when created or updated and when a child changes state
  (not on the tick: "If you use SetAlarmState on a composite alarm ... It returns to its actual
  state only once any of its children alarms change state").
- A state change records a StateUpdate history item (DescribeAlarmHistory; history outlives
  the alarm) and, when ActionsEnabled (DisableAlarmActions / EnableAlarmActions), runs the
  actions of the new state: an SNS topic gets the alarm notification, a Lambda function the
  alarm event (recorded: see `lambda_invocations()`; moto runs no Rust Lambda); each action
  leaves an Action history item.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
import os
import re
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Union

from moto.cloudwatch.exceptions import CloudWatchException, InvalidFormat, ResourceNotFound, ValidationError
from moto.cloudwatch.models import (
    Alarm,
    CloudWatchBackend,
    Dimension,
    MetricAggregatedDatum,
    MetricDatum,
    MetricDatumBase,
    cloudwatch_backends,
)
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow

log = logging.getLogger(__name__)

STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")


class InvalidNextToken(CloudWatchException):
    """botocore cloudwatch model: `InvalidNextToken`, HTTP 400."""

    code = "InvalidNextToken"

# One lock for alarm state, history and the metric index (moto's server is threaded: request
# threads and the tick evaluate concurrently). Actions run after it is released.
_lock = threading.RLock()
_action_lock = threading.Lock()

_HISTORY_CAP = 10_000


# ---------------------------------------------------------------------------------------
# Time and formatting
# ---------------------------------------------------------------------------------------


def _now() -> datetime:
    """Naive UTC, as moto stores datapoint timestamps."""
    return utcnow()


def _naive_utc(dt: datetime) -> datetime:
    if dt.tzinfo is not None:
        return dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt


def _iso(dt: datetime) -> str:
    """AWS's alarm timestamp format: 2023-08-04T12:36:15.490+0000."""
    dt = _naive_utc(dt)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def _short(dt: datetime) -> str:
    """The datapoint time in a state reason: (04/08/23 12:36:00)."""
    return _naive_utc(dt).strftime("%d/%m/%y %H:%M:%S")


def _num(v: float) -> str:
    return repr(float(v))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


_region_names: dict[str, str] = {}


def region_long_name(region: str) -> str:
    """'US East (N. Virginia)' for us-east-1 (botocore's endpoint descriptions)."""
    if not _region_names:
        try:
            import botocore

            path = os.path.join(os.path.dirname(botocore.__file__), "data", "endpoints.json")
            with open(path) as f:
                for partition in json.load(f).get("partitions", []):
                    for code, info in partition.get("regions", {}).items():
                        _region_names[code] = info.get("description", code)
        except (OSError, ValueError):
            _region_names["-"] = "-"
    return _region_names.get(region, region)


# ---------------------------------------------------------------------------------------
# Datapoints: an index of the backend's metric data, statistics per period
# ---------------------------------------------------------------------------------------

_MetricKey = tuple[str, str, frozenset]
# Per metric: its datapoints' timestamps (naive UTC, sorted) and the datums in that order.
_Timeline = tuple[list[datetime], list[MetricDatumBase]]


def _dims_key(dims: Iterable[Dimension]) -> frozenset:
    return frozenset((d.name, d.value) for d in dims or ())


def _index(backend: CloudWatchBackend) -> dict[_MetricKey, _Timeline]:
    """Datums by metric identity (namespace, name, full dimension set), in timestamp order.
    moto's metric_data only grows (a reset replaces the backend), so the index catches up
    incrementally (caller holds the lock)."""
    state = getattr(backend, "_emulator_metric_index", None)
    data = backend.metric_data
    if state is None or state["list"] is not data or len(data) < state["count"]:
        state = {"list": data, "count": 0, "by_key": {}}
        backend._emulator_metric_index = state  # type: ignore[attr-defined]
    count = len(data)
    by_key: dict[_MetricKey, _Timeline] = state["by_key"]
    for datum in data[state["count"] : count]:
        times, datums = by_key.setdefault((datum.namespace, datum.name, _dims_key(datum.dimensions)), ([], []))
        ts = _naive_utc(datum.timestamp)
        pos = bisect.bisect_right(times, ts)
        times.insert(pos, ts)
        datums.insert(pos, datum)
    state["count"] = count
    return by_key


class Point:
    """The statistic of one period (value None: no datapoint)."""

    __slots__ = ("start", "end", "value", "samples")

    def __init__(self, start: datetime, end: datetime, value: float | None, samples: float) -> None:
        self.start, self.end, self.value, self.samples = start, end, value, samples


def _statistic(datums: list[MetricDatumBase], stat: str) -> tuple[float | None, float]:
    """(statistic, sample count) of the datums of one period."""
    values: list[float] = []
    mins: list[float] = []
    maxs: list[float] = []
    total = 0.0
    count = 0.0
    for d in datums:
        if isinstance(d, MetricAggregatedDatum):
            mins.append(d.min)
            maxs.append(d.max)
            total += d.sum
            count += d.sample_count
        elif isinstance(d, MetricDatum):
            values.append(d.value)
            mins.append(d.value)
            maxs.append(d.value)
            total += d.value
            count += 1
    if count == 0:
        return None, 0.0
    if stat == "Sum":
        return total, count
    if stat == "Average":
        return total / count, count
    if stat == "Minimum":
        return min(mins), count
    if stat == "Maximum":
        return max(maxs), count
    if stat == "SampleCount":
        return count, count
    m = re.fullmatch(r"p(\d+(?:\.\d+)?)", stat or "")
    if m and values:
        # Percentile of the raw values (nearest rank).
        ordered = sorted(values)
        rank = max(1, math.ceil(float(m.group(1)) / 100.0 * len(ordered)))
        return ordered[min(rank, len(ordered)) - 1], count
    return None, count


def _periods(now: datetime, period: int, n: int) -> list[tuple[datetime, datetime]]:
    """The n most recent periods ending now, oldest first: (start, end]."""
    out = []
    for k in range(n - 1, -1, -1):
        end = now - timedelta(seconds=period * k)
        out.append((end - timedelta(seconds=period), end))
    return out


def _series(
    index: dict[_MetricKey, _Timeline],
    namespace: str,
    name: str,
    dims: Iterable[Dimension],
    unit: str | None,
    stat: str,
    periods: list[tuple[datetime, datetime]],
) -> list[Point]:
    times, datums = index.get((namespace, name, _dims_key(dims)), ([], []))
    out = []
    for start, end in periods:
        inside = datums[bisect.bisect_right(times, start) : bisect.bisect_right(times, end)]
        if unit:
            inside = [d for d in inside if d.unit == unit]
        value, samples = _statistic(inside, stat)
        out.append(Point(start, end, value, samples))
    return out


# ---------------------------------------------------------------------------------------
# Metric math: a small evaluator (no eval) over time series of equal length
# ---------------------------------------------------------------------------------------

Series = list[Union[float, None]]
Value = Union[float, None, Series, list[Series]]

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<id>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op><=|>=|==|!=|&&|\|\||[-+*/^()\[\],<>!]))"
)


class ExpressionError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"unexpected character at {pos}: {text[pos:pos + 10]!r}")
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "id" and value.upper() in ("AND", "OR", "NOT"):
            kind, value = "op", value.upper()
        out.append((kind, value))
        pos = m.end()
    return out


class _Parser:
    """expr := or; or := and (OR and)*; and := not (AND not)*; not := NOT not | cmp;
    cmp := add (cmpop add)?; add := mul ((+|-) mul)*; mul := unary ((*|/) unary)*;
    unary := - unary | pow; pow := primary (^ unary)?;
    primary := number | id | FUNC(args) | (expr) | [expr, ...]"""

    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise ExpressionError(f"expected {value or 'a term'}, found {tok[1] if tok else 'the end'}")
        self.i += 1
        return tok

    def accept(self, *values: str) -> str | None:
        tok = self.peek()
        if tok is not None and tok[0] == "op" and tok[1] in values:
            self.i += 1
            return tok[1]
        return None

    def parse(self) -> Any:
        node = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return node

    def or_(self) -> Any:
        node = self.and_()
        while self.accept("OR", "||"):
            node = ("bin", "OR", node, self.and_())
        return node

    def and_(self) -> Any:
        node = self.not_()
        while self.accept("AND", "&&"):
            node = ("bin", "AND", node, self.not_())
        return node

    def not_(self) -> Any:
        if self.accept("NOT", "!"):
            return ("not", self.not_())
        return self.cmp()

    def cmp(self) -> Any:
        node = self.add()
        op = self.accept("<", ">", "<=", ">=", "==", "!=")
        if op:
            node = ("bin", op, node, self.add())
        return node

    def add(self) -> Any:
        node = self.mul()
        while True:
            op = self.accept("+", "-")
            if not op:
                return node
            node = ("bin", op, node, self.mul())

    def mul(self) -> Any:
        node = self.unary()
        while True:
            op = self.accept("*", "/")
            if not op:
                return node
            node = ("bin", op, node, self.unary())

    def unary(self) -> Any:
        if self.accept("-"):
            return ("neg", self.unary())
        if self.accept("+"):
            return self.unary()
        return self.pow()

    def pow(self) -> Any:
        node = self.primary()
        if self.accept("^"):
            node = ("bin", "^", node, self.unary())
        return node

    def primary(self) -> Any:
        kind, value = self.take()
        if kind == "num":
            return ("num", float(value))
        if kind == "id":
            if self.accept("("):
                args = []
                if not self.accept(")"):
                    args.append(self.or_())
                    while self.accept(","):
                        args.append(self.or_())
                    self.take(")")
                return ("call", value.upper(), args)
            return ("id", value)
        if value == "(":
            node = self.or_()
            self.take(")")
            return node
        if value == "[":
            items = [self.or_()]
            while self.accept(","):
                items.append(self.or_())
            self.take("]")
            return ("array", items)
        raise ExpressionError(f"unexpected {value!r}")


def parse_expression(text: str) -> Any:
    """The syntax tree of a metric math expression (ExpressionError when unsupported)."""
    return _Parser(text).parse()


def _elementwise(a: Value, b: Value, n: int, fn: Callable[[float, float], float | None]) -> Value:
    if isinstance(a, list) and a and isinstance(a[0], list) or isinstance(b, list) and b and isinstance(b[0], list):
        raise ExpressionError("an array of time series cannot be an operand")
    if not isinstance(a, list) and not isinstance(b, list):
        return None if a is None or b is None else fn(a, b)
    sa = a if isinstance(a, list) else [a] * n
    sb = b if isinstance(b, list) else [b] * n
    return [None if x is None or y is None else fn(x, y) for x, y in zip(sa, sb)]  # type: ignore[misc]


def _div(x: float, y: float) -> float | None:
    return None if y == 0 else x / y


def _pow(x: float, y: float) -> float | None:
    try:
        r = x**y
    except (OverflowError, ZeroDivisionError):
        return None
    return r if isinstance(r, float) or isinstance(r, int) else None


_BINARY: dict[str, Callable[[float, float], float | None]] = {
    "+": lambda x, y: x + y,
    "-": lambda x, y: x - y,
    "*": lambda x, y: x * y,
    "/": _div,
    "^": _pow,
    "<": lambda x, y: float(x < y),
    ">": lambda x, y: float(x > y),
    "<=": lambda x, y: float(x <= y),
    ">=": lambda x, y: float(x >= y),
    "==": lambda x, y: float(x == y),
    "!=": lambda x, y: float(x != y),
    "AND": lambda x, y: float(bool(x) and bool(y)),
    "OR": lambda x, y: float(bool(x) or bool(y)),
}

_AGGREGATES: dict[str, Callable[[list[float]], float]] = {
    "MIN": min,
    "MAX": max,
    "SUM": sum,
    "AVG": lambda xs: sum(xs) / len(xs),
}


def evaluate_expression(node: Any, n: int, lookup: Callable[[str], Value]) -> Value:
    """Evaluates a parsed expression; `lookup(id)` gives a query's series (length n)."""

    def ev(node: Any) -> Value:
        kind = node[0]
        if kind == "num":
            return node[1]
        if kind == "id":
            return lookup(node[1])
        if kind == "neg":
            return _elementwise(-1.0, ev(node[1]), n, lambda x, y: x * y)
        if kind == "not":
            return _elementwise(0.0, ev(node[1]), n, lambda _x, y: float(not y))
        if kind == "bin":
            return _elementwise(ev(node[2]), ev(node[3]), n, _BINARY[node[1]])
        if kind == "array":
            items = [ev(i) for i in node[1]]
            return [i if isinstance(i, list) else [i] * n for i in items]  # type: ignore[misc]
        if kind == "call":
            return call(node[1], node[2])
        raise ExpressionError(f"unknown node {kind}")

    def call(name: str, args: list[Any]) -> Value:
        if name == "IF":
            if len(args) not in (2, 3):
                raise ExpressionError("IF takes 2 or 3 arguments")
            cond = ev(args[0])
            yes = ev(args[1])
            no = ev(args[2]) if len(args) == 3 else None
            sc = cond if isinstance(cond, list) else [cond] * n
            sy = yes if isinstance(yes, list) else [yes] * n
            sn = no if isinstance(no, list) else [no] * n
            out = [None if c is None else (y if c else z) for c, y, z in zip(sc, sy, sn)]  # type: ignore[misc]
            if not any(isinstance(v, list) for v in (cond, yes, no)):
                return out[0] if n else None
            return out  # type: ignore[return-value]
        if name == "FILL":
            if len(args) != 2:
                raise ExpressionError("FILL takes 2 arguments")
            series = ev(args[0])
            if not isinstance(series, list):
                return series
            if args[1][0] == "id" and args[1][1].upper() == "REPEAT":
                out: Series = []
                last: float | None = None
                for v in series:  # type: ignore[assignment]
                    last = v if v is not None else last
                    out.append(v if v is not None else last)
                return out
            fill = ev(args[1])
            fills = fill if isinstance(fill, list) else [fill] * n
            return [v if v is not None else f for v, f in zip(series, fills)]  # type: ignore[misc]
        if name == "ABS":
            if len(args) != 1:
                raise ExpressionError("ABS takes 1 argument")
            return _elementwise(0.0, ev(args[0]), n, lambda _x, y: abs(y))
        if name in _AGGREGATES:
            fn = _AGGREGATES[name]
            values = [ev(a) for a in args]
            if len(values) == 1 and isinstance(values[0], list) and values[0] and not isinstance(values[0][0], list):
                # MIN(m1): the minimum of the series (a scalar).
                present = [v for v in values[0] if v is not None]
                return fn(present) if present else None
            if len(values) == 1 and isinstance(values[0], list) and values[0] and isinstance(values[0][0], list):
                columns = values[0]  # MIN([m1, m2]): per period, across series
            elif len(values) == 1:
                return values[0]
            else:
                columns = [v if isinstance(v, list) else [v] * n for v in values]
            out2: Series = []
            for k in range(n):
                present = [c[k] for c in columns if c[k] is not None]  # type: ignore[index]
                out2.append(fn(present) if present else None)  # type: ignore[arg-type]
            return out2
        raise ExpressionError(f"function {name} is not supported")

    return ev(node)


# ---------------------------------------------------------------------------------------
# Metric alarm evaluation
# ---------------------------------------------------------------------------------------

_COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}


class Outcome:
    """What an evaluation computed: a new state (None: keep the current one)."""

    def __init__(self, state: str | None, reason: str = "", reason_data: dict[str, Any] | None = None) -> None:
        self.state, self.reason, self.reason_data = state, reason, reason_data or {}


def _return_query(alarm: Alarm) -> Any | None:
    queries = alarm.metric_data_queries
    chosen = [q for q in queries if q.return_data is True or str(q.return_data).lower() == "true"]
    if len(chosen) == 1:
        return chosen[0]
    expressions = [q for q in queries if q.expression]
    if len(expressions) == 1:
        return expressions[0]
    return queries[0] if len(queries) == 1 else None


def _alarm_points(
    alarm: Alarm, index: dict[_MetricKey, _Timeline], now: datetime
) -> tuple[list[Point], int, str | None] | None:
    """The alarm's datapoints (oldest first), its period and statistic; None when the alarm
    is of a kind this module does not evaluate."""
    n = int(alarm.evaluation_periods or 1)
    if not alarm.metric_data_queries:
        if not alarm.metric_name or not alarm.namespace:
            return None
        period = int(alarm.period or 60)
        stat = alarm.statistic or alarm.extended_statistic
        if not stat:
            return None
        periods = _periods(now, period, n)
        points = _series(index, alarm.namespace, alarm.metric_name, alarm.dimensions, alarm.unit, stat, periods)
        return points, period, stat
    target = _return_query(alarm)
    if target is None:
        return None
    stat_periods = [int(q.metric_stat.period) for q in alarm.metric_data_queries if q.metric_stat and q.metric_stat.period]
    period = int(target.period or (max(stat_periods) if stat_periods else 0) or alarm.period or 60)
    periods = _periods(now, period, n)
    by_id = {q.id: q for q in alarm.metric_data_queries}
    cache: dict[str, Value] = {}
    resolving: set[str] = set()

    def lookup(qid: str) -> Value:
        if qid in cache:
            return cache[qid]
        q = by_id.get(qid)
        if q is None or qid in resolving:
            raise ExpressionError(f"unknown or circular id {qid}")
        resolving.add(qid)
        if q.metric_stat is not None:
            ms = q.metric_stat
            pts = _series(index, ms.metric.namespace, ms.metric.metric_name, ms.metric.dimensions, ms.unit, ms.stat, periods)
            value: Value = [p.value for p in pts]
        elif q.expression and not q.expression.lstrip().upper().startswith("SELECT"):
            value = evaluate_expression(_parsed(q), n, lookup)
        else:
            raise ExpressionError(f"query {qid} is not supported")
        resolving.discard(qid)
        cache[qid] = value
        return value

    try:
        result = lookup(target.id)
    except (ExpressionError, TypeError, ValueError, OverflowError) as exc:
        log.debug("alarm %s: metric math not evaluated: %s", alarm.name, exc)
        return None
    if isinstance(result, list) and result and isinstance(result[0], list):
        return None
    values = result if isinstance(result, list) else [result] * n
    points = [Point(s, e, v, 0.0) for (s, e), v in zip(periods, values)]  # type: ignore[arg-type]
    return points, period, None


def _parsed(query: Any) -> Any:
    cached = getattr(query, "_emulator_ast", None)
    if cached is not None and cached[0] == query.expression:
        return cached[1]
    tree = parse_expression(query.expression)
    query._emulator_ast = (query.expression, tree)
    return tree


def evaluate_metric_alarm(alarm: Alarm, index: dict[_MetricKey, _Timeline], now: datetime) -> Outcome:
    """The state the metric alarm's datapoints give (AWS "Evaluating an alarm")."""
    comparison = _COMPARISONS.get(alarm.comparison_operator or "")
    if comparison is None or alarm.threshold is None or getattr(alarm, "threshold_metric_id", None):
        return Outcome(None)  # anomaly-detection bands are not modelled
    got = _alarm_points(alarm, index, now)
    if got is None:
        return Outcome(None)
    points, period, stat = got
    breaches, words = comparison
    threshold = float(alarm.threshold)
    n = len(points)
    m = int(alarm.datapoints_to_alarm or n)
    treatment = alarm.treat_missing_data or "missing"
    if alarm.namespace == "AWS/DynamoDB" and not alarm.metric_data_queries:
        # PutMetricAlarm, TreatMissingData: "Alarms that evaluate metrics in the AWS/DynamoDB
        # namespace always ignore missing data even if you choose a different option".
        treatment = "ignore"
    present = [p for p in points if p.value is not None]
    breaching = [p for p in present if breaches(p.value, threshold)]  # type: ignore[arg-type]
    fine = [p for p in present if not breaches(p.value, threshold)]  # type: ignore[arg-type]
    missing = n - len(present)
    b = len(breaching)
    filled = ""
    if missing == 0 or treatment == "notBreaching":
        state = "ALARM" if b >= m else "OK"
        if missing:
            filled = "notBreaching"
    elif treatment == "breaching":
        b += missing
        state = "ALARM" if b >= m else "OK"
        filled = "breaching"
    elif treatment == "ignore":
        if b >= m:
            state = "ALARM"
        elif b + missing < m:
            state = "OK"
        else:
            return Outcome(None)  # "ignore – The current alarm state is maintained"
    else:  # missing
        if not present:
            reason = f"Insufficient Data: {_plural(n, 'datapoint')} {'was' if n == 1 else 'were'} unknown."
            return Outcome("INSUFFICIENT_DATA", reason, _reason_data(alarm, points, period, stat, threshold, now))
        state = "ALARM" if b >= min(m, len(present)) else "OK"
    reason = _threshold_reason(state, points, breaching, fine, missing, filled, m, words, threshold)
    return Outcome(state, reason, _reason_data(alarm, points, period, stat, threshold, now))


def _threshold_reason(
    state: str,
    points: list[Point],
    breaching: list[Point],
    fine: list[Point],
    missing: int,
    filled: str,
    m: int,
    words: str,
    threshold: float,
) -> str:
    n = len(points)
    shown = sorted(breaching if state == "ALARM" else fine, key=lambda p: p.start, reverse=True)
    listed = ", ".join(f"{_num(p.value)} ({_short(p.start)})" for p in shown)  # type: ignore[arg-type]
    treated = "[Breaching]" if filled == "breaching" else "[NonBreaching]"
    if not shown and missing:
        return (
            f"Threshold Crossed: no datapoints were received for {_plural(missing, 'period')} and "
            f"{_plural(missing, 'missing datapoint')} {'was' if missing == 1 else 'were'} treated as {treated}."
        )
    verb = "was" if len(shown) == 1 else "were"
    negation = "" if state == "ALARM" else "not "
    if n == 1:
        text = f"Threshold Crossed: 1 datapoint [{listed}] {verb} {negation}{words} the threshold ({_num(threshold)})"
    else:
        text = (
            f"Threshold Crossed: {len(shown)} out of the last {n} datapoints [{listed}] {verb} "
            f"{negation}{words} the threshold ({_num(threshold)})"
        )
    if filled and missing:
        text += f", and {_plural(missing, 'missing datapoint')} {'was' if missing == 1 else 'were'} treated as {treated}"
    if n > 1:
        if state == "ALARM":
            text += f" (minimum {_plural(m, 'datapoint')} for OK -> ALARM transition)"
        else:
            need = n - m + 1
            text += f" (minimum {_plural(need, 'datapoint')} for ALARM -> OK transition)"
    return text + "."


def _reason_data(
    alarm: Alarm, points: list[Point], period: int, stat: str | None, threshold: float, now: datetime
) -> dict[str, Any]:
    data: dict[str, Any] = {"version": "1.0", "queryDate": _iso(now)}
    if points:
        data["startDate"] = _iso(points[0].start)
    if stat:
        if alarm.extended_statistic and stat == alarm.extended_statistic:
            data["extendedStatistic"] = stat
        else:
            data["statistic"] = stat
    if alarm.unit:
        data["unit"] = alarm.unit
    data["period"] = period
    data["recentDatapoints"] = [p.value for p in points if p.value is not None]
    data["threshold"] = threshold
    evaluated = []
    for p in reversed(points):
        item: dict[str, Any] = {"timestamp": _iso(p.start)}
        if p.value is not None:
            if p.samples:
                item["sampleCount"] = p.samples
            item["value"] = p.value
        evaluated.append(item)
    data["evaluatedDatapoints"] = evaluated
    return data


# ---------------------------------------------------------------------------------------
# Composite alarm rules
# ---------------------------------------------------------------------------------------

_RULE_WORD = re.compile(r"[A-Za-z_]+")


class RuleError(ValueError):
    pass


def _rule_tokens(rule: str) -> list[tuple[str, str]]:
    """Tokens: ("(", "("), (")", ")"), ("word", AND/OR/NOT/TRUE/FALSE), ("fn", STATE, name)."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(rule):
        c = rule[i]
        if c.isspace():
            i += 1
            continue
        if c in "()":
            out.append((c, c))
            i += 1
            continue
        m = _RULE_WORD.match(rule, i)
        if not m:
            raise RuleError(f"unexpected character {c!r} at {i}")
        word = m.group(0).upper()
        i = m.end()
        if word in ("AND", "OR", "NOT", "TRUE", "FALSE"):
            out.append(("word", word))
            continue
        if word not in STATES:
            raise RuleError(f"unknown function {m.group(0)!r}")
        while i < len(rule) and rule[i].isspace():
            i += 1
        if i >= len(rule) or rule[i] != "(":
            raise RuleError(f"{word} needs an alarm name in parentheses")
        i += 1
        while i < len(rule) and rule[i].isspace():
            i += 1
        if i < len(rule) and rule[i] == '"':
            end = rule.find('"', i + 1)
            if end < 0:
                raise RuleError("unterminated quoted alarm name")
            name = rule[i + 1 : end]
            i = end + 1
            while i < len(rule) and rule[i].isspace():
                i += 1
            if i >= len(rule) or rule[i] != ")":
                raise RuleError(f"{word}({name}: missing ')'")
        else:
            end = rule.find(")", i)
            if end < 0:
                raise RuleError(f"{word}(: missing ')'")
            name = rule[i:end].strip()
            i = end
        i += 1
        if not name:
            raise RuleError(f"{word}() needs an alarm name")
        out.append(("fn", word + "\0" + name))
    return out


def parse_rule(rule: str) -> Any:
    """The syntax tree of a composite AlarmRule (RuleError when invalid)."""
    toks = _rule_tokens(rule)
    pos = 0

    def peek() -> tuple[str, str] | None:
        return toks[pos] if pos < len(toks) else None

    def word(w: str) -> bool:
        nonlocal pos
        tok = peek()
        if tok == ("word", w):
            pos += 1
            return True
        return False

    def or_() -> Any:
        node = and_()
        while word("OR"):
            node = ("or", node, and_())
        return node

    def and_() -> Any:
        node = not_()
        while word("AND"):
            node = ("and", node, not_())
        return node

    def not_() -> Any:
        if word("NOT"):
            return ("not", not_())
        return atom()

    def atom() -> Any:
        nonlocal pos
        tok = peek()
        if tok is None:
            raise RuleError("the rule ends too early")
        pos += 1
        if tok == ("word", "TRUE"):
            return ("const", True)
        if tok == ("word", "FALSE"):
            return ("const", False)
        if tok[0] == "fn":
            state, name = tok[1].split("\0", 1)
            return ("state", state, name)
        if tok[0] == "(":
            node = or_()
            if peek() != (")", ")"):
                raise RuleError("missing ')'")
            pos += 1
            return node
        raise RuleError(f"unexpected {tok[1]!r}")

    tree = or_()
    if pos != len(toks):
        raise RuleError(f"unexpected {toks[pos][1]!r}")
    return tree


def rule_children(tree: Any) -> list[str]:
    """The alarm names (or ARNs) a rule refers to, in order."""
    kind = tree[0]
    if kind == "state":
        return [tree[2]]
    if kind in ("and", "or"):
        return rule_children(tree[1]) + rule_children(tree[2])
    if kind == "not":
        return rule_children(tree[1])
    return []


def evaluate_rule(tree: Any, state_of: Callable[[str], str | None]) -> bool:
    kind = tree[0]
    if kind == "const":
        return bool(tree[1])
    if kind == "state":
        return state_of(tree[2]) == tree[1]
    if kind == "and":
        return evaluate_rule(tree[1], state_of) and evaluate_rule(tree[2], state_of)
    if kind == "or":
        return evaluate_rule(tree[1], state_of) or evaluate_rule(tree[2], state_of)
    return not evaluate_rule(tree[1], state_of)


def _alarm_name_of(ref: str) -> str:
    """An AlarmRule reference (name or ARN) as an alarm name."""
    if ref.startswith("arn:") and ":alarm:" in ref:
        return ref.split(":alarm:", 1)[1]
    return ref


def _rule_of(alarm: Alarm) -> tuple[Any, list[str]] | None:
    cached = getattr(alarm, "_emulator_rule", None)
    if cached is not None and cached[0] == alarm.rule:
        return cached[1], cached[2]
    try:
        tree = parse_rule(alarm.rule or "")
    except RuleError:
        return None
    names = [_alarm_name_of(r) for r in rule_children(tree)]
    alarm._emulator_rule = (alarm.rule, tree, names)  # type: ignore[attr-defined]
    return tree, names


# ---------------------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------------------


def _history(backend: CloudWatchBackend) -> list[dict[str, Any]]:
    items = getattr(backend, "_emulator_history", None)
    if items is None:
        items = []
        backend._emulator_history = items  # type: ignore[attr-defined]
    return items


def _alarm_type(alarm: Alarm) -> str:
    return "CompositeAlarm" if alarm.rule is not None else "MetricAlarm"


def _add_history(backend: CloudWatchBackend, alarm: Alarm, kind: str, summary: str, data: dict[str, Any], when: datetime) -> None:
    items = _history(backend)
    items.append(
        {
            "AlarmName": alarm.name,
            "AlarmType": _alarm_type(alarm),
            "Timestamp": when,
            "HistoryItemType": kind,
            "HistorySummary": summary,
            "HistoryData": json.dumps(data, separators=(",", ":")),
        }
    )
    if len(items) > _HISTORY_CAP:
        del items[: len(items) - _HISTORY_CAP]


def _loads(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _state_json(value: str, reason: str, reason_data: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"stateValue": value, "stateReason": reason}
    parsed = _loads(reason_data)
    if parsed:
        out["stateReasonData"] = parsed
    return out


def _config_json(alarm: Alarm) -> dict[str, Any]:
    out: dict[str, Any] = {
        "alarmName": alarm.name,
        "alarmArn": alarm.alarm_arn,
        "actionsEnabled": bool(alarm.actions_enabled),
        "alarmActions": list(alarm.alarm_actions or []),
        "oKActions": list(alarm.ok_actions or []),
        "insufficientDataActions": list(alarm.insufficient_data_actions or []),
    }
    if alarm.description:
        out["alarmDescription"] = alarm.description
    if alarm.rule is not None:
        out["alarmRule"] = alarm.rule
        return out
    for key, value in (
        ("namespace", alarm.namespace),
        ("metricName", alarm.metric_name),
        ("statistic", alarm.statistic),
        ("extendedStatistic", alarm.extended_statistic),
        ("period", alarm.period),
        ("evaluationPeriods", alarm.evaluation_periods),
        ("datapointsToAlarm", alarm.datapoints_to_alarm),
        ("threshold", alarm.threshold),
        ("comparisonOperator", alarm.comparison_operator),
        ("treatMissingData", alarm.treat_missing_data),
        ("unit", alarm.unit),
    ):
        if value is not None:
            out[key] = value
    if alarm.dimensions:
        out["dimensions"] = [{"name": d.name, "value": d.value} for d in alarm.dimensions]
    return out


# ---------------------------------------------------------------------------------------
# Actions: SNS notification, Lambda event (AWS "Alarm actions")
# ---------------------------------------------------------------------------------------

_invocations_lock = threading.Lock()
_invocations: dict[str, list[dict[str, Any]]] = {}


def lambda_invocations(region: str | None = None) -> list[dict[str, Any]]:
    """The Lambda alarm actions run so far (all regions, or `region`'s), oldest first. Each:
    {"region", "functionArn", "alarmName", "alarmArn", "time", "payload"} where payload is the
    event AWS sends the function."""
    with _invocations_lock:
        if region is not None:
            return [dict(i) for i in _invocations.get(region, [])]
        items = [dict(i) for entries in _invocations.values() for i in entries]
    return sorted(items, key=lambda i: i["time"])


def clear_lambda_invocations(region: str | None = None) -> None:
    with _invocations_lock:
        if region is None:
            _invocations.clear()
        else:
            _invocations.pop(region, None)


class _Action:
    """One action to run for a state change (built under the lock, run after it)."""

    def __init__(self, backend: CloudWatchBackend, alarm: Alarm, arn: str, when: datetime, message: dict[str, Any], event: dict[str, Any], subject: str) -> None:
        self.backend, self.alarm, self.arn, self.when = backend, alarm, arn, when
        self.message, self.event, self.subject = message, event, subject


def _sns_dims(dims: Iterable[Dimension]) -> list[dict[str, Any]]:
    return [{"value": d.value, "name": d.name} for d in dims or ()]


def _trigger(alarm: Alarm) -> dict[str, Any]:
    """The `Trigger` of an SNS alarm notification."""
    trigger: dict[str, Any] = {}
    if alarm.metric_data_queries:
        metrics = []
        for q in alarm.metric_data_queries:
            item: dict[str, Any] = {"Id": q.id}
            if q.expression:
                item["Expression"] = q.expression
            if q.label:
                item["Label"] = q.label
            if q.metric_stat is not None:
                ms = q.metric_stat
                item["MetricStat"] = {
                    "Metric": {
                        "Dimensions": _sns_dims(ms.metric.dimensions),
                        "MetricName": ms.metric.metric_name,
                        "Namespace": ms.metric.namespace,
                    },
                    "Period": ms.period,
                    "Stat": ms.stat,
                }
                if ms.unit:
                    item["MetricStat"]["Unit"] = ms.unit
            item["ReturnData"] = q is _return_query(alarm)
            metrics.append(item)
        trigger["Metrics"] = metrics
    else:
        trigger["MetricName"] = alarm.metric_name
        trigger["Namespace"] = alarm.namespace
        if alarm.extended_statistic:
            trigger["StatisticType"] = "ExtendedStatistic"
            trigger["ExtendedStatistic"] = alarm.extended_statistic
        else:
            trigger["StatisticType"] = "Statistic"
            trigger["Statistic"] = (alarm.statistic or "").upper()
        trigger["Unit"] = alarm.unit
        trigger["Dimensions"] = _sns_dims(alarm.dimensions)
    trigger["Period"] = alarm.period if alarm.period is not None else (_alarm_period(alarm))
    trigger["EvaluationPeriods"] = alarm.evaluation_periods
    if alarm.datapoints_to_alarm is not None:
        trigger["DatapointsToAlarm"] = alarm.datapoints_to_alarm
    trigger["ComparisonOperator"] = alarm.comparison_operator
    trigger["Threshold"] = alarm.threshold
    trigger["TreatMissingData"] = alarm.treat_missing_data or "missing"
    trigger["EvaluateLowSampleCountPercentile"] = alarm.evaluate_low_sample_count_percentile or ""
    return trigger


def _alarm_period(alarm: Alarm) -> int:
    periods = [int(q.metric_stat.period) for q in alarm.metric_data_queries if q.metric_stat and q.metric_stat.period]
    return max(periods) if periods else int(alarm.period or 60)


def _notification(backend: CloudWatchBackend, alarm: Alarm, old: dict[str, Any], when: datetime, trigger_children: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON message AWS publishes to an SNS topic for a state change."""
    msg: dict[str, Any] = {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": backend.account_id,
        "AlarmConfigurationUpdatedTimestamp": _iso(alarm.configuration_updated_timestamp),
        "NewStateValue": alarm.state_value,
        "NewStateReason": alarm.state_reason,
        "StateChangeTime": _iso(when),
        "Region": region_long_name(backend.region_name),
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old["value"],
        "OKActions": list(alarm.ok_actions or []),
        "AlarmActions": list(alarm.alarm_actions or []),
        "InsufficientDataActions": list(alarm.insufficient_data_actions or []),
    }
    if alarm.rule is not None:
        msg["AlarmRule"] = alarm.rule
        msg["TriggeringChildren"] = [
            {"Arn": c["arn"], "State": {"Value": c["state"]["value"], "Timestamp": c["state"]["timestamp"]}} for c in trigger_children
        ]
    else:
        msg["Trigger"] = _trigger(alarm)
    return msg


def _lambda_event(backend: CloudWatchBackend, alarm: Alarm, old: dict[str, Any], when: datetime) -> dict[str, Any]:
    """The event AWS sends a Lambda alarm action (AlarmThatSendsEmail.html#alarms-and-actions)."""
    state: dict[str, Any] = {"value": alarm.state_value, "reason": alarm.state_reason}
    if alarm.state_reason_data:
        state["reasonData"] = alarm.state_reason_data
    state["timestamp"] = _iso(when)
    previous: dict[str, Any] = {"value": old["value"], "reason": old["reason"]}
    if old["reason_data"]:
        previous["reasonData"] = old["reason_data"]
    previous["timestamp"] = _iso(old["timestamp"])
    configuration: dict[str, Any] = {}
    if alarm.description:
        configuration["description"] = alarm.description
    if alarm.rule is not None:
        configuration["alarmRule"] = alarm.rule
        for key, attr in (
            ("actionsSuppressor", "actions_suppressor"),
            ("actionsSuppressorWaitPeriod", "actions_suppressor_wait_period"),
            ("actionsSuppressorExtensionPeriod", "actions_suppressor_extension_period"),
        ):
            if getattr(alarm, attr, None) is not None:
                configuration[key] = getattr(alarm, attr)
    else:
        metrics = []
        if alarm.metric_data_queries:
            for q in alarm.metric_data_queries:
                item: dict[str, Any] = {"id": q.id}
                if q.metric_stat is not None:
                    ms = q.metric_stat
                    item["metricStat"] = {
                        "metric": {
                            "namespace": ms.metric.namespace,
                            "name": ms.metric.metric_name,
                            "dimensions": {d.name: d.value for d in ms.metric.dimensions or ()},
                        },
                        "period": ms.period,
                        "stat": ms.stat,
                    }
                    if ms.unit:
                        item["metricStat"]["unit"] = ms.unit
                if q.expression:
                    item["expression"] = q.expression
                if q.label:
                    item["label"] = q.label
                item["returnData"] = q is _return_query(alarm)
                metrics.append(item)
        else:
            stat_block: dict[str, Any] = {
                "metric": {
                    "namespace": alarm.namespace,
                    "name": alarm.metric_name,
                    "dimensions": {d.name: d.value for d in alarm.dimensions or ()},
                },
                "period": alarm.period,
                "stat": alarm.statistic or alarm.extended_statistic,
            }
            if alarm.unit:
                stat_block["unit"] = alarm.unit
            metrics.append({"id": f"{alarm.name}-m1", "metricStat": stat_block, "returnData": True})
        configuration["metrics"] = metrics
    return {
        "source": "aws.cloudwatch",
        "alarmArn": alarm.alarm_arn,
        "accountId": backend.account_id,
        "time": _iso(when),
        "region": backend.region_name,
        "alarmData": {
            "alarmName": alarm.name,
            "state": state,
            "previousState": previous,
            "configuration": configuration,
        },
    }


def _suppressed(backend: CloudWatchBackend, alarm: Alarm) -> bool:
    """PutCompositeAlarm ActionsSuppressor: actions are suppressed while the suppressor alarm
    is in ALARM (the wait and extension periods are not modelled)."""
    ref = getattr(alarm, "actions_suppressor", None)
    if not ref:
        return False
    suppressor = backend.alarms.get(_alarm_name_of(ref))
    return suppressor is not None and suppressor.state_value == "ALARM"


def _run_action(action: _Action) -> None:
    arn = action.arn
    parts = arn.split(":")
    service = parts[2] if len(parts) > 5 else ""
    region = parts[3] if len(parts) > 5 else ""
    account = parts[4] if len(parts) > 5 else ""
    error: str | None = None
    published: str | None = None
    if service == "sns":
        from moto.sns.models import sns_backends

        published = json.dumps(action.message)
        try:
            sns_backends[account][region].publish(published, arn=arn, subject=action.subject[:100])
        except Exception as exc:  # noqa: BLE001 (any failure is a failed action, as on AWS)
            error = f"{type(exc).__name__}: {exc}"
    elif service == "lambda":
        from moto.awslambda.models import lambda_backends

        name = parts[6] if len(parts) > 6 else ""
        qualifier = parts[7] if len(parts) > 7 else None
        try:
            lambda_backends[account][region].get_function(name, qualifier)
        except Exception as exc:  # noqa: BLE001
            error = f"{type(exc).__name__}: {exc}"
        else:
            record = {
                "region": action.backend.region_name,
                "functionArn": arn,
                "alarmName": action.alarm.name,
                "alarmArn": action.alarm.alarm_arn,
                "time": _iso(action.when),
                "payload": action.event,
            }
            with _invocations_lock:
                _invocations.setdefault(action.backend.region_name, []).append(record)
    else:
        error = "this action type is not modelled by the emulator"
    now = _now()
    if error is None:
        data: dict[str, Any] = {"actionState": "Succeeded", "stateUpdateTimestamp": int(action.when.replace(tzinfo=timezone.utc).timestamp() * 1000)}
        if published is not None:
            data["notificationResource"] = arn
            data["publishedMessage"] = published
        summary = f"Successfully executed action {arn}"
    else:
        data = {"actionState": "Failed", "stateUpdateTimestamp": int(action.when.replace(tzinfo=timezone.utc).timestamp() * 1000), "error": error}
        summary = f"Failed to execute action {arn}"
        log.info("alarm %s: action %s failed: %s", action.alarm.name, arn, error)
    with _lock:
        _add_history(action.backend, action.alarm, "Action", summary, data, now)


def _run_actions(actions: list[_Action]) -> None:
    if not actions:
        return
    with _action_lock:
        for action in actions:
            try:
                _run_action(action)
            except Exception:  # noqa: BLE001
                log.exception("alarm action %s", action.arn)


# ---------------------------------------------------------------------------------------
# State changes
# ---------------------------------------------------------------------------------------


def _set_state(
    backend: CloudWatchBackend,
    alarm: Alarm,
    state: str,
    reason: str,
    reason_data: str | None,
    now: datetime,
    actions: list[_Action],
    trigger_children: list[dict[str, Any]] | None = None,
    visiting: frozenset[str] = frozenset(),
) -> None:
    """Sets the alarm's state (caller holds the lock): history, actions of a new state, and
    the re-evaluation of the composite alarms that refer to it."""
    old = {
        "value": alarm.state_value,
        "reason": alarm.state_reason,
        "reason_data": alarm.state_reason_data,
        "timestamp": alarm.state_updated_timestamp,
    }
    changed = old["value"] != state
    alarm.state_value = state
    alarm.state_reason = reason
    alarm.state_reason_data = reason_data
    alarm.state_updated_timestamp = now
    if changed or getattr(alarm, "state_transitioned_timestamp", None) is None:
        alarm.state_transitioned_timestamp = now  # type: ignore[attr-defined]
    _add_history(
        backend,
        alarm,
        "StateUpdate",
        f"Alarm updated from {old['value']} to {state}",
        {
            "version": "1.0",
            "oldState": _state_json(old["value"], old["reason"], old["reason_data"]),
            "newState": _state_json(state, reason, reason_data),
        },
        now,
    )
    if not changed:
        return
    if alarm.actions_enabled and not _suppressed(backend, alarm):
        arns = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions, "INSUFFICIENT_DATA": alarm.insufficient_data_actions}[state]
        if arns:
            message = _notification(backend, alarm, old, now, trigger_children or [])
            event = _lambda_event(backend, alarm, old, now)
            subject = f'{state}: "{alarm.name}" in {region_long_name(backend.region_name)}'
            for arn in arns:
                actions.append(_Action(backend, alarm, arn, now, message, event, subject))
    _evaluate_parents(backend, alarm, now, actions, visiting | {alarm.name})


def _child_json(alarm: Alarm) -> dict[str, Any]:
    return {"arn": alarm.alarm_arn, "state": {"value": alarm.state_value, "timestamp": _iso(alarm.state_updated_timestamp)}}


def _evaluate_composite(
    backend: CloudWatchBackend,
    alarm: Alarm,
    now: datetime,
    actions: list[_Action],
    trigger: Alarm | None = None,
    visiting: frozenset[str] = frozenset(),
) -> None:
    if alarm.name in visiting:
        # "the evaluation of composite alarms stops if CloudWatch detects a cycle"
        return
    parsed = _rule_of(alarm)
    if parsed is None:
        return
    tree, names = parsed

    def state_of(ref: str) -> str | None:
        child = backend.alarms.get(_alarm_name_of(ref))
        return child.state_value if child is not None else None

    state = "ALARM" if evaluate_rule(tree, state_of) else "OK"
    if state == alarm.state_value:
        return
    children = [trigger] if trigger is not None else [backend.alarms[n] for n in dict.fromkeys(names) if n in backend.alarms]
    triggering = [_child_json(c) for c in children]
    if children:
        c = children[0]
        reason = f"{c.alarm_arn} transitioned to {c.state_value} at {_naive_utc(c.state_updated_timestamp).strftime('%A %d %B, %Y %H:%M:%S')} UTC"
    else:
        reason = f"The rule {alarm.rule} evaluated to {'TRUE' if state == 'ALARM' else 'FALSE'}"
    data = json.dumps({"triggeringAlarms": triggering}, separators=(",", ":"))
    _set_state(backend, alarm, state, reason, data, now, actions, triggering, visiting)


def _evaluate_parents(backend: CloudWatchBackend, child: Alarm, now: datetime, actions: list[_Action], visiting: frozenset[str]) -> None:
    for parent in list(backend.alarms.values()):
        if parent.rule is None or parent is child:
            continue
        parsed = _rule_of(parent)
        if parsed is not None and child.name in parsed[1]:
            _evaluate_composite(backend, parent, now, actions, child, visiting)


def _evaluate_one(backend: CloudWatchBackend, alarm: Alarm, now: datetime, actions: list[_Action], index: dict[_MetricKey, _Timeline]) -> None:
    if alarm.rule is not None:
        _evaluate_composite(backend, alarm, now, actions)
        return
    outcome = evaluate_metric_alarm(alarm, index, now)
    if outcome.state is None or outcome.state == alarm.state_value:
        return
    data = json.dumps(outcome.reason_data, separators=(",", ":"))
    _set_state(backend, alarm, outcome.state, outcome.reason, data, now, actions)


def evaluate_region(backend: CloudWatchBackend, now: datetime | None = None, names: Iterable[str] | None = None) -> None:
    """Evaluates the metric alarms of one region's backend (or those named) at `now`
    (default: the current time), then runs the actions of the state changes."""
    actions: list[_Action] = []
    with _lock:
        at = _naive_utc(now) if now is not None else _now()
        index = _index(backend)
        wanted = set(names) if names is not None else None
        for alarm in list(backend.alarms.values()):
            if alarm.rule is not None and wanted is None:
                continue  # composites follow their children, not the clock
            if wanted is not None and alarm.name not in wanted:
                continue
            try:
                _evaluate_one(backend, alarm, at, actions, index)
            except Exception:  # noqa: BLE001 (one bad alarm must not stop the others)
                log.exception("evaluating alarm %s", alarm.name)
    _run_actions(actions)


def evaluate_all(now: datetime | None = None) -> None:
    """Evaluates the alarms of every account and region (the tick)."""
    for account in list(cloudwatch_backends.values()):
        for backend in list(account.values()):
            if backend.alarms:
                evaluate_region(backend, now)


# ---------------------------------------------------------------------------------------
# The tick (server process only)
# ---------------------------------------------------------------------------------------

_tick_lock = threading.Lock()
_tick_enabled = False
_tick_thread: threading.Thread | None = None


def tick_seconds() -> float:
    try:
        return float(os.environ.get("EMULATOR_ALARM_TICK_SECONDS", "10"))
    except ValueError:
        return 10.0


def _in_server_process() -> bool:
    """True when this process is the emulator server (`python -m emulator`)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return getattr(spec, "name", None) in ("emulator.__main__", "emulator.server")


def _ensure_ticker() -> None:
    global _tick_thread
    if not _tick_enabled or tick_seconds() <= 0:
        return
    with _tick_lock:
        if _tick_thread is not None and _tick_thread.is_alive():
            return
        _tick_thread = threading.Thread(target=_tick_loop, name="emulator-alarm-tick", daemon=True)
        _tick_thread.start()


def _tick_loop() -> None:
    while True:
        time.sleep(max(0.1, tick_seconds()))
        try:
            evaluate_all()
        except Exception:  # noqa: BLE001
            log.exception("alarm tick")


# ---------------------------------------------------------------------------------------
# Patches
# ---------------------------------------------------------------------------------------

_applied = False


def apply() -> None:
    global _applied, _tick_enabled
    if _applied:
        return
    _applied = True
    _tick_enabled = _in_server_process()
    _patch_backend()
    _patch_responses()


def _patch_backend() -> None:
    original_put = CloudWatchBackend.put_metric_alarm
    original_put_data = CloudWatchBackend.put_metric_data

    def put_metric_alarm(self: CloudWatchBackend, *args: Any, **kwargs: Any) -> Alarm:
        # PutMetricAlarm / PutCompositeAlarm: "When this operation creates an alarm, the alarm
        # state is immediately set to INSUFFICIENT_DATA. The alarm is then evaluated and its
        # state is set appropriately. Any actions associated with the new state are then
        # executed. When you update an existing alarm, its state is left unchanged, but the
        # update completely overwrites the previous configuration of the alarm."
        # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
        name = kwargs.get("name", args[0] if args else None)
        with _lock:
            previous = self.alarms.get(name) if name is not None else None
            alarm = original_put(self, *args, **kwargs)
            now = _now()
            if previous is not None and previous is not alarm:
                for attr in ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp", "state_transitioned_timestamp"):
                    if hasattr(previous, attr):
                        setattr(alarm, attr, getattr(previous, attr))
                summary, kind = f'Alarm "{alarm.name}" updated', "Update"
            else:
                alarm.state_value = "INSUFFICIENT_DATA"
                alarm.state_reason = "Unchecked: Initial alarm creation"
                alarm.state_reason_data = None
                alarm.state_updated_timestamp = now
                alarm.state_transitioned_timestamp = now  # type: ignore[attr-defined]
                summary, kind = f'Alarm "{alarm.name}" created', "Create"
            data = {"version": "1.0", "type": kind, ("createdAlarm" if kind == "Create" else "updatedAlarm"): _config_json(alarm)}
            _add_history(self, alarm, "ConfigurationUpdate", summary, data, now)
        evaluate_region(self, names=[alarm.name])
        _ensure_ticker()
        return alarm

    def put_metric_data(self: CloudWatchBackend, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        # New datapoints are evaluated at once (AWS evaluates every period; the emulator on
        # each put and on its tick).
        original_put_data(self, namespace, metric_data)
        if self.alarms:
            try:
                evaluate_region(self)
            except Exception:  # noqa: BLE001 (a put never fails on evaluation)
                log.exception("alarm evaluation after PutMetricData")
            _ensure_ticker()

    def set_alarm_state(self: CloudWatchBackend, alarm_name: str, reason: str, reason_data: str, state_value: str) -> None:
        # SetAlarmState: "When the updated state differs from the previous value, the action
        # configured for the appropriate state is invoked." The state holds until the next
        # evaluation ("Metric alarms returns to their actual state quickly").
        # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_SetAlarmState.html
        try:
            if reason_data is not None:
                json.loads(reason_data)
        except ValueError:
            raise InvalidFormat("Unknown")
        if state_value not in STATES:
            raise ValidationError(
                "1 validation error detected: "
                f"Value '{state_value}' at 'stateValue' failed to satisfy constraint: "
                "Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]"
            )
        actions: list[_Action] = []
        with _lock:
            alarm = self.alarms.get(alarm_name)
            if alarm is None:
                raise ResourceNotFound
            _set_state(self, alarm, state_value, reason, reason_data, _now(), actions)
        _run_actions(actions)

    CloudWatchBackend.put_metric_alarm = put_metric_alarm  # type: ignore[method-assign]
    CloudWatchBackend.put_metric_data = put_metric_data  # type: ignore[method-assign]
    CloudWatchBackend.set_alarm_state = set_alarm_state  # type: ignore[method-assign]


def _patch_responses() -> None:
    def put_composite_alarm(self: CloudWatchResponse) -> ActionResult:
        # PutCompositeAlarm (moto 5.2.5 lacks it): AlarmRule over other alarms' states.
        # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html
        backend = self.cloudwatch_backend
        name = self._get_param("AlarmName")
        rule = self._get_param("AlarmRule")
        if not name or not rule:
            raise ValidationError("AlarmName and AlarmRule are required.")
        try:
            tree = parse_rule(rule)
        except RuleError as exc:
            raise ValidationError(f"Error in alarm rule: {exc}")
        children = [_alarm_name_of(r) for r in rule_children(tree)]
        unknown = sorted({c for c in children if c not in backend.alarms and c != name})
        if unknown:
            raise ValidationError(f"Could not save the composite alarm as alarms [{', '.join(unknown)}] in the alarm rule do not exist")
        if name in children:
            raise ValidationError("A composite alarm cannot refer to itself in its alarm rule")
        alarm = backend.put_metric_alarm(
            name=name,
            namespace=None,  # type: ignore[arg-type]
            metric_name=None,  # type: ignore[arg-type]
            comparison_operator=None,  # type: ignore[arg-type]
            evaluation_periods=None,  # type: ignore[arg-type]
            period=None,  # type: ignore[arg-type]
            threshold=None,  # type: ignore[arg-type]
            statistic=None,  # type: ignore[arg-type]
            description=self._get_param("AlarmDescription"),
            dimensions=[],
            alarm_actions=self._get_param("AlarmActions", []),
            ok_actions=self._get_param("OKActions", []),
            insufficient_data_actions=self._get_param("InsufficientDataActions", []),
            actions_enabled=self._get_bool_param("ActionsEnabled"),  # type: ignore[arg-type]
            rule=rule,
            tags=self._get_param("Tags", []),
        )
        with _lock:
            alarm.actions_suppressor = self._get_param("ActionsSuppressor")  # type: ignore[attr-defined]
            alarm.actions_suppressor_wait_period = self._get_param("ActionsSuppressorWaitPeriod")  # type: ignore[attr-defined]
            alarm.actions_suppressor_extension_period = self._get_param("ActionsSuppressorExtensionPeriod")  # type: ignore[attr-defined]
        return EmptyResult()

    def describe_alarms(self: CloudWatchResponse) -> ActionResult:
        # DescribeAlarms: the filters combine; "If you omit [AlarmTypes], only metric alarms
        # are returned"; ChildrenOfAlarmName / ParentsOfAlarmName follow AlarmRule.
        # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html
        backend = self.cloudwatch_backend
        names = self._get_param("AlarmNames", []) or []
        prefix = self._get_param("AlarmNamePrefix")
        action_prefix = self._get_param("ActionPrefix")
        state_value = self._get_param("StateValue")
        types = self._get_param("AlarmTypes", []) or ["MetricAlarm"]
        children_of = self._get_param("ChildrenOfAlarmName")
        parents_of = self._get_param("ParentsOfAlarmName")
        with _lock:
            alarms = list(backend.alarms.values())
            if children_of:
                parent = backend.alarms.get(children_of)
                parsed = _rule_of(parent) if parent is not None and parent.rule is not None else None
                wanted = set(parsed[1]) if parsed else set()
                alarms = [a for a in alarms if a.name in wanted]
            if parents_of:
                alarms = [a for a in alarms if a.rule is not None and parents_of in ((_rule_of(a) or (None, []))[1])]
            if names:
                alarms = [a for a in alarms if a.name in names]
            if prefix:
                alarms = [a for a in alarms if a.name.startswith(prefix)]
            if action_prefix:
                alarms = [a for a in alarms if any(x.startswith(action_prefix) for x in (a.alarm_actions or []))]
            if state_value:
                alarms = [a for a in alarms if a.state_value == state_value]
            alarms.sort(key=lambda a: a.name)
        metric = [a for a in alarms if a.rule is None] if "MetricAlarm" in types else []
        composite = [a for a in alarms if a.rule is not None] if "CompositeAlarm" in types else []
        return ActionResult({"MetricAlarms": metric, "CompositeAlarms": composite})

    def describe_alarm_history(self: CloudWatchResponse) -> ActionResult:
        # DescribeAlarmHistory (moto 5.2.5 lacks it): "CloudWatch retains the history of an
        # alarm even if you delete the alarm"; without AlarmTypes only metric alarms' items.
        # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarmHistory.html
        backend = self.cloudwatch_backend
        name = self._get_param("AlarmName")
        types = self._get_param("AlarmTypes", []) or ["MetricAlarm"]
        kind = self._get_param("HistoryItemType")
        start = self._get_param("StartDate")
        end = self._get_param("EndDate")
        scan_by = self._get_param("ScanBy") or "TimestampDescending"
        max_records = int(self._get_param("MaxRecords") or 100)
        token = self._get_param("NextToken")
        with _lock:
            items = [dict(i) for i in _history(backend)]
        items = [i for i in items if i["AlarmType"] in types]
        if name:
            items = [i for i in items if i["AlarmName"] == name]
        if kind:
            items = [i for i in items if i["HistoryItemType"] == kind]
        if start is not None:
            items = [i for i in items if i["Timestamp"] >= _naive_utc(start)]
        if end is not None:
            items = [i for i in items if i["Timestamp"] <= _naive_utc(end)]
        if scan_by == "TimestampDescending":
            items.reverse()
        offset = 0
        if token:
            try:
                offset = int(token)
            except ValueError:
                raise InvalidNextToken("The service returned an error: invalid NextToken")
        page = items[offset : offset + max_records]
        result: dict[str, Any] = {"AlarmHistoryItems": page}
        if offset + max_records < len(items):
            result["NextToken"] = str(offset + max_records)
        return ActionResult(result)

    CloudWatchResponse.put_composite_alarm = put_composite_alarm  # type: ignore[attr-defined]
    CloudWatchResponse.describe_alarms = describe_alarms  # type: ignore[method-assign]
    CloudWatchResponse.describe_alarm_history = describe_alarm_history  # type: ignore[attr-defined]
