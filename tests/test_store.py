"""The store on a real SQLite file and a real PostgreSQL: the same tests, both backends."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ameyo_mcp.errors import StoreError
from ameyo_mcp.store import (
    CallEvent,
    CallQuery,
    ContactQuery,
    ContactRow,
    Store,
    fold_words,
)
from ameyo_mcp.store.records import RAW_CAP_BYTES
from ameyo_mcp.store.schema import MIGRATIONS

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
CAMPAIGN = 7


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with Store(database_url) as opened:
        yield opened


def row(cid: int, *phones: str, name: str = "", status: str = "NOT_TRIED", lead: int = 21) -> ContactRow:
    return ContactRow(
        customer_id=cid,
        lead_id=lead,
        phones=phones,
        names=(name,),
        status=status,
        attempts=0,
        dialled_at=NOW - timedelta(hours=1),
    )


def ids(found: list[object]) -> list[int]:
    return [c.customer_id for c in found]  # type: ignore[attr-defined]


def test_folding_drops_case_accents_and_punctuation() -> None:
    assert fold_words("Ñuño  O'Brien", "JOSÉ", None, "nuno") == ["nuno", "o", "brien", "jose"]
    assert fold_words("%_ ") == []
    assert len(fold_words(" ".join(f"w{i}" for i in range(100)))) == 12
    assert fold_words("x" * 500) == ["x" * 40]


def test_lookups_by_whole_number_last_digits_and_name(store: Store) -> None:
    store.upsert_contacts(
        CAMPAIGN,
        [
            row(1, "+919812345678", "+912212345678", name="Priya Sharma"),
            row(2, "+919800045678", name="José Álvarez"),
            row(3, "+14155550100", name="Priyanka Rao"),
        ],
        campaign_name="MoviStarSurvey",
    )
    assert ids(store.find_by_phone(CAMPAIGN, "+919812345678")) == [1]
    assert ids(store.find_by_phone(CAMPAIGN, "+912212345678")) == [1]
    assert store.find_by_phone(CAMPAIGN, "9812345678") == []
    assert ids(store.find_by_tail(CAMPAIGN, "45678")) == [1, 2]
    assert ids(store.find_by_tail(CAMPAIGN, "345678")) == [1]
    assert ids(store.find_by_tail(CAMPAIGN, "0100")) == [3]
    assert ids(store.find_by_tail(CAMPAIGN, "45678", limit=1)) in ([1], [2])
    assert store.find_by_tail(CAMPAIGN + 1, "45678") == []
    assert ids(store.search_names(CAMPAIGN, "priy")) == [1, 3]
    assert ids(store.search_names(CAMPAIGN, "PRIYA sha")) == [1]
    assert ids(store.search_names(CAMPAIGN, "jose alv")) == [2]
    assert ids(store.search_names(CAMPAIGN, "ALVAREZ")) == [2]
    assert store.search_names(CAMPAIGN, "arma") == []
    assert ids(store.search_names(CAMPAIGN, "arma", contains=True)) == [1]
    assert store.search_names(CAMPAIGN, "  ") == []
    assert ids(store.contacts(CAMPAIGN)) == [1, 2, 3]
    assert ids(store.contacts(CAMPAIGN, after=1, limit=1)) == [2]
    found = store.contact(CAMPAIGN, 1)
    assert found is not None
    assert found.phones == ("+919812345678", "+912212345678")
    assert found.names == "priya sharma"
    assert found.lead_id == 21 and found.status == "NOT_TRIED"
    assert found.dialled_at == NOW - timedelta(hours=1)
    with pytest.raises(ValueError, match="digit"):
        store.find_by_tail(CAMPAIGN, "")


def test_contacts_are_read_by_campaign_and_customer_in_one_go_with_their_names_as_given(store: Store) -> None:
    store.upsert_contacts(
        CAMPAIGN, [row(1, "+911111111111", name="Lucía Gómez")._replace(name="Lucía Gómez")]
    )
    store.upsert_contacts(CAMPAIGN, [row(2, "+912222222222", name="Old Index")])  # as an index before names
    found = store.contacts_at([(CAMPAIGN, 1), (CAMPAIGN, 2), (CAMPAIGN, 3), (CAMPAIGN + 1, 1), (CAMPAIGN, 1)])
    assert sorted(found) == [(CAMPAIGN, 1), (CAMPAIGN, 2)]
    assert found[(CAMPAIGN, 1)].shown_name == "Lucía Gómez" and found[(CAMPAIGN, 1)].names == "lucia gomez"
    assert found[(CAMPAIGN, 2)].name is None and found[(CAMPAIGN, 2)].shown_name == "Old Index"


def test_an_upsert_replaces_phones_and_names(store: Store) -> None:
    store.upsert_contacts(CAMPAIGN, [row(1, "+911111111111", "+912222222222", name="Old Name")])
    new = store.upsert_contacts(CAMPAIGN, [row(1, "+912222222222", "+913333333333", name="New Name")])
    assert new == 0
    assert store.find_by_phone(CAMPAIGN, "+911111111111") == []
    assert ids(store.find_by_phone(CAMPAIGN, "+912222222222")) == [1]
    assert ids(store.find_by_phone(CAMPAIGN, "+913333333333")) == [1]
    assert store.search_names(CAMPAIGN, "old") == []
    assert ids(store.search_names(CAMPAIGN, "new name")) == [1]
    campaign = store.campaign(CAMPAIGN)
    assert campaign is not None and campaign.contacts == 1


def test_batches_larger_than_a_write_keep_every_row_and_key_as_given(store: Store) -> None:
    # More contacts than one write takes (they go in several, through one staging table on
    # PostgreSQL), with text that COPY must escape: every row, key and removal lands once.
    odd = 'tab\there, back\\slash\\N, new\nline, quote\' "Ñandú" \\.'
    many = [row(i, f"+9197{i:08d}", name=f"Ana {i}", status=f"{odd} {i}") for i in range(1, 2_001)]
    assert store.upsert_contacts(CAMPAIGN, many) == 2_000
    for cid in (1, 900, 901, 2_000):
        found = store.contact(CAMPAIGN, cid)
        assert found is not None and found.status == f"{odd} {cid}"
        assert ids(store.find_by_phone(CAMPAIGN, f"+9197{cid:08d}")) == [cid]
    # Every contact changes its number and name: the old keys go, the new ones come, in bulk.
    moved = [row(i, f"+9196{i:08d}", name=f"Eva {i}") for i in range(1, 2_001)]
    assert store.upsert_contacts(CAMPAIGN, moved) == 0
    assert store.find_by_phone(CAMPAIGN, "+919700001500") == []
    assert ids(store.find_by_phone(CAMPAIGN, "+919600001500")) == [1_500]
    assert store.search_names(CAMPAIGN, "ana") == []
    assert len(store.search_names(CAMPAIGN, "eva", limit=5_000)) == 2_000
    # A complete pass that sees a tenth of them removes the rest, with their keys.
    opened = store.begin_pass(CAMPAIGN, now=NOW)
    kept = [row(i, f"+9196{i:08d}", name=f"Eva {i}") for i in range(1, 2_001, 10)]
    store.upsert_contacts(CAMPAIGN, kept, pass_number=opened.number)
    assert store.finish_pass(CAMPAIGN, opened.number, now=NOW) == 1_800
    assert store.find_by_phone(CAMPAIGN, "+919600001500") == []
    assert ids(store.find_by_phone(CAMPAIGN, "+919600001501")) == [1_501]
    assert len(store.search_names(CAMPAIGN, "eva", limit=5_000)) == 200
    done = store.campaign(CAMPAIGN)
    assert done is not None and done.contacts == 200


def test_a_full_pass_removes_what_it_did_not_see_and_keeps_counts(store: Store) -> None:
    first = store.begin_pass(CAMPAIGN, name="MoviStarSurvey", now=NOW)
    assert (first.number, first.cursor, first.resumed) == (1, None, False)
    store.upsert_contacts(
        CAMPAIGN,
        [row(i, f"+9198000000{i:02d}", status="BUSY" if i % 2 else "NOT_TRIED") for i in range(1, 11)],
        pass_number=first.number,
        cursor="10",
    )
    assert store.finish_pass(CAMPAIGN, first.number, now=NOW) == 0
    done = store.campaign(CAMPAIGN)
    assert done is not None
    assert done.name == "MoviStarSurvey"
    assert (done.contacts, done.synced_contacts, done.synced_at) == (10, 10, NOW)
    assert dict(done.status_counts) == {"BUSY": 5, "NOT_TRIED": 5}
    assert done.pass_in_progress is None and done.cursor is None

    later = NOW + timedelta(hours=1)
    second = store.begin_pass(CAMPAIGN, now=later)
    assert second.number == 2
    # An upload while the pass runs counts as seen by it.
    store.upsert_contacts(CAMPAIGN, [ContactRow(customer_id=99, phones=("+919899999999",))])
    store.upsert_contacts(CAMPAIGN, [row(i, f"+9198000000{i:02d}") for i in range(1, 6)], pass_number=2)
    assert store.finish_pass(CAMPAIGN, 2, now=later) == 5
    assert store.find_by_phone(CAMPAIGN, "+919800000007") == []
    assert ids(store.find_by_phone(CAMPAIGN, "+919899999999")) == [99]
    after = store.campaign(CAMPAIGN)
    assert after is not None
    assert (after.contacts, after.synced_contacts, after.synced_at) == (6, 6, later)
    assert dict(after.status_counts) == {"NOT_TRIED": 5, "UNKNOWN": 1}
    # A second process that synced the same pass finds it closed: nothing more to do.
    assert store.finish_pass(CAMPAIGN, 2, now=later) == 0
    assert store.begin_pass(CAMPAIGN, restart=True, now=later).number == 3
    with pytest.raises(StoreError, match="replaced by a newer one"):
        store.finish_pass(CAMPAIGN, 2, now=later)


def test_a_first_pass_builds_its_keys_when_it_completes(database_url: str) -> None:
    """A campaign's first pass writes contacts only; its completion makes the keys from what the
    contacts hold then, whatever earlier interrupted passes or uploads left behind."""
    with Store(database_url) as store:
        store.upsert_contacts(CAMPAIGN + 1, [row(1, "+919800000001", name="Other Campaign")])
        interrupted = store.begin_pass(CAMPAIGN, now=NOW)
        store.upsert_contacts(
            CAMPAIGN,
            [row(1, "+919811111111", name="Old Name"), row(2, "+919822222222", name="Gone Soon")],
            pass_number=interrupted.number,
            cursor="2",
        )
    with Store(database_url) as store:  # another process restarts the pass
        opened = store.begin_pass(CAMPAIGN, restart=True, now=NOW)
        pages = [
            [row(1, "+919833333333", "+912244444444", name="New Name")],
            [row(i, f"+9198{i:08d}", name=f"Customer Number{i}") for i in range(3, 1203)],
            # Not a key the phone rule makes: kept out of the column the build splits.
            [row(1203, '98"76\\', "+919811110000", name="Quote O'Neil")],
        ]
        for n, page in enumerate(pages):
            store.upsert_contacts(CAMPAIGN, page, pass_number=opened.number, cursor=str(n), durable=False)
        assert store.find_by_phone(CAMPAIGN, "+919833333333") == []  # not yet: the pass is open
        assert store.finish_pass(CAMPAIGN, opened.number, now=NOW) == 1
        assert ids(store.find_by_phone(CAMPAIGN, "+919833333333")) == [1]
        assert ids(store.find_by_phone(CAMPAIGN, "+912244444444")) == [1]
        assert store.find_by_phone(CAMPAIGN, "+919811111111") == []
        assert store.find_by_phone(CAMPAIGN, "+919822222222") == []
        assert ids(store.find_by_tail(CAMPAIGN, "00001202")) == [1202]
        assert ids(store.find_by_phone(CAMPAIGN, "+919811110000")) == [1203]
        assert ids(store.search_names(CAMPAIGN, "oneil")) == [1203]  # as typed without its apostrophe
        assert ids(store.search_names(CAMPAIGN, "neil")) == [1203]
        assert ids(store.search_names(CAMPAIGN, "new name")) == [1]
        assert store.search_names(CAMPAIGN, "old") == [] and store.search_names(CAMPAIGN, "gone") == []
        assert ids(store.search_names(CAMPAIGN, "number1200")) == [1200]
        assert len(store.search_names(CAMPAIGN, "customer", limit=5000)) == 1200
        assert ids(store.find_by_phone(CAMPAIGN + 1, "+919800000001")) == [1]
        # Later passes keep the keys page by page again.
        later = store.begin_pass(CAMPAIGN, now=NOW)
        store.upsert_contacts(CAMPAIGN, [row(1, "+919855555555")], pass_number=later.number)
        assert ids(store.find_by_phone(CAMPAIGN, "+919855555555")) == [1]
        assert store.find_by_phone(CAMPAIGN, "+919833333333") == []


def test_an_interrupted_pass_resumes_from_its_cursor(database_url: str) -> None:
    with Store(database_url) as store:
        opened = store.begin_pass(CAMPAIGN, now=NOW)
        store.upsert_contacts(CAMPAIGN, [row(1, "+911")], pass_number=opened.number, cursor="page-1")
        assert store.load_cursor(CAMPAIGN) == "page-1"
    with Store(database_url) as store:  # another process, after a crash
        resumed = store.begin_pass(CAMPAIGN, now=NOW)
        assert (resumed.number, resumed.cursor, resumed.resumed) == (opened.number, "page-1", True)
        store.save_cursor(CAMPAIGN, resumed.number, "page-2")
        assert store.load_cursor(CAMPAIGN) == "page-2"
        fresh = store.begin_pass(CAMPAIGN, restart=True, now=NOW)
        assert (fresh.number, fresh.cursor) == (opened.number + 1, None)
        assert store.load_cursor(CAMPAIGN) is None
        # A cursor for a pass that is no longer open is not kept.
        store.save_cursor(CAMPAIGN, opened.number, "stale")
        assert store.load_cursor(CAMPAIGN) is None
        assert [c.campaign_id for c in store.campaigns()] == [CAMPAIGN]


def event(call_id: str | None, **fields: object) -> CallEvent:
    values: dict[str, object] = {
        "received_at": NOW,
        "call_id": call_id,
        "campaign_id": CAMPAIGN,
        "customer_id": 1,
        "phone": "+919812345678",
        "agent": "agent1",
        "disposition": "Interested",
        "system_disposition": "CONNECTED",
        "started_at": NOW - timedelta(minutes=5),
        "talk_s": 42.5,
        "raw": {"callId": call_id, "dispositionCode": "Interested"},
    }
    values.update(fields)
    return CallEvent(**values)  # type: ignore[arg-type]


def test_call_events_are_kept_once_and_queried(store: Store) -> None:
    store.upsert_contacts(CAMPAIGN, [row(1, "+919812345678", status="NOT_TRIED")])
    assert store.add_call(event("c1")) is True
    assert store.add_call(event("c1")) is False  # a retried push
    assert store.add_call(event("c1", disposition="Callback")) is True  # a new outcome of the call
    assert (
        store.add_call(
            event(
                "c2",
                customer_id=2,
                phone="+14155550100",
                agent="agent2",
                disposition=None,
                system_disposition="NO_ANSWER",
                started_at=NOW - timedelta(hours=30),
            )
        )
        is True
    )
    assert store.add_call(event(None, raw={"phone": "98"})) is True
    assert store.add_call(event(None, raw={"phone": "98"})) is False

    today = store.call_history(CallQuery(since=NOW - timedelta(hours=24)))
    assert today.total == 3
    assert today.by_outcome == {"Interested": 2, "Callback": 1}
    everything = store.call_history(CallQuery(limit=2))
    assert everything.total == 4 and len(everything.calls) == 2
    assert store.call_history(CallQuery(agent="agent2")).by_outcome == {"NO_ANSWER": 1}
    assert store.call_history(CallQuery(system_disposition="NO_ANSWER")).total == 1
    assert store.call_history(CallQuery(phones=("+919812345678",))).total == 3
    assert store.call_history(CallQuery(phone_tails=("50100",))).total == 1
    assert store.call_history(CallQuery(disposition="Callback", customer_id=1)).total == 1
    assert store.call_history(CallQuery(campaign_id=CAMPAIGN + 1)).total == 0
    assert store.call_history(CallQuery(until=NOW - timedelta(hours=24))).total == 1

    last = store.last_call(2, campaign_id=CAMPAIGN)
    assert last is not None
    assert last.event.call_id == "c2" and last.event.talk_s == 42.5
    assert last.event.started_at == NOW - timedelta(hours=30)
    assert last.event.raw == {"callId": "c2", "dispositionCode": "Interested"}
    assert store.last_call(3) is None
    # The index learned the customer's last outcome from the newest call.
    learned = store.contact(CAMPAIGN, 1)
    assert learned is not None and learned.disposition in ("Interested", "Callback")
    assert learned.dialled_at == NOW - timedelta(minutes=5)

    assert store.prune_calls(older_than_days=1, now=NOW) == 1
    assert store.call_history(CallQuery()).total == 3


def test_a_batch_of_calls_is_one_transaction(store: Store) -> None:
    # The receiver commits the pushes that arrive together as one batch: repeats inside the batch
    # and against earlier batches are recognised, and a bad event keeps the whole batch out.
    assert store.add_calls([event("b1"), event("b1"), event("b2")]) == [True, False, True]
    assert store.add_calls([event("b2"), event("b3")]) == [False, True]
    # A batch larger than one statement holds: a repeat across statements is still a repeat.
    many = [event(f"m{i}") for i in range(120)] + [event("m3")]
    assert store.add_calls(many) == [True] * 120 + [False]
    with pytest.raises(ValueError, match="zone"):
        store.add_calls([event("b4"), event("b5", received_at=datetime(2026, 1, 1))])
    assert store.call_history(CallQuery()).total == 123


def test_a_far_off_time_stored_before_the_receiver_refused_them_is_read_not_failed_on(store: Store) -> None:
    """Year 1 in Asia/Kolkata is year 0 in UTC, which no datetime holds: every call-history question
    failed (ValueError) until the row was pruned, and one dated 9999 never was."""
    kolkata = ZoneInfo("Asia/Kolkata")
    store.add_calls(
        [
            event("far-back", started_at=datetime(1, 1, 1, tzinfo=kolkata)),
            event("far-ahead", started_at=datetime(9999, 12, 31, 23, 59, tzinfo=kolkata)),
            # Held by UTC, but past the calendar read in Asia/Kolkata.
            event("past-the-calendar", started_at=datetime(9999, 12, 31, 20, tzinfo=UTC)),
            event("now"),
        ]
    )
    held = store.calls_held()
    assert held is not None and held[0].year == 1 and held[1].year == 9999
    found = store.call_history(CallQuery(customer_id=1))
    ids = [c.event.call_id for c in found.calls]
    assert set(ids[:2]) == {"far-ahead", "past-the-calendar"} and ids[2:] == ["now", "far-back"], ids
    assert all(c.event.at.astimezone(kolkata) for c in found.calls)  # each one shown in the zone


def test_sqlite_without_returning_keeps_calls_as_sqlite_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite before 3.35 (Debian 11's, RHEL 9's) has no INSERT … RETURNING: the store reads the keys
    # already kept first. The same batches must give the same answers and the same rows.
    from ameyo_mcp.store import backends

    seen = {}
    for version in ((3, 35, 0), (3, 34, 1)):
        monkeypatch.setattr(backends, "_sqlite_version", lambda v=version: v)
        with Store(str(tmp_path / f"{version[1]}.db")) as store:
            seen[version] = (
                store.add_calls([event("b1"), event("b1"), event("b2")]),
                store.add_calls([event("b2"), event("b3")]),
                store.add_calls([event(f"m{i}") for i in range(120)] + [event("m3"), event("b1")]),
                [(c.id, c.event.call_id) for c in store.call_history(CallQuery(limit=500)).calls],
            )
    assert seen[(3, 34, 1)] == seen[(3, 35, 0)]
    assert seen[(3, 34, 1)][:3] == ([True, False, True], [False, True], [True] * 120 + [False, False])


def test_an_sqlite_older_than_the_store_needs_is_refused_saying_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.31.1")
    with (
        pytest.raises(
            StoreError, match=r"SQLite is 3\.31\.1; the index needs SQLite 3\.34\.0 or newer"
        ) as info,
        Store(str(tmp_path / "old.db")) as store,
    ):
        store.campaigns()
    assert "PostgreSQL" in str(info.value.next_step)
    assert not (tmp_path / "old.db").exists()


def test_raw_fields_are_capped(store: Store) -> None:
    raw = {f"field{i}": "x" * 900 for i in range(40)} | {"huge": "y" * 50_000}
    assert store.add_call(event("big", raw=raw))
    kept = store.call_history(CallQuery()).calls[0].event.raw
    assert kept["_truncated"] is True
    assert len(str(kept)) <= RAW_CAP_BYTES + 200
    assert "field0" in kept


def test_raw_fields_of_any_json_value_are_kept_as_given(store: Store) -> None:
    """orjson writes the raw fields; what it refuses (an integer past 64 bits) is kept all the same."""
    raw = {"huge": 2**70, "name": "Priya Ñandú 😀", "nested": [{"userId": "agent7"}], "when": 1.5}
    assert store.add_call(event("any", raw=raw))
    assert store.call_history(CallQuery()).calls[0].event.raw == raw


def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="zone"):
        store.add_call(event("c1", received_at=datetime(2026, 1, 1)))


def test_schema_is_migrated_once_and_a_newer_one_is_refused(database_url: str) -> None:
    with Store(database_url) as store:
        assert store.campaigns() == []
    with Store(database_url) as store:  # opening again migrates nothing
        assert store.campaigns() == []
    # A later ameyo-mcp migrated this database further: written behind the store's back.
    execute_directly(database_url, f"INSERT INTO schema_version (version) VALUES ({len(MIGRATIONS) + 1})")
    with Store(database_url) as store, pytest.raises(StoreError, match="newer than this ameyo-mcp"):
        store.campaigns()


def execute_directly(url: str, sql: str) -> None:
    if url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.encode())
    else:
        import sqlite3

        with sqlite3.connect(url) as conn:
            conn.execute(sql)
        conn.close()


def test_an_index_of_the_first_schema_is_brought_forward(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An index written before the phones column held its keys reversed reads the same after."""
    import ameyo_mcp.store.connection as connection

    with monkeypatch.context() as patched:
        patched.setattr(connection, "MIGRATIONS", MIGRATIONS[:1])
        with Store(database_url) as store:
            store.calls_held()  # opens it: schema version 1
    execute_directly(
        database_url,
        "INSERT INTO contacts (campaign_id, customer_id, lead_id, phones, names, seen_pass) "
        f"VALUES ({CAMPAIGN}, 1, 21, '919812345678 912212345678', ' priya sharma ', 1)",
    )
    execute_directly(
        database_url,
        "INSERT INTO contact_phones (campaign_id, rkey, customer_id) VALUES "
        f"({CAMPAIGN}, '876543218919', 1), ({CAMPAIGN}, '876543212219', 1)",
    )
    with Store(database_url) as store:
        found = store.contact(CAMPAIGN, 1)
        assert found is not None and found.phones == ("919812345678", "912212345678")
        assert ids(store.find_by_tail(CAMPAIGN, "45678")) == [1]
        store.upsert_contacts(CAMPAIGN, [row(1, "912212345678", "917000000001", name="Priya Sharma")])
        assert store.find_by_phone(CAMPAIGN, "919812345678") == []
        assert ids(store.find_by_phone(CAMPAIGN, "917000000001")) == [1]
        changed = store.contact(CAMPAIGN, 1)
        assert changed is not None and changed.phones == ("912212345678", "917000000001")


def test_sqlite_file_is_owner_only_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "state" / "ameyo-mcp" / "index.db"
    with Store(str(path)) as store:
        assert store.backend == "sqlite"
        store.upsert_contacts(CAMPAIGN, [row(1, "+911")])
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        wal = path.with_name(path.name + "-wal")
        assert wal.exists() and stat.S_IMODE(wal.stat().st_mode) == 0o600


def test_an_unopenable_database_says_what_to_fix(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="AMEYO_DATABASE_URL") as through_a_file:
        Store(str(blocker / "index.db")).campaigns()
    # Which file is in the way, not mkdir's "File exists".
    assert f"({blocker} is a file, not a folder)" in str(through_a_file.value), str(through_a_file.value)
    with pytest.raises(StoreError, match="cannot be reached") as failed:
        Store("postgresql://someone:s3cret-pw@127.0.0.1:1/nothing").campaigns()
    assert "s3cret-pw" not in str(failed.value)


def test_importing_the_store_opens_and_imports_nothing_heavy(tmp_path: Path) -> None:
    code = (
        "import sys, ameyo_mcp.store, ameyo_mcp.server.app\n"
        "s = ameyo_mcp.store.Store(sys.argv[1])\n"
        "heavy = [m for m in ('sqlite3', 'psycopg') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    target = tmp_path / "never.db"
    subprocess.run([sys.executable, "-c", code, str(target)], check=True, env=os.environ.copy())
    assert not target.exists()


def test_a_pushed_call_teaches_the_index_a_customers_number_until_a_sync_says_otherwise(
    store: Store,
) -> None:
    store.upsert_contacts(CAMPAIGN, [row(1, "9812345678", name="Asha Rao")])
    assert ids(store.find_by_phone(CAMPAIGN, "9822200011")) == []
    assert store.add_call(event("learn", phone="9822200011"))  # Ameyo dialled a second number
    assert ids(store.find_by_phone(CAMPAIGN, "9822200011")) == [1]
    assert ids(store.find_by_tail(CAMPAIGN, "200011")) == [1]
    assert ids(store.find_by_phone(CAMPAIGN, "9812345678")) == [1]  # the stored one still finds them
    assert store.add_call(event("nobody", customer_id=99, phone="9833300011"))  # not indexed
    assert ids(store.find_by_phone(CAMPAIGN, "9833300011")) == []
    # Two numbers dialled for one customer in one batch of pushes are both learned.
    assert store.add_calls([event("two", phone="9844400011"), event("three", phone="9855500011")]) == [
        True,
        True,
    ]
    assert (
        ids(store.find_by_phone(CAMPAIGN, "9844400011"))
        == ids(store.find_by_phone(CAMPAIGN, "9855500011"))
        == [1]
    )
    assert ids(store.find_by_phone(CAMPAIGN, "9822200011")) == [1]
    # A sync is Ameyo's word: a number Ameyo does not hold for the customer is dropped again.
    store.upsert_contacts(CAMPAIGN, [row(1, "9812345678", name="Asha Rao")])
    assert ids(store.find_by_phone(CAMPAIGN, "9822200011")) == []
    assert ids(store.find_by_phone(CAMPAIGN, "9855500011")) == []


def test_a_disposition_is_found_by_its_code_or_its_name_and_counted_by_its_name(store: Store) -> None:
    assert store.add_call(event("n1", disposition="FOREIGN_LANGUAGE", disposition_name="Foreign Language"))
    assert store.add_call(event("n2", disposition="FOREIGN_LANGUAGE", disposition_name=None))
    assert store.add_call(event("n3", disposition=None, disposition_name="Foreign Language"))
    for spelling in ("Foreign Language", "FOREIGN_LANGUAGE", "foreign language"):
        assert store.call_history(CallQuery(disposition=spelling)).total == 3, spelling
    counts = store.call_history(CallQuery()).by_outcome
    assert counts == {"Foreign Language": 2, "FOREIGN_LANGUAGE": 1}


def test_a_new_sqlite_file_opened_by_several_at_once_opens_for_all(tmp_path: Path) -> None:
    """Replicas starting together open a new store at the same moment; turning it to WAL needs the
    file to itself, and SQLite answers "locked" at once rather than waiting its busy timeout."""
    import threading

    failures: list[BaseException] = []
    for trial in range(40):
        url = str(tmp_path / f"new-{trial}.db")
        start = threading.Barrier(4)

        def open_it(url: str = url, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                with Store(url) as store:
                    store.campaigns()
            except StoreError as exc:
                failures.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []


def test_a_listing_pages_and_counts_by_name_status_disposition_and_lead(store: Store) -> None:
    rows = [
        ContactRow(
            customer_id=i,
            lead_id=21 if i % 3 else 35,
            phones=(f"+9198000{i:05d}",),
            names=("Maria Mariana" if i == 7 else f"{'Maria' if i % 2 else 'Rahul'} {i}",),
            status="BUSY" if i % 4 == 0 else "NOT_TRIED",
            disposition="Call Back" if i % 5 == 0 else None,
        )
        for i in range(1, 41)
    ]
    store.upsert_contacts(CAMPAIGN, rows)

    def listed(query: ContactQuery) -> list[int]:
        every = [ids(store.list_contacts(query, offset=o, limit=3)) for o in range(0, 45, 3)]
        return [i for page in every for i in page]

    def truth(keep: Callable[[ContactRow], bool]) -> list[int]:
        return [r.customer_id for r in rows if keep(r)]

    cases = [
        (ContactQuery(CAMPAIGN), truth(lambda r: True)),
        (ContactQuery(CAMPAIGN, words=("mari",)), truth(lambda r: r.customer_id % 2 == 1)),
        (
            ContactQuery(CAMPAIGN, words=("maria", "2")),
            truth(lambda r: str(r.names[0]).startswith("Maria 2")),
        ),
        (
            ContactQuery(CAMPAIGN, statuses=("BUSY",), lead_ids=(35,)),
            truth(lambda r: r.customer_id % 12 == 0),
        ),
        (ContactQuery(CAMPAIGN, dispositions=("Call Back",)), truth(lambda r: r.customer_id % 5 == 0)),
    ]
    for query, expected in cases:
        assert sorted(listed(query)) == expected, query  # each match on one page, none twice
        counts = store.count_contacts(query, cap=1000)
        assert sum(counts.values()) == len(expected), (query, counts)
    busy = store.count_contacts(ContactQuery(CAMPAIGN, words=("mari",)), cap=1000)
    assert busy == {"NOT_TRIED": 20}  # odd ids: never a multiple of 4; Maria Mariana once
    assert sum(store.count_contacts(ContactQuery(CAMPAIGN), cap=5).values()) == 6  # counted to the cap + 1
    assert store.dispositions(CAMPAIGN) == {"Call Back": 8}


def test_a_pushed_call_updates_its_customers_status_and_disposition_and_the_counts(store: Store) -> None:
    """The record a call leaves in Ameyo (the document, 4.6.3): the status is the system's outcome
    (the push's lastStatus, else a dialled call's system disposition), the disposition an agent's
    choice; a code that repeats the system's outcome is none. The counts by status follow."""
    opened = store.begin_pass(CAMPAIGN, now=NOW)
    store.upsert_contacts(
        CAMPAIGN,
        [
            row(1, "9812300001"),
            row(2, "9812300002"),
            row(3, "9812300003"),
            row(4, "9812300004", status="busy"),
        ],
        pass_number=opened.number,
    )
    store.finish_pass(CAMPAIGN, opened.number, now=NOW)
    assert store.status_counts(CAMPAIGN) == {"NOT_TRIED": 3, "busy": 1}  # (a sync writes it BUSY)
    raw = {"callId": "x"}
    store.add_calls(
        [
            # No lastStatus: the dialled call's system disposition; its code is no disposition.
            event(
                "b1",
                customer_id=1,
                system_disposition="BUSY",
                disposition="BUSY",
                call_type="auto.dial.customer",
                raw=raw,
            ),
            # The customer's campaign left out of the push: the one campaign holding the customer
            # with the number dialled.
            event(
                "c2",
                customer_id=2,
                campaign_id=None,
                phone="9812300002",
                disposition_name="Sale",
                status_after="CONNECTED",
                raw=raw,
            ),
            # An inbound call dials no one: the status stays.
            event(
                "i3", customer_id=3, system_disposition="CONNECTED", call_type="inbound.call.dial", raw=raw
            ),
            # Older than the last dial the index holds: it changes nothing.
            event("o4", customer_id=4, status_after="DNC", started_at=NOW - timedelta(days=2), raw=raw),
        ]
    )
    held = {c: store.contact(CAMPAIGN, c) for c in (1, 2, 3, 4)}
    assert [(h.status, h.disposition) for h in held.values() if h] == [
        ("BUSY", None),
        ("CONNECTED", "Sale"),
        ("NOT_TRIED", "Interested"),
        ("busy", None),
    ]
    assert store.status_counts(CAMPAIGN) == {"NOT_TRIED": 1, "BUSY": 1, "CONNECTED": 1, "busy": 1}
    store.upsert_contacts(CAMPAIGN, [row(5, "9812300005", status="BUSY")])  # an upload
    assert store.status_counts(CAMPAIGN) == {"NOT_TRIED": 1, "BUSY": 2, "CONNECTED": 1, "busy": 1}
    again = store.begin_pass(CAMPAIGN, now=NOW)
    store.upsert_contacts(
        CAMPAIGN,
        [row(c, f"98123000{c:02d}", status="NO_ANSWER") for c in (1, 2, 3)],
        pass_number=again.number,
    )
    store.finish_pass(CAMPAIGN, again.number, now=NOW)  # Ameyo's word: 4 and 5 are gone
    assert store.status_counts(CAMPAIGN) == {"NO_ANSWER": 3}


def rows_by_status(store: Store, campaign_id: int = CAMPAIGN) -> dict[str, int]:
    counts: dict[str, int] = {}
    for contact in store.contacts(campaign_id, limit=100_000):
        counts[contact.status or "UNKNOWN"] = counts.get(contact.status or "UNKNOWN", 0) + 1
    return counts


def test_a_push_whose_code_is_the_systems_outcome_keeps_the_customers_disposition(store: Store) -> None:
    """A push with its system disposition left blank carries the outcome in its code: NO_ANSWER there
    had been written over the customer's DNC, and they left the do-not-call listing."""
    opened = store.begin_pass(CAMPAIGN, now=NOW)
    held = row(1, "9812300001")._replace(disposition="DNC")
    store.upsert_contacts(CAMPAIGN, [held], pass_number=opened.number)
    store.finish_pass(CAMPAIGN, opened.number, now=NOW)
    blank = event("n1", disposition="NO_ANSWER", system_disposition=None, call_type="auto.dial.customer")
    store.add_calls([replace(blank, raw={"callId": "n1"})])
    after = store.contact(CAMPAIGN, 1)
    assert after is not None and (after.status, after.disposition) == ("NO_ANSWER", "DNC")


def test_the_counts_by_status_agree_with_the_rows_while_a_pass_is_open(store: Store) -> None:
    """A sync's page changes statuses too: a push after it counted its change from the page's status
    while the counts knew only the last sync's, and 10 contacts were counted 11."""
    opened = store.begin_pass(CAMPAIGN, now=NOW)
    store.upsert_contacts(
        CAMPAIGN, [row(c, f"98123001{c:02d}") for c in range(10)], pass_number=opened.number
    )
    store.finish_pass(CAMPAIGN, opened.number, now=NOW)
    again = store.begin_pass(CAMPAIGN, now=NOW)
    store.upsert_contacts(CAMPAIGN, [row(1, "9812300101", status="BUSY")], pass_number=again.number)
    store.add_calls([event("p1", customer_id=1, status_after="CONNECTED", raw={"callId": "p1"})])
    assert store.status_counts(CAMPAIGN) == rows_by_status(store) == {"NOT_TRIED": 9, "CONNECTED": 1}


def test_a_push_without_its_campaign_is_tied_only_to_the_customer_it_dialled(store: Store) -> None:
    """Customer ids of a campaign never synced may be another's: an id alone had put a stranger's
    outcome, and their number, on campaign 7's customer 1."""
    opened = store.begin_pass(CAMPAIGN, now=NOW)
    store.upsert_contacts(CAMPAIGN, [row(1, "9812300001")], pass_number=opened.number)
    store.finish_pass(CAMPAIGN, opened.number, now=NOW)
    stranger = event(
        "s1", customer_id=1, campaign_id=None, phone="7700000000", status_after="DNC", raw={"c": "s1"}
    )
    ours = event(
        "o1", customer_id=1, campaign_id=None, phone="9812300001", status_after="BUSY", raw={"c": "o1"}
    )
    store.add_calls([stranger])
    held = store.contact(CAMPAIGN, 1)
    assert held is not None and held.status == "NOT_TRIED" and held.phones == ("9812300001",)
    store.add_calls([ours])
    held = store.contact(CAMPAIGN, 1)
    assert held is not None and held.status == "BUSY"


def test_the_counts_by_status_hold_under_receivers_and_syncs_at_once(database_url: str) -> None:
    """Two receivers' pushes and sync passes at the same moment, each with its own connection: on
    PostgreSQL a pass's end cleared changes committed after its count, and two pushes of one
    customer each counted a change from the same status."""
    import random
    import threading

    contacts = 400
    with Store(database_url) as setup:
        opened = setup.begin_pass(CAMPAIGN, now=NOW)
        setup.upsert_contacts(
            CAMPAIGN, [row(c, f"981230{c:04d}") for c in range(contacts)], pass_number=opened.number
        )
        setup.finish_pass(CAMPAIGN, opened.number, now=NOW)
    stop = threading.Event()
    failures: list[BaseException] = []

    def receiver(seed: int) -> None:
        rng = random.Random(seed)
        with Store(database_url) as store:
            n = 0
            while not stop.is_set():
                n += 1
                batch = [
                    event(
                        f"r{seed}-{n}-{k}",
                        customer_id=rng.randrange(8),  # a few customers: the same one at once
                        status_after=rng.choice(("BUSY", "CONNECTED", "NO_ANSWER")),
                        started_at=NOW + timedelta(seconds=n * 10 + k),
                        raw={"c": f"r{seed}-{n}-{k}"},
                    )
                    for k in range(5)
                ]
                try:
                    store.add_calls(batch)
                except BaseException as exc:
                    failures.append(exc)
                    return

    def syncer() -> None:
        with Store(database_url) as store:
            while not stop.is_set():
                opened = store.begin_pass(CAMPAIGN, now=NOW)
                page = [row(c, f"981230{c:04d}", status="NOT_TRIED") for c in range(8, contacts)]
                store.upsert_contacts(CAMPAIGN, page, pass_number=opened.number)
                store.upsert_contacts(
                    CAMPAIGN, [row(c, f"981230{c:04d}") for c in range(8)], pass_number=opened.number
                )
                store.finish_pass(CAMPAIGN, opened.number, now=NOW)

    threads = [threading.Thread(target=receiver, args=(i,)) for i in range(2)] + [
        threading.Thread(target=syncer)
    ]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.5)
    finally:  # the threads run until told, whatever happened here
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not failures, failures
    with Store(database_url) as store:
        assert store.status_counts(CAMPAIGN) == rows_by_status(store)


def test_page_sign_outs_are_kept_until_their_cookie_expires_then_pruned(store: Store) -> None:
    store.revoke_page_cookie("a" * 64, expires=1000.0, now=500.0)
    store.revoke_page_cookie("a" * 64, expires=1000.0, now=600.0)  # signed out twice: one row
    assert store.page_cookie_revoked("a" * 64) and not store.page_cookie_revoked("b" * 64)
    # The next sign-out after the first cookie expired takes its row away: every cookie is dead then.
    store.revoke_page_cookie("b" * 64, expires=2000.0, now=1000.0)
    assert not store.page_cookie_revoked("a" * 64) and store.page_cookie_revoked("b" * 64)
