"""Calls by hour (or by day) and by outcome: as lines of text, and as a PNG of the same counts.

One `CallCounts` gives both, so the text beside a chart carries the chart's own numbers. The plotting
library (matplotlib, drawing with its Agg renderer into memory) is loaded by the first chart, in the
thread that draws it: a start does not pay for it, and neither does a server that never draws one.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..rules.counts import counted
from ..rules.outcomes import outcome_counts, outcome_key
from ..rules.sanitize import fence

# Bars a chart draws: two days by the hour; a longer time range is drawn by the day, up to this many.
MAX_PERIODS = 62
MAX_HOURS = 48
# Outcomes with a colour of their own, most frequent first; the rest are drawn and counted as one.
MAX_OUTCOMES = 8
OTHERS = "(other outcomes)"
WIDTH_PX, HEIGHT_PX = 1000, 480
# Colour-blind-safe (Okabe-Ito), then grey for the rest.
_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
_OTHERS_COLOUR = "#9E9E9E"
_LABEL_CAP = 28
CHART_HEAD = "Chart (PNG) beside this text: "


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    label: str


def periods(start: datetime, end: datetime, zone: ZoneInfo) -> tuple[str, list[Period]] | None:
    """The hours from `start` to `end` in `zone` (the days, when there are more than `MAX_HOURS`
    hours), each labelled as the chart and its text show it: ("hour", …) or ("day", …). None when
    even the days are more than a chart can draw."""
    start, end = start.astimezone(zone), end.astimezone(zone)
    if end - start <= timedelta(hours=MAX_HOURS):
        one_day = start.date() == (end - timedelta(microseconds=1)).date()
        shape = "%H:00" if one_day else "%m-%d %H:00"
        moment, found = start.replace(minute=0, second=0, microsecond=0), []
        while moment < end:
            after = _hour_after(moment, zone, end)
            found.append(Period(max(moment, start), min(after, end), moment.strftime(shape)))
            moment = after
        return "hour", found
    if (end - start).days > MAX_PERIODS:  # counted before a day is made: 1990 to 9999 took 30 s
        return None
    day, found = start.date(), []
    while (begin := datetime.combine(day, time(), zone)) < end:
        last = day == date.max  # 9999-12-31 has no next day to end at: it ends with the span
        after = end if last else datetime.combine(day + timedelta(days=1), time(), zone)
        found.append(Period(max(begin, start), min(after, end), day.isoformat()))
        if last:
            break
        day += timedelta(days=1)
    return ("day", found) if len(found) <= MAX_PERIODS else None


def _hour_after(moment: datetime, zone: ZoneInfo, end: datetime) -> datetime:
    """The hour after `moment`, stepped in UTC as a day with a clock change has 23 or 25 hours. At
    the calendar's edges UTC has no such time (the first hours of year 1 east of Greenwich, the last
    of 9999 west of it) and the step overflowed, failing every chart there: there no clock changes,
    so the step is by the zone's clock, and past 9999 the span's end."""
    try:
        return (moment.astimezone(UTC) + timedelta(hours=1)).astimezone(zone)
    except OverflowError:
        pass
    try:
        return moment + timedelta(hours=1)
    except OverflowError:
        return end


@dataclass(frozen=True)
class CallCounts:
    """The calls of a time range counted by period and outcome: `raw` holds each period's counts by
    outcome as the store counts them (spellings not yet folded into one outcome)."""

    heading: str
    zone: str
    unit: str
    labels: tuple[str, ...]
    raw: tuple[Mapping[str, int], ...]

    @property
    def total(self) -> int:
        return sum(sum(counts.values()) for counts in self.raw)

    def raw_total(self) -> dict[str, int]:
        """Every period's counts added up: the range's counts by outcome as the store gives them."""
        summed: Counter[str] = Counter()
        for counts in self.raw:
            summed.update(counts)
        return dict(summed)

    def by_outcome(self) -> dict[str, int]:
        """The chart's outcomes, most first: each outcome once, the rest as `OTHERS`."""
        ranked = list(outcome_counts(self.raw_total()).items())
        shown = dict(ranked[:MAX_OUTCOMES])
        rest = sum(n for _, n in ranked[MAX_OUTCOMES:])
        return shown | {OTHERS: rest} if rest else shown

    def per_period(self) -> list[dict[str, int]]:
        """Each period's counts under the chart's outcomes (a spelling the whole range folds
        into another is counted under that one)."""
        shown = self.by_outcome()
        spelling = {outcome_key(name): name for name in outcome_counts(self.raw_total())}
        grid = []
        for counts in self.raw:
            row: Counter[str] = Counter()
            for name, n in outcome_counts(counts).items():
                named = spelling.get(outcome_key(name), name)
                row[named if named in shown else OTHERS] += n
            grid.append(dict(row))
        return grid

    def totals(self) -> list[int]:
        return [sum(counts.values()) for counts in self.raw]


def chart_text(counts: CallCounts) -> str:
    """What the chart shows, in words and the very same numbers."""
    busy = [f"{label} {n:,}" for label, n in zip(counts.labels, counts.totals(), strict=True) if n]
    quiet = len(counts.labels) - len(busy)
    lines = [
        f"{CHART_HEAD}{counts.heading}: {counted(counts.total, 'call')}, "
        f"by {counts.unit} ({counts.zone}) and by outcome.",
        f"By {counts.unit}: " + ", ".join(busy) + (f" (none in the other {quiet:,})" if quiet else ""),
        "By outcome, as coloured in the chart:",
        # Outcome names are what the pushes said: customer text.
        *fence([", ".join(f"{name} {n:,}" for name, n in counts.by_outcome().items())]),
    ]
    return "\n".join(lines)


_DRAWING = threading.Lock()


def chart_png(counts: CallCounts) -> bytes:
    """The chart as a PNG: calls stacked by outcome in each period, beside the counts by outcome.

    Drawn with matplotlib's object interface (no pyplot, whose global state is not for servers), one
    chart at a time."""
    from matplotlib import rc_context

    # Outcome names and the heading's filters are what a push or a user wrote: matplotlib would read
    # `$…$` in them as a formula, drawing other text than was sent, and one it cannot parse failed
    # every chart of a span holding it. Set for the whole drawing, tick labels made by savefig too.
    with _DRAWING, warnings.catch_warnings(), rc_context({"text.parse_math": False}):
        # A name in a script the bundled font lacks is drawn as boxes, not worth a warning each time.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
        return _draw(counts)


def _draw(counts: CallCounts) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    outcomes = counts.by_outcome()
    colours = {
        name: _OTHERS_COLOUR if name == OTHERS else _COLOURS[i % len(_COLOURS)]
        for i, name in enumerate(outcomes)
    }
    figure = Figure(figsize=(WIDTH_PX / 100, HEIGHT_PX / 100), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    by_period, by_outcome = figure.subplots(1, 2, width_ratios=[3, 2])
    figure.suptitle(_short(counts.heading, 110) + f": {counted(counts.total, 'call')}", fontsize=11)

    grid = counts.per_period()
    places = list(range(len(counts.labels)))
    bottom = [0] * len(places)
    for name in outcomes:
        heights = [row.get(name, 0) for row in grid]
        by_period.bar(places, heights, bottom=bottom, color=colours[name], width=0.8)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    for place, total in zip(places, counts.totals(), strict=True):
        if total:
            by_period.annotate(f"{total:,}", (place, total), ha="center", va="bottom", fontsize=8)
    by_period.set_xticks(places, counts.labels, rotation=90 if len(places) > 12 else 0, fontsize=8)
    by_period.yaxis.set_major_locator(MaxNLocator(integer=True))
    by_period.set_ylim(0, max(bottom, default=0) * 1.15 + 1)
    by_period.set_title(f"Calls by {counts.unit} ({counts.zone})", fontsize=10)
    by_period.spines[["top", "right"]].set_visible(False)

    names = list(outcomes)
    rows = list(range(len(names)))
    by_outcome.barh(rows, list(outcomes.values()), color=[colours[n] for n in names])
    by_outcome.set_yticks(rows, [_short(n, _LABEL_CAP) for n in names], fontsize=8)
    by_outcome.invert_yaxis()  # the most frequent on top
    for row, n in zip(rows, outcomes.values(), strict=True):
        by_outcome.annotate(f" {n:,}", (n, row), va="center", fontsize=8)
    by_outcome.set_xlim(0, max(outcomes.values(), default=0) * 1.2 + 1)
    by_outcome.xaxis.set_major_locator(MaxNLocator(integer=True))
    by_outcome.set_title("By outcome", fontsize=10)
    by_outcome.spines[["top", "right"]].set_visible(False)

    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100, facecolor="white")
    return out.getvalue()


def _short(text: str, cap: int) -> str:
    return text if len(text) <= cap else text[: cap - 1] + "…"
