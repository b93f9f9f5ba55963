"""A write released unsent (never sent, or refused before it left) puts back what it took over and
drops only what is its own: the rows and spellings of a write that still stands stay; a sender
that holds none of its keys any more touches nothing. On a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

from typing import Any

from ameyo_mcp.store import Store
from ameyo_mcp.store.ledger import Settlement
from tests.test_store_ledger import NOW, claim

SERVER, CAMPAIGN = "http://ameyo.test", 1


def settle(store: Store, keys: list[str], owner: str, how: Settlement, *, now: float) -> None:
    store.settle_write(keys, write_id=keys[0], owner=owner, now=now, how=how)


def file_rows(store: Store, write_id: str) -> list[Any]:
    return store._reading(
        lambda tx: tx.all("SELECT identity, digest FROM file_rows WHERE write_id = ?", (write_id,))
    )


def test_a_retry_whose_claim_was_taken_over_keeps_the_rows_of_the_earlier_sending(database_url: str) -> None:
    """A retry (allow_repeat) of a file batch of unknown outcome is paused past its lease; another
    claim finds it orphaned. The paused sender then sends nothing (refused for waiting too long) and
    releases: the earlier sending's rows, which Ameyo may hold, must still be held by the ledger."""
    keys = ["batch-W"]
    rows = [(SERVER, CAMPAIGN, "9812800001", "d1"), (SERVER, CAMPAIGN, "9812800002", "d2")]
    with Store(database_url) as store:
        assert claim(store, keys, "first", rows=rows).won
        settle(
            store,
            keys,
            "first",
            Settlement("unknown", "no answer", None, {"batch-W": NOW + 86400}),
            now=NOW + 1,
        )
        assert len(file_rows(store, "batch-W")) == 2
        # The retry: claimed, then paused past its lease.
        assert claim(
            store, keys, "retry", now=NOW + 100, allow_repeat=True, rows=rows, resend_unknown=True
        ).won
        # Another process looks after the lease: the retry is orphaned (unknown).
        seen = claim(store, keys, "other", now=NOW + 200)
        assert not seen.won and seen.blocking.state == "unknown"
        # The retry wakes, sends nothing, releases.
        settle(store, keys, "retry", Settlement(None), now=NOW + 201)
        (entry,) = store.ledger_entries(keys)
        assert entry.state == "unknown"
        # The earlier sending's rows are still held: a copy of the file cut otherwise must not resend them.
        assert len(file_rows(store, "batch-W")) == 2
        held = store.rows_held(
            SERVER,
            CAMPAIGN,
            {"9812800001": "d1", "9812800002": "d2"},
            "batch-copy",
            now=NOW + 300,
            resend_unknown=False,
        )
        assert set(held) == {"9812800001", "9812800002"}


def test_a_sender_taken_over_by_a_retry_does_not_release_the_retrys_rows(database_url: str) -> None:
    """A first sending paused past its lease; a retry (allow_repeat) takes it over and is answered;
    the paused sender then sends nothing and releases. The answered retry's rows and spellings stay."""
    keys = ["batch-W"]
    rows = [(SERVER, CAMPAIGN, "9812800001", "d1")]
    numbers = [(SERVER, CAMPAIGN, "9812800001", "+91 98128 00001")]
    with Store(database_url) as store:
        assert claim(store, keys, "first", rows=rows, numbers=numbers, spellings=True).won
        assert claim(
            store, keys, "retry", now=NOW + 100, allow_repeat=True, rows=rows, numbers=numbers, spellings=True
        ).won
        settle(
            store, keys, "retry", Settlement("answered", "", None, {"batch-W": NOW + 86400}), now=NOW + 101
        )
        settle(store, keys, "first", Settlement(None), now=NOW + 102)
        (entry,) = store.ledger_entries(keys)
        assert entry.state == "answered" and entry.owner == "retry"
        assert file_rows(store, "batch-W") == [("9812800001", "d1")]
        assert store.sent_spellings(SERVER, CAMPAIGN, ["9812800001"]) == {"9812800001": "+91 98128 00001"}


def test_a_new_write_that_took_over_another_writes_callback_and_sent_nothing_keeps_no_spelling(
    database_url: str,
) -> None:
    with Store(database_url) as store:
        y = ["Y", "cb-1"]
        assert claim(store, y, "y", numbers=[(SERVER, CAMPAIGN, "9812800001", "9812800001")]).won
        settle(
            store,
            y,
            "y",
            Settlement("answered", "", [{"ok": 1}], {"Y": NOW + 600, "cb-1": NOW + 86400}),
            now=NOW + 1,
        )
        x = ["X", "cb-1", "cb-2"]
        numbers = [
            (SERVER, CAMPAIGN, "9812800001", "9812800001"),
            (SERVER, CAMPAIGN, "9812800002", "+919812800002"),
        ]
        assert claim(store, x, "x", now=NOW + 10, allow_repeat=True, numbers=numbers).won
        settle(store, x, "x", Settlement(None), now=NOW + 11)  # never sent
        (cb,) = store.ledger_entries(["cb-1"])
        assert cb.write_id == "Y" and cb.state == "answered"
        assert store.ledger_entries(["X", "cb-2"]) == []
        # X never went out: Ameyo holds no spelling of 9812800002 from it.
        assert store.sent_spellings(SERVER, CAMPAIGN, ["9812800002"]) == {}


def test_prune_keeps_the_spellings_of_a_batch_the_ledger_still_holds(database_url: str) -> None:
    """As 5124edf keeps a held batch's file_rows: its sender died in flight, and a month later the
    batch is still of unknown outcome; the spelling it may have saved is still the one to send."""
    keys = ["batch-D"]
    rows = [(SERVER, CAMPAIGN, "9812800011", "d11")]
    numbers = [(SERVER, CAMPAIGN, "9812800011", "+91 98128 00011")]
    with Store(database_url) as store:
        assert claim(store, keys, "dead", rows=rows, numbers=numbers, spellings=True).won
        store.prune_ledger(before=NOW + 30 * 86400, tokens_before=NOW)
        (entry,) = store.ledger_entries(keys)
        assert entry.state == "flight"
        assert file_rows(store, "batch-D") == [("9812800011", "d11")]
        assert store.sent_spellings(SERVER, CAMPAIGN, ["9812800011"]) == {"9812800011": "+91 98128 00011"}
