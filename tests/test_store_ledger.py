"""The write ledger's SQL on a real SQLite file and a real PostgreSQL: one claimant wins, whoever
asks; a dead sender's write becomes unknown; settled keys are held, then free; spellings are kept."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ameyo_mcp.store import Store
from ameyo_mcp.store.ledger import ORPHANED, Claimant, Settlement

NOW = 1_900_000_000.0


def claim(store: Store, keys: list[str], owner: str, *, now: float = NOW, **extra: Any) -> Any:
    args: dict[str, Any] = {
        "write_id": keys[0],
        "owner": owner,
        "now": now,
        "lease_s": 60.0,
        "call_id": owner,
        "label": f"write {keys[0]}",
        "context": {},
        "allow_repeat": False,
        "alive": lambda _owner: True,
        "orphan_hold_s": 86400.0,
    }
    args.update(extra)
    return store.claim_write(keys, Claimant(**args))


def race(stores: list[Store], key: str) -> list[str]:
    """Every store claims the same write at the same moment, each from its own thread."""
    won: list[str] = []
    start = threading.Barrier(len(stores))

    def one(i: int) -> None:
        start.wait()
        if claim(stores[i], [f"write-{key}", f"callback-{key}"], f"owner-{i}").won:
            won.append(f"owner-{i}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won


def test_of_many_claimants_on_separate_connections_exactly_one_wins(database_url: str) -> None:
    stores = [Store(database_url) for _ in range(6)]
    try:
        for store in stores:
            store.ledger_entries(["opened"])  # connected and migrated before the race
        for round_ in range(5):
            won = race(stores, str(round_))
            assert len(won) == 1, (round_, won)
    finally:
        for store in stores:
            store.close()


def test_another_write_holding_one_callback_key_stands_in_the_way(database_url: str) -> None:
    with Store(database_url) as store:
        assert claim(store, ["upload-1", "callback-x"], "a").won
        blocked = claim(store, ["callback-1", "callback-x"], "b")
        assert not blocked.won and blocked.blocking.state == "flight"
        assert blocked.blocking.key == "callback-x" and blocked.blocking.write_id == "upload-1"


def test_a_write_whose_sender_is_gone_becomes_unknown_for_all_its_keys(database_url: str) -> None:
    with Store(database_url) as store:
        assert claim(store, ["w", "cb"], "dead").won
        gone: Callable[[str], bool] = lambda owner: owner != "dead"  # noqa: E731
        seen = claim(store, ["w"], "next", now=NOW + 1, alive=gone)
        assert not seen.won and seen.blocking.state == "unknown" and seen.blocking.note == ORPHANED
        # Its other key is unknown too, and held: nothing else can take it silently.
        (entry,) = store.ledger_entries(["cb"])
        assert entry.state == "unknown" and entry.hold_until == NOW + 1 + 86400
        assert [e.write_id for e in store.unknown_writes()] == ["w"]
        # A lease that ran out is the same, wherever the sender was.
        assert claim(store, ["x"], "far").won
        assert claim(store, ["x"], "near", now=NOW + 61).blocking.state == "unknown"


def test_a_write_whose_sender_is_gone_is_listed_unknown_before_anyone_asks_again(database_url: str) -> None:
    """`ameyo-mcp check` and the operator's page list it: they had shown it in flight for good."""
    with Store(database_url) as store:
        assert claim(store, ["w", "cb"], "killed").won
        assert claim(store, ["v"], "elsewhere").won
        everyone: Callable[[str], bool] = lambda owner: True  # noqa: E731
        assert store.unknown_writes(now=NOW + 1, alive=everyone) == []  # at work, within their leases
        gone: Callable[[str], bool] = lambda owner: owner != "killed"  # noqa: E731
        (dead,) = store.unknown_writes(now=NOW + 1, alive=gone)
        assert (dead.write_id, dead.state, dead.note) == ("w", "unknown", ORPHANED)
        late = store.unknown_writes(now=NOW + 61, alive=everyone)  # both leases ran out
        assert sorted(e.write_id for e in late) == ["v", "w"]
        # Only read: the ledger itself is changed by the next claim, as before.
        (entry,) = store.ledger_entries(["w"])
        assert entry.state == "flight"


def test_settled_keys_are_held_until_their_hold_then_free(database_url: str) -> None:
    with Store(database_url) as store:
        assert claim(store, ["w", "cb"], "a").won
        holds = {"w": NOW + 600, "cb": NOW + 86400}
        how = Settlement("answered", answer=[{"customerId": 7}], holds=holds)
        store.settle_write(["w", "cb"], write_id="w", owner="a", now=NOW, how=how)
        again = claim(store, ["w", "cb"], "b", now=NOW + 10)
        assert not again.won and again.blocking.key == "w" and again.blocking.answer == [{"customerId": 7}]
        later = claim(store, ["w", "cb"], "b", now=NOW + 700)  # the write is free, its callback is not
        assert not later.won and later.blocking.key == "cb"
        assert claim(store, ["w", "cb"], "b", now=NOW + 700, allow_repeat=True).won


def test_a_write_never_sent_releases_its_keys(database_url: str) -> None:
    with Store(database_url) as store:
        assert claim(store, ["w", "cb"], "a").won
        store.settle_write(["w", "cb"], write_id="w", owner="a", now=NOW, how=Settlement(None))
        assert store.ledger_entries(["w", "cb"]) == []
        assert claim(store, ["w", "cb"], "b").won


def test_the_first_spelling_of_a_number_is_kept_and_pruned_with_the_ledger(database_url: str) -> None:
    with Store(database_url) as store:
        numbers = [("srv", 1, "+919876500011", "9876500011")]
        assert claim(store, ["u1"], "a", numbers=numbers).won
        later = [("srv", 1, "+919876500011", "09876500011"), ("srv", 1, "+919876500012", "9876500012")]
        respelt = claim(store, ["u2"], "a", numbers=later)  # another spelling: planned again with it
        assert not respelt.won and respelt.respell == {"+919876500011": "9876500011"}
        later[0] = ("srv", 1, "+919876500011", "9876500011")
        assert claim(store, ["u2"], "a", numbers=later).won
        found = store.sent_spellings("srv", 1, ["+919876500011", "+919876500012", "+910000000000"])
        assert found == {"+919876500011": "9876500011", "+919876500012": "9876500012"}
        assert store.sent_spellings("srv", 2, ["+919876500011"]) == {}  # another campaign
        store.settle_write(["u1"], write_id="u1", owner="a", now=NOW, how=Settlement("answered", holds={}))
        assert store.prune_ledger(before=NOW + 1, tokens_before=NOW + 1) == 1
        assert store.sent_spellings("srv", 1, ["+919876500011"]) == {}
        assert [e.key for e in store.ledger_entries(["u1", "u2"])] == ["u2"]  # in flight: kept


def test_a_file_row_sent_by_another_batch_is_held_by_its_claim(database_url: str) -> None:
    """A copy of a file cut into other batches: its batch's identity is new, its rows are not."""
    answered = Settlement("answered", holds={"f1": NOW + 86400})
    with Store(database_url) as store:
        one, two = "+919876500021", "+919876500022"
        numbers = [("srv", 1, one, "9876500021"), ("srv", 1, two, "9876500022")]
        rows = [("srv", 1, one, "row-a"), ("srv", 1, two, "row-b")]
        assert claim(store, ["f1"], "a", numbers=numbers, rows=rows, spellings=True).won
        # In flight, its sender alive: waited for (the claim names it), whatever is asked.
        for resend in (False, True):
            wait = claim(
                store, ["f2"], "a", numbers=numbers, rows=rows, spellings=True, resend_unknown=resend
            )
            assert not wait.won and wait.blocking is not None and wait.blocking.key == "f1"
        # Its sender gone: of unknown outcome, held unless resent on purpose.
        gone = claim(store, ["f2"], "a", numbers=numbers, rows=rows, spellings=True, alive=lambda _o: False)
        assert not gone.won and gone.rows is not None and set(gone.rows) == {one, two}
        store.settle_write(["f1"], write_id="f1", owner="a", now=NOW, how=answered)
        other = [("srv", 1, one, "row-a"), ("srv", 1, two, "row-b changed")]
        held = claim(store, ["f2"], "a", numbers=numbers, rows=other, spellings=True)
        assert not held.won and held.rows is not None and set(held.rows) == {one}
        # A changed row goes; the row sent first stays held beside it, for a copy of either file.
        assert claim(store, ["f3"], "a", numbers=numbers[1:], rows=other[1:], spellings=True).won
        store.settle_write(["f3"], write_id="f3", owner="a", now=NOW, how=Settlement(None))  # never sent
        again = claim(store, ["f4"], "a", numbers=numbers, rows=rows, spellings=True)
        assert not again.won and again.rows is not None and set(again.rows) == {one, two}
        assert store.sent_spellings("srv", 1, [two]) == {two: "9876500022"}
        # Pruned with the ledger.
        assert store.prune_ledger(before=NOW + 1, tokens_before=NOW + 1) >= 1
        assert claim(store, ["f5"], "a", numbers=numbers, rows=rows, spellings=True, now=NOW + 2).won


def test_a_dry_run_token_fits_only_its_write_and_only_for_its_time(database_url: str) -> None:
    with Store(database_url) as store:
        store.add_confirm_token("digest-1", "write-1", NOW)
        assert store.confirm_token_fits("digest-1", "write-1", since=NOW - 10)
        assert not store.confirm_token_fits("digest-1", "write-2", since=NOW - 10)
        assert not store.confirm_token_fits("digest-1", "write-1", since=NOW + 10)
        assert not store.confirm_token_fits("digest-2", "write-1", since=NOW - 10)


def test_the_rows_of_a_batch_the_ledger_still_holds_are_not_pruned(database_url: str) -> None:
    """A batch whose sender died in flight, not looked at for the ledger's days: the prune took its
    rows (by the time they were claimed) while the ledger still held the batch, so a copy of the
    file cut otherwise sent them again while `check` still called the batch of unknown outcome."""
    month = 31 * 86400.0
    with Store(database_url) as store:
        numbers = [("srv", 1, "+919876500031", "9876500031")]
        rows = [("srv", 1, "+919876500031", "row-a")]
        assert claim(store, ["f1"], "dead", numbers=numbers, rows=rows, spellings=True).won
        store.prune_ledger(before=NOW + month - 30 * 86400.0, tokens_before=NOW)
        later = claim(
            store,
            ["f2"],
            "a",
            numbers=numbers,
            rows=rows,
            spellings=True,
            now=NOW + month,
            alive=lambda _o: False,
        )
        assert not later.won and later.rows is not None and set(later.rows) == {"+919876500031"}
        # Once the ledger forgets the batch, its rows go with it.
        store.settle_write(["f1"], write_id="f1", owner="dead", now=NOW + 1, how=Settlement("unknown"))
        assert store.prune_ledger(before=NOW + month, tokens_before=NOW) == 1
        assert claim(store, ["f3"], "a", numbers=numbers, rows=rows, spellings=True, now=NOW + month).won
