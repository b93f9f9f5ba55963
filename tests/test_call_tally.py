"""The call tally: the calls counted as they are stored, read for every question about a span of
time. Its answers are the calls' own, counted here from the pushes themselves, for spans on and off
its quarter hours, with every filter it takes, after repeats, pushes ahead of now, a prune that cuts
a quarter hour, and for calls kept before the tally existed. On a real SQLite file and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ameyo_mcp.store import CallEvent, CallQuery, Store
from ameyo_mcp.store.explain import explaining
from ameyo_mcp.store.schema import MIGRATIONS
from tests.test_store import execute_directly

IST = ZoneInfo("Asia/Kolkata")
# Not on a quarter hour: today in India began at 18:30 UTC the day before.
NOW = datetime(2026, 11, 28, 10, 7, 13, tzinfo=UTC)
DAY = datetime(2026, 11, 28, tzinfo=IST)
DISPOSITIONS = (
    ("FOREIGN_LANGUAGE", "Foreign Language", "CONNECTED"),
    ("FOREIGN_LANGUAGE", None, "CONNECTED"),
    (None, "Foreign Language", None),
    ("CB", "Callback", "CONNECTED"),
    (None, None, "BUSY"),
    ("", "", ""),
    (None, None, None),
)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with Store(database_url) as opened:
        yield opened


def pushes(count: int = 400) -> list[CallEvent]:
    """Calls over two days around NOW, some on quarter hours and a second either side of them, some
    ahead of now; three campaigns and none; every kind of disposition, and some pushed twice."""
    events = []
    for i in range(count):
        offset = (i * 977) % (26 * 3600) - 25 * 3600  # from a day and an hour ago to an hour ahead
        if i % 5 == 0:
            offset -= offset % 900 + (i % 3) - 1  # a second before, on, or a second after a quarter hour
        code, name, system = DISPOSITIONS[i % len(DISPOSITIONS)]
        at = NOW + timedelta(seconds=offset)
        events.append(
            CallEvent(
                received_at=at,
                call_id=f"c{i}",
                campaign_id=(1, 2, 3, None)[i % 4],
                customer_id=i % 37,
                disposition=code,
                disposition_name=name,
                system_disposition=system,
                started_at=at,
                raw={"callId": f"c{i}"},
            )
        )
    return events + events[::9]


@dataclass(frozen=True)
class Asked:
    since: datetime | None = None
    until: datetime | None = None
    campaign_id: int | None = None
    disposition: str | None = None
    system_disposition: str | None = None

    def query(self) -> CallQuery:
        return CallQuery(**self.__dict__, limit=5)


def counted(events: Sequence[CallEvent], asked: Asked) -> dict[str, int]:
    """What the calls say, counted one by one: the answer the store must give."""
    seen: set[str] = set()
    found: dict[str, int] = {}
    for event in events:
        if event.dedup_key() in seen:
            continue
        seen.add(event.dedup_key())
        if asked.since is not None and event.at < asked.since:
            continue
        if asked.until is not None and event.at >= asked.until:
            continue
        if asked.campaign_id is not None and event.campaign_id != asked.campaign_id:
            continue
        # An empty text is kept as none: it equals nothing asked.
        system = event.system_disposition or None
        if asked.system_disposition is not None and system != asked.system_disposition:
            continue
        if asked.disposition is not None:
            wanted = asked.disposition.lower().replace("_", " ")
            spellings = (event.disposition, event.disposition_name)
            if not any(s and s.lower().replace("_", " ") == wanted for s in spellings):
                continue
        found[event.outcome] = found.get(event.outcome, 0) + 1
    return found


SPANS = (
    (None, None),
    (DAY, None),  # the resource: today so far
    (DAY, NOW + timedelta(seconds=1)),  # ameyo_call_history: today until now
    (DAY - timedelta(days=1), DAY),
    (NOW - timedelta(hours=3, seconds=-7), NOW - timedelta(hours=1, seconds=450)),
    (NOW - timedelta(seconds=200), NOW - timedelta(seconds=100)),  # inside one quarter hour
    (None, NOW - timedelta(hours=5, seconds=13)),
    (NOW, NOW),
    (NOW, NOW - timedelta(hours=1)),
)
FILTERS: tuple[dict[str, str | int], ...] = (
    {},
    {"campaign_id": 1},
    {"disposition": "foreign language"},
    {"disposition": "FOREIGN_LANGUAGE", "campaign_id": 2},
    {"system_disposition": "BUSY"},
    {"disposition": ""},
    {"system_disposition": ""},
)


def assert_counted_as_the_calls(store: Store, events: Sequence[CallEvent]) -> None:
    for since, until in SPANS:
        for filters in FILTERS:
            asked = Asked(since, until, **filters)  # type: ignore[arg-type]
            found = store.call_history(asked.query())
            expected = counted(events, asked)
            assert found.by_outcome == expected, asked
            assert found.total == sum(expected.values()), asked


def test_counts_of_any_span_and_filter_are_the_calls_own(store: Store) -> None:
    events = pushes()
    added = store.add_calls(events[:150])
    added += [store.add_call(e) for e in events[150:]]
    assert sum(added) == 400  # the repeats were not stored again
    assert_counted_as_the_calls(store, events)


def test_a_prune_that_cuts_a_quarter_hour_uncounts_exactly_the_calls_it_removes(store: Store) -> None:
    events = pushes()
    store.add_calls(events)
    cutoff = NOW - timedelta(hours=20, seconds=-123)  # 14:09:16 the day before: not on a quarter hour
    removed = store.prune_calls(older_than_days=1, now=cutoff + timedelta(days=1))
    kept = [e for e in events if e.at >= cutoff]
    assert removed == len({e.dedup_key() for e in events}) - len({e.dedup_key() for e in kept})
    assert removed > 0
    assert_counted_as_the_calls(store, kept)
    # What the pruned calls' quarter hours held is gone with them.
    assert store.day_tallies(NOW - timedelta(days=3), cutoff - timedelta(seconds=123)).calls == 0


def test_the_marker_counts_the_calls_since_and_names_the_newest(store: Store) -> None:
    events = pushes()
    store.add_calls(events)
    ids = {c.event.call_id: c.id for c in store.call_history(CallQuery(limit=1000)).calls}
    for since in (DAY, NOW - timedelta(hours=2, seconds=17), NOW + timedelta(hours=2)):
        theirs = {e.call_id for e in events if e.at >= since}
        assert store.call_marker(since) == (len(theirs), max((ids[c] for c in theirs if c), default=0))
    before = store.call_marker(DAY)
    assert store.add_call(events[0]) is False  # a repeat changes nothing
    assert store.call_marker(DAY) == before
    yesterday = CallEvent(
        received_at=DAY - timedelta(hours=1), call_id="late", started_at=DAY - timedelta(hours=1)
    )
    assert store.add_call(yesterday)  # yesterday's call pushed late: not today's
    assert store.call_marker(DAY) == before
    assert store.add_call(CallEvent(received_at=NOW, call_id="new", started_at=NOW))
    count, newest = store.call_marker(DAY)
    assert count == before[0] + 1 and newest > before[1]


def test_a_day_is_told_by_outcome_by_campaign_and_hour_by_hour(store: Store) -> None:
    events = pushes()
    store.add_calls(events)
    day = store.day_tallies(DAY - timedelta(days=1), DAY)
    expected = counted(events, Asked(DAY - timedelta(days=1), DAY))
    assert day.calls == sum(expected.values()) > 0
    assert day.by_outcome == expected
    assert list(day.by_outcome.values()) == sorted(day.by_outcome.values(), reverse=True)
    by_campaign: dict[int | None, set[str]] = {}
    for e in events:
        if DAY - timedelta(days=1) <= e.at < DAY:
            by_campaign.setdefault(e.campaign_id, set()).add(e.dedup_key())
    assert day.by_campaign == {campaign: len(keys) for campaign, keys in by_campaign.items()}
    assert None in day.by_campaign
    assert len(day.hours) == 24
    for i, hour in enumerate(day.hours):
        start = DAY - timedelta(days=1) + timedelta(hours=i)
        assert hour.start == start and hour.start.tzinfo is not None
        assert hour.by_outcome == counted(events, Asked(start, start + timedelta(hours=1))), start
        assert hour.calls == sum(hour.by_outcome.values())
    # A span not on a quarter hour, cut short by its end: exact in all, every hour listed.
    since = NOW - timedelta(hours=5, seconds=-7)
    span = store.day_tallies(since, NOW)
    assert span.by_outcome == counted(events, Asked(since, NOW))
    assert len(span.hours) == 5 and sum(h.calls for h in span.hours) == span.calls
    with pytest.raises(ValueError, match="after"):
        store.day_tallies(NOW, NOW)


def test_calls_kept_before_the_tally_existed_are_counted_in(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ameyo_mcp.store.connection as connection

    with monkeypatch.context() as patched:
        patched.setattr(connection, "MIGRATIONS", MIGRATIONS[:6])
        with Store(database_url) as store:
            store.calls_held()  # opens it: schema version 6, calls and no tally
    events = pushes(60)[:60]
    # Written as the store of version 6 wrote them: an empty text kept as NULL.
    rows = []
    for i, e in enumerate(events):
        texts = [f"'{v}'" if v else "NULL" for v in (e.disposition, e.disposition_name, e.system_disposition)]
        campaign = "NULL" if e.campaign_id is None else str(e.campaign_id)
        at = int(e.at.timestamp())
        rows.append(f"('k{i}', {at}, {at}, 'c{i}', {campaign}, {e.customer_id}, {', '.join(texts)}, '{{}}')")
    execute_directly(
        database_url,
        "INSERT INTO calls (dedup_key, received_at, at, call_id, campaign_id, customer_id, disposition, "
        f"disposition_name, system_disposition, raw) VALUES {', '.join(rows)}",
    )
    with Store(database_url) as store:
        assert_counted_as_the_calls(store, events)
        later = CallEvent(received_at=NOW, call_id="after", campaign_id=1, system_disposition="BUSY")
        assert store.add_call(later)
        assert_counted_as_the_calls(store, [*events, later])


def test_the_hot_reads_are_planned_on_their_indexes_whatever_the_statistics(tmp_path: Path) -> None:
    """SQLite's plans of the reads behind a customer's answer and today's figures, without
    statistics and with them (sampled, as the store gathers them, and in full): what the slow test
    shows at 200,000 calls, here on a small file."""
    import sqlite3

    url = str(tmp_path / "calls.db")
    with Store(url) as store:
        store.add_calls(pushes(3000))
    for gathered in (None, 400, 0):
        if gathered is not None:
            conn = sqlite3.connect(url)
            conn.execute(f"PRAGMA analysis_limit={gathered}")
            conn.execute("ANALYZE")
            conn.commit()
            conn.close()
        with Store(url) as store, explaining() as plans:
            store.last_call(5, campaign_id=2)
        assert any(
            "USING INDEX calls_customer_campaign (customer_id=? AND campaign_id=?)" in line
            for p in plans
            for line in p.lines
        ), gathered
        with Store(url) as store, explaining() as plans:
            store.call_history(CallQuery(since=DAY, limit=50))
            store.call_marker(DAY)
        on_calls = [p for p in plans if " FROM calls" in p.sql]
        # Today's figures come from the tally; the calls are read only for the list, in index order.
        assert len(on_calls) == 1 and " LIMIT " in on_calls[0].sql, [p.sql for p in on_calls]
        assert on_calls[0].lines == ("SEARCH calls USING INDEX calls_at (at>?)",), gathered
        with Store(url) as store, explaining() as plans:
            store.call_history(
                CallQuery(customer_ids=tuple(range(0, 37, 3)), campaign_id=1, since=DAY, limit=20)
            )
            store.call_history(CallQuery(phones=("919812345678",), campaign_id=1, since=DAY, limit=20))
        for plan in [p for p in plans if " FROM calls" in p.sql]:
            assert any(
                line.startswith(
                    ("SEARCH calls USING INDEX calls_customer ", "SEARCH calls USING INDEX calls_phone ")
                )
                for line in plan.lines
            ), (gathered, plan)


def test_a_store_that_was_small_once_still_reads_a_customer_by_index_once_it_has_grown(
    tmp_path: Path,
) -> None:
    """A store opened and closed while it held a call or two (a CLI sync before the first push, a
    test run) must leave nothing that tells SQLite the calls table is tiny: with statistics that
    said so, every look for a customer's or a number's calls scanned the whole table, and a day's
    soak slowed each answer as the calls piled up."""
    url = str(tmp_path / "calls.db")

    def call(i: int) -> CallEvent:
        return CallEvent(
            received_at=NOW - timedelta(seconds=i),
            call_id=f"s{i}",
            campaign_id=1,
            customer_id=i % 500,
            phone=f"9198{i % 500:08d}",
            system_disposition="BUSY",
            raw={"callId": f"s{i}"},
        )

    with Store(url) as store:
        store.add_calls([call(0)])
        store.call_history(CallQuery(phones=("919800000007",), limit=20))  # a look while it is small
    with Store(url) as store:
        store.add_calls([call(i) for i in range(1, 5000)])
    with Store(url) as store, explaining() as plans:
        store.last_call(7, campaign_id=1)
        store.call_history(CallQuery(customer_id=7, since=NOW - timedelta(hours=1), limit=20))
        store.call_history(CallQuery(phones=("919800000007",), since=NOW - timedelta(hours=1), limit=20))
        store.call_history(CallQuery(phones=("919800000007",), limit=20))
    scans = [(p.sql, line) for p in plans for line in p.lines if line.startswith("SCAN calls")]
    assert scans == []


def test_the_history_s_span_and_its_agents_in_any_case(store: Store) -> None:
    assert store.calls_held() is None and store.agents(CallQuery()) == []
    events = [
        CallEvent(received_at=NOW - timedelta(minutes=i), call_id=f"a{i}", campaign_id=1 + i % 2, agent=agent)
        for i, agent in enumerate(["agent3", "Agent3", "agent1", None, "AGENT3", "agent1", "zed"])
    ]
    store.add_calls(events)
    assert store.calls_held() == (NOW - timedelta(minutes=6), NOW)
    assert store.call_history(CallQuery(agent="agent3")).total == 3
    assert store.call_history(CallQuery(agent="AGENT3", campaign_id=1)).total == 2
    # Whatever agent the query names, and within its other filters; most calls first.
    # One agent in any case, as the query matches them, under one of its spellings.
    everyone = store.agents(CallQuery(agent="nobody"))
    assert everyone == [("AGENT3", 3), ("agent1", 2), ("zed", 1)]
    assert set(store.agents(CallQuery(campaign_id=1))) == {("AGENT3", 2), ("agent1", 1), ("zed", 1)}
    assert store.agents(CallQuery(), limit=1) == [("AGENT3", 3)]
