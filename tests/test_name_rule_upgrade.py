"""The index's name rule across an upgrade on a shared store: a pass that 8a5b008 (the release before
names in Indian scripts kept their vowel signs and virama) began keys its pages by the rule before,
whether this version resumes it after the upgrade or an older replica still running runs it beside
this one. The campaign must not then claim the new rule: a search for "प्रिया" would read an index
holding her as "पर", "य" and "शरम", and answer "0 contacts match"."""

from __future__ import annotations

from datetime import UTC, datetime

from ameyo_mcp.store import NAME_RULE, ContactRow, Store

PRIYA = ContactRow(1, 1, ["919811110001"], ["प्रिया शर्मा"], name="प्रिया शर्मा")
RAVI = ContactRow(2, 1, ["919811110002"], ["Ravi Kumar"], name="Ravi Kumar")


def earlier_versions_page(store: Store, begin: bool) -> None:
    """What 8a5b008's sync wrote: (with `begin`) its pass begun by its statement, which knows no
    name rule, and Priya's page keyed by the rule before."""
    store.upsert_contacts(1, [PRIYA])
    with store._tx() as tx:
        if begin:
            tx.run(
                "UPDATE campaigns SET pass_no = pass_no + 1, pass_started_at = ?, cursor = NULL "
                "WHERE campaign_id = 1",
                (int(datetime.now(UTC).timestamp()),),
            )
        tx.run("UPDATE contacts SET names = ' पर य शरम ' WHERE customer_id = 1")
        tx.run("DELETE FROM contact_words WHERE customer_id = 1")
        for word in ("पर", "य", "शरम"):
            tx.run("INSERT INTO contact_words (campaign_id, word, customer_id) VALUES (1, ?, 1)", (word,))
        tx.run("UPDATE campaigns SET cursor = '1' WHERE campaign_id = 1")


def full_pass(store: Store) -> None:
    sync = store.begin_pass(1, name="MoviStarSurvey", now=datetime.now(UTC))
    store.upsert_contacts(1, [PRIYA, RAVI], pass_number=sync.number)
    store.finish_pass(1, sync.number, now=datetime.now(UTC))


def test_a_pass_an_earlier_version_began_and_this_one_resumed_keeps_no_name_rule(database_url: str) -> None:
    with Store(database_url) as store:
        full_pass(store)
        earlier_versions_page(store, begin=True)
        sync = store.begin_pass(1, name="MoviStarSurvey", now=datetime.now(UTC))
        assert sync.resumed
        store.upsert_contacts(1, [RAVI], pass_number=sync.number, cursor="2")
        store.finish_pass(1, sync.number, now=datetime.now(UTC))
        index = store.campaign(1)
        assert index is not None and index.name_rule is None, index
        full_pass(store)  # this version's own pass keys every name again
        index = store.campaign(1)
        assert index is not None and index.name_rule == NAME_RULE, index


def test_an_older_replicas_pass_beside_this_version_takes_the_name_rule_away(database_url: str) -> None:
    with Store(database_url) as store:
        full_pass(store)
        earlier_versions_page(store, begin=True)
        index = store.campaign(1)
        assert index is not None and index.name_rule is None, index  # while it runs
        with store._tx() as tx:  # and once 8a5b008's finish, which leaves name_rule as it was
            tx.run("UPDATE campaigns SET pass_started_at = NULL, cursor = NULL WHERE campaign_id = 1")
        index = store.campaign(1)
        assert index is not None and index.name_rule is None, index
        sync = store.begin_pass(1, name="MoviStarSurvey", now=datetime.now(UTC))
        store.upsert_contacts(1, [RAVI], pass_number=sync.number)
        index = store.campaign(1)  # this version's next pass has not keyed Priya again yet
        assert index is not None and index.name_rule is None, index
        store.finish_pass(1, sync.number, now=datetime.now(UTC))
        index = store.campaign(1)
        assert index is not None and index.name_rule == NAME_RULE, index
