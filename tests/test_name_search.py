"""Name search in its hard case: 100,000 contacts named by six first names and a number ("Sofia
4595"), so that a sixth of the campaign shares each first word. A search walks the index range of
its rarest word, checked by what it visits, not by time: the range it picks, and on SQLite the
virtual machine steps the search costs against a walk of the common word."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from ameyo_mcp.index.sync import sync_all
from ameyo_mcp.simulator import SimulatorConfig
from ameyo_mcp.store import Store, open_store
from ameyo_mcp.store.contacts import WORD_COUNT_CAP
from tests.conftest import InProcessSimulator, ameyo_of, settings_for

pytestmark = pytest.mark.slow

CAMPAIGN = 1
SIZE = 100_000


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def hard() -> InProcessSimulator:
    return InProcessSimulator(SimulatorConfig(contacts=SIZE, names="few-first"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path_factory.mktemp("names") / "index.db")
        return
    import psycopg

    server: str = request.getfixturevalue("postgres_server")
    name = f"names_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield server.replace("/postgres?", f"/{name}?", 1)
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
async def store(
    hard: InProcessSimulator, database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Store]:
    settings = settings_for(hard, tmp_path_factory.mktemp("settings"), AMEYO_DATABASE_URL=database)
    ameyo, synced = ameyo_of(hard, settings), open_store(settings)
    try:
        await sync_all(ameyo, synced, [CAMPAIGN])
    finally:
        await ameyo.aclose()
    yield synced
    synced.close()


def named(sim: InProcessSimulator, first: str, count: int) -> list[tuple[int, str]]:
    """(customer id, name) of some customers whose name starts with `first`, from the simulator."""
    found = []
    for contact in sim.state.contacts(CAMPAIGN)[1000:]:
        name = contact.customer_data.get("name", "")
        if name.startswith(first + " "):
            found.append((contact.customer_id, name))
            if len(found) == count:
                break
    return found


@pytest.mark.anyio
async def test_a_sixth_of_the_campaign_shares_each_first_word(hard: InProcessSimulator, store: Store) -> None:
    names = [str(c.customer_data.get("name") or "") for c in hard.state.contacts(CAMPAIGN)]
    firsts = [name.split()[0] for name in names if name and name != "Priya Sharma"]
    shares = {name: firsts.count(name) / len(firsts) for name in set(firsts)}
    assert len(shares) == 6 and all(0.15 < share < 0.19 for share in shares.values()), shares
    assert store.name_search_lead(CAMPAIGN, "Sofia") == ("sofia", WORD_COUNT_CAP)
    # Two common words: the one whose contacts most often have the other leads (one "45…" in six
    # is a Sofia; one "sofia…" in ninety has a "45…").
    assert store.name_search_lead(CAMPAIGN, "Sofia 45") == ("45", WORD_COUNT_CAP)
    assert store.name_search_lead(CAMPAIGN, "45 Sofia") == ("45", WORD_COUNT_CAP)


@pytest.mark.anyio
async def test_a_search_walks_its_rarest_word(hard: InProcessSimulator, store: Store) -> None:
    for customer_id, name in named(hard, "Sofia", 5):
        number = name.split()[1]
        lead = store.name_search_lead(CAMPAIGN, name)
        assert lead is not None and lead[0] == number and lead[1] <= 111, (name, lead)
        # Either order, and a prefix of the number, lead by the number.
        assert store.name_search_lead(CAMPAIGN, f"{number[:-1]} sof") == (
            number[:-1],
            pytest.approx(lead[1], abs=120),
        )
        found = store.search_names(CAMPAIGN, name, limit=20)
        assert customer_id in {c.customer_id for c in found}, (name, found)
        assert all(c.names.split()[0] == "sofia" for c in found)
    # A search whose words are all common still finds what matches.
    common = store.search_names(CAMPAIGN, "Sofia Priya", limit=5)
    assert common == []


@pytest.mark.anyio
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_on_sqlite_the_search_costs_a_small_walk_not_a_sixth_of_the_campaign(
    hard: InProcessSimulator, store: Store
) -> None:
    assert store.backend == "sqlite"  # its virtual machine steps are what this counts
    _, name = named(hard, "Sofia", 1)[0]
    rare = vm_steps(store, lambda: store.search_names(CAMPAIGN, name, limit=20))
    # The common word alone, asked for more than it holds: a walk of its whole range.
    common = vm_steps(store, lambda: store.search_names(CAMPAIGN, "sofia", limit=SIZE))
    assert rare * 50 < common, (rare, common)


def vm_steps(store: Store, search: Any) -> int:
    """SQLite virtual machine instructions a search runs, counted by its progress handler."""
    conn = store._open()[0]
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 100
        return 0

    conn.set_progress_handler(count, 100)
    try:
        search()
    finally:
        conn.set_progress_handler(None, 0)
    return steps
