"""The customers added in Ameyo since the sync, read for a lookup (and for every upload's do-not-call
check), newest first: the first page asked for 500 contacts even when nobody was added since (most
lookups), where a few reach the customers the sync read. It asks for FIRST_PAGE.

A lookup by last digits or by name answered from the index alone when it found someone: a customer
added since the sync with the same last digits, or the same name, was left out without a word
("what happened with …9204?" named one customer of two, "Priya" listed every Priya but the new one),
though the writes check them. Every lookup by phone or name reads them too: when nobody was added,
at the cost of that small first page."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs

import anyio
import httpx
import pytest
from mcp import Client

from ameyo_mcp.index.added import FIRST_PAGE
from ameyo_mcp.simulator import SimulatorConfig
from ameyo_mcp.simulator.state import ContactQuery, ContactRow, SimulatorState
from ameyo_mcp.store import fold_words
from tests.conftest import InProcessSimulator, server_of, settings_for, synced, text_of
from tests.test_file_do_not_call import added_after_the_sync

pytestmark = pytest.mark.anyio

NEWEST = ("customerId desc", f"LIMIT {FIRST_PAGE} OFFSET 0")
BY_ID = (None, None)


class Asked(SimulatorState):
    """The simulated Ameyo, keeping what each getContacts asked for: (order, limit and offset)."""

    def __init__(self, config: SimulatorConfig) -> None:
        super().__init__(config)
        self.asked: list[tuple[str | None, str | int | None]] = []

    def get_contacts(self, query: ContactQuery) -> list[ContactRow]:
        self.asked.append((query.order_by, query.limit_offset))
        return super().get_contacts(query)


def at_once(requests: list[tuple[object, object]]) -> list[str]:
    """Requests asked at once, which reach Ameyo in either order."""
    return sorted(map(str, requests))


class InFlight(httpx.AsyncBaseTransport):
    """The simulator's transport, each request a moment on the wire (as on a network), and the most
    that were out at once."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.out, self.most = inner, 0, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.out += 1
        self.most = max(self.most, self.out)
        try:
            await anyio.sleep(0.05)
            return await self.inner.handle_async_request(request)
        finally:
            self.out -= 1


class Lookups:
    """An MCP client session of a server whose campaign 1 is synced, and the getContacts each tool
    call asks for."""

    def __init__(self, state: Asked, client: Client) -> None:
        self.state, self.client = state, client

    async def __call__(self, tool: str, args: dict[str, object]) -> tuple[str, list[tuple[object, object]]]:
        self.state.asked.clear()
        result = await self.client.call_tool(tool, args)
        assert not result.is_error, text_of(result)
        return text_of(result), list(self.state.asked)


@pytest.fixture
async def synced_simulator(tmp_path: Path) -> tuple[InProcessSimulator, Asked, Path]:
    state = Asked(SimulatorConfig(password="pw-5ec2e7-simulated"))
    simulator = InProcessSimulator(state.config, state)
    await synced(simulator, settings_for(simulator, tmp_path))
    return simulator, state, tmp_path


async def test_a_lookup_that_finds_nobody_reads_a_small_page_of_the_newest(
    synced_simulator: tuple[InProcessSimulator, Asked, Path],
) -> None:
    simulator, state, tmp_path = synced_simulator
    async with Client(server_of(simulator, settings_for(simulator, tmp_path))) as client:
        text, requests = await Lookups(state, client)(
            "ameyo_get_contacts", {"campaign": 1, "phone": "9000011111"}
        )
    assert requests == [NEWEST], requests
    assert "0 contacts match" in text and "number or name changed in Ameyo since the sync" in text, text
    assert f"and the {FIRST_PAGE} newest contacts in Ameyo, read live" in text, text


async def test_lookups_by_last_digits_and_name_name_the_customers_added_since_the_sync_too(
    synced_simulator: tuple[InProcessSimulator, Asked, Path],
) -> None:
    simulator, state, tmp_path = synced_simulator
    [indexed] = [c for c in state.contacts(1) if c.phone1.endswith("9204")]
    assert indexed.customer_data["name"] == "Priya Sharma"
    later = added_after_the_sync(simulator, {"phone1": "9811119204", "name": "Later Ninety"})
    namesake = added_after_the_sync(simulator, {"phone1": "9811117777", "name": "Priya Newcombe"})
    names = [fold_words(str(c.customer_data.get("name") or "")) for c in state.contacts(1)]
    priyas = sum(any(w.startswith("priya") for w in words) for words in names)
    async with Client(server_of(simulator, settings_for(simulator, tmp_path))) as client:
        lookup = Lookups(state, client)
        text, requests = await lookup("ameyo_get_contacts", {"campaign": 1, "phone": "9204"})
        assert f"#{indexed.customer_id} Priya Sharma |" in text and f"#{later} Later Ninety |" in text, text
        assert ": 2 contacts match" in text, text
        # The newest (its first page holds the two added and reaches the sync's customers), and the
        # index's Sharma by id, asked at once; Later Ninety as the first read him.
        assert at_once(requests) == at_once([NEWEST, BY_ID]), requests
        for order in ({}, {"order_by": "customerId desc"}):  # the listing; the index's candidates
            text, requests = await lookup("ameyo_get_contacts", {"campaign": 1, "search": "priya", **order})
            assert f"#{namesake} Priya Newcombe |" in text, text
            assert f": {priyas} contacts match" in text, text
            # The newest, then the index's Priyas by id (in the order asked for, if one was).
            assert requests[0] == NEWEST and [limit for _, limit in requests[1:]] == [None], requests
        text, _ = await lookup("ameyo_get_contacts", {"campaign": 1, "search": "priya", "limit": 100})
        assert f"#{indexed.customer_id} Priya Sharma |" in text, text


async def test_a_lookup_the_index_answers_costs_one_small_read_more(
    synced_simulator: tuple[InProcessSimulator, Asked, Path],
) -> None:
    simulator, state, tmp_path = synced_simulator
    [indexed] = [c for c in state.contacts(1) if c.phone1.endswith("9204")]
    async with Client(server_of(simulator, settings_for(simulator, tmp_path))) as client:
        lookup = Lookups(state, client)
        for args in ({"phone": "9204"}, {"search": "priya sharma"}):
            text, requests = await lookup("ameyo_get_contacts", {"campaign": 1, **args})
            assert at_once(requests) == at_once([NEWEST, BY_ID]), requests
            assert f"#{indexed.customer_id} Priya Sharma |" in text, text
            assert f"and the {FIRST_PAGE} newest contacts in Ameyo, read live" in text, text


async def test_a_listing_of_some_leads_pages_through_the_customers_added_since_with_the_indexed(
    synced_simulator: tuple[InProcessSimulator, Asked, Path],
) -> None:
    """A read of some leads is not kept in the index (it says nothing of the others): the customers
    it finds come first in the listing, counted with the index's, and the pages go on from them."""
    simulator, state, tmp_path = synced_simulator
    namesake = added_after_the_sync(simulator, {"phone1": "9811117777", "name": "Priya Newcombe"})
    priyas = sorted(
        c.customer_id
        for c in state.contacts(1)
        if c.lead_id == 1 and any(w.startswith("priya") for w in fold_words(str(c.customer_data.get("name"))))
    )
    assert namesake in priyas and len(priyas) > 3
    shown: list[int] = []
    async with Client(server_of(simulator, settings_for(simulator, tmp_path))) as client:
        for offset in range(0, len(priyas), 2):
            args = {"campaign": 1, "search": "priya", "lead_ids": [1], "limit": 2, "offset": offset}
            result = await client.call_tool("ameyo_get_contacts", args)
            text = text_of(result)
            assert f": {len(priyas)} contacts match" in text, text
            shown += [int(i) for i in re.findall(r"^#(\d+) ", text, re.MULTILINE)]
    assert shown[0] == namesake and sorted(shown) == priyas, shown


async def test_the_newest_and_the_indexs_customers_are_asked_for_at_once(
    synced_simulator: tuple[InProcessSimulator, Asked, Path],
) -> None:
    """Read one after the other, the newest contacts and the index's customers by id made a lookup
    wait for two answers from Ameyo where it had waited for one."""
    simulator, state, tmp_path = synced_simulator
    wire = InFlight(simulator.transport)
    simulator.transport = wire  # type: ignore[assignment]
    async with Client(server_of(simulator, settings_for(simulator, tmp_path))) as client:
        lookup = Lookups(state, client)
        await lookup("ameyo_get_contacts", {"campaign": 1, "phone": "9204"})  # logged in
        for args in ({"phone": "9204"}, {"phone": "9204", "search": "priya"}):
            wire.most = 0
            text, requests = await lookup("ameyo_get_contacts", {"campaign": 1, **args})
            assert at_once(requests) == at_once([NEWEST, BY_ID]), requests
            assert wire.most == 2, (wire.most, text)


class NewestFailing(httpx.AsyncBaseTransport):
    """The simulator, but Ameyo's proxy answers the read of the newest contacts with a 502 page, and
    a read by customer id hangs (a loaded Ameyo)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        if form.get("command") == ["getContacts"]:
            if '"orderBy":"customerIddesc"' in form["data"][0].replace(" ", ""):
                return httpx.Response(502, text="<html><body>502 Bad Gateway</body></html>")
            await anyio.sleep(3600)
        return await self.inner.handle_async_request(request)


async def test_a_failed_read_of_the_newest_is_answered_without_waiting_for_the_other(
    synced_simulator: tuple[InProcessSimulator, Asked, Path],
) -> None:
    """The two reads asked at once: when one failed, the answer waited for the other, up to its
    timeout, to say what the first already said."""
    simulator, _, tmp_path = synced_simulator
    simulator.transport = NewestFailing(simulator.transport)  # type: ignore[assignment]
    async with Client(server_of(simulator, settings_for(simulator, tmp_path))) as client:
        with anyio.fail_after(20):
            result = await client.call_tool("ameyo_get_contacts", {"campaign": 1, "phone": "9204"})
    assert result.is_error and "502" in text_of(result), text_of(result)
