"""The client's connections to Ameyo, over real loopback sockets: a connection the server closed while
idle is never used again, a burst keeps to the connection limit, and a request that was cancelled
or broken gives its slot back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from ameyo_mcp.ameyo.client import AmeyoClient
from ameyo_mcp.config import load_settings

pytestmark = [pytest.mark.anyio, pytest.mark.network]

PING = b'{"alive":true}'
LIMIT = 16  # the client's connection limit

Answer = Callable[[int, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]


class RawServer:
    """An HTTP/1.1 server of a few lines, told per request what to do; it counts connections."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.requests = 0
        self.heads: list[bytes] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                self.heads.append(head)
                self.requests += 1
                if not await self.answer(self.requests, reader, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def answer_ping(writer: asyncio.StreamWriter, extra: bytes = b"") -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % len(PING)
    writer.write(head + extra + b"\r\n" + PING)
    await writer.drain()


@asynccontextmanager
async def client_of(
    server: RawServer, tmp_path: Path, timeout_s: str = "5", base_url: str | None = None
) -> AsyncIterator[AmeyoClient]:
    listener = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    settings = load_settings(
        {
            "AMEYO_BASE_URL": base_url or f"http://127.0.0.1:{port}",
            "AMEYO_USER_ID": "u",
            "AMEYO_PASSWORD": "pw-pool",
            "AMEYO_TIMEZONE": "Asia/Kolkata",
            "AMEYO_TIMEOUT_S": timeout_s,
            "AMEYO_AUDIT_FILE": str(tmp_path / "audit.jsonl"),
            "AMEYO_DATABASE_URL": str(tmp_path / "index.db"),
        },
        env_file=None,
    )
    client = AmeyoClient(settings)
    try:
        yield client
    finally:
        await client.aclose()
        listener.close()
        await listener.wait_closed()


async def test_a_connection_the_server_closed_while_idle_is_not_used_again(tmp_path: Path) -> None:
    async def answer_then_close(_: int, __: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await answer_ping(writer)
        return False  # as a server whose keep-alive ran out: it closes without saying so

    server = RawServer(answer_then_close)
    async with client_of(server, tmp_path) as client:
        for _ in range(5):
            assert (await client.ping_session("s-1")).alive
            await asyncio.sleep(0.05)  # the close reaches the client before its next command
    assert (server.requests, server.connections) == (5, 5)


async def test_connections_are_kept_and_reused_up_to_the_limit(tmp_path: Path) -> None:
    async def slow_ping(_: int, __: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.01)
        await answer_ping(writer)
        return True

    server = RawServer(slow_ping)
    async with client_of(server, tmp_path) as client:
        for _ in range(3):
            results = await asyncio.gather(*(client.ping_session("s-1") for _ in range(50)))
            assert all(r.alive for r in results)
    assert server.requests == 150
    assert server.connections == LIMIT


async def test_cancelled_and_broken_requests_give_their_connections_back(tmp_path: Path) -> None:
    hold, all_held = asyncio.Event(), asyncio.Event()

    async def held_then_broken(n: int, __: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        if n <= LIMIT:
            if n == LIMIT:
                all_held.set()
            await hold.wait()  # the first LIMIT requests are never answered
            return False
        if n <= 2 * LIMIT:
            return False  # the next LIMIT: the connection breaks without an answer
        await answer_ping(writer)
        return True

    server = RawServer(held_then_broken)
    async with client_of(server, tmp_path) as client:
        hung = [asyncio.ensure_future(client.ping_session("s-1")) for _ in range(LIMIT)]
        await asyncio.wait_for(all_held.wait(), 10)
        waiting = asyncio.ensure_future(client.ping_session("s-1"))  # no slot is free for it
        await asyncio.sleep(0.1)
        assert not waiting.done() and server.requests == LIMIT
        for task in hung:
            task.cancel()
        await asyncio.gather(*hung, return_exceptions=True)
        hold.set()
        broken = await asyncio.gather(
            *(client.ping_session("s-1") for _ in range(LIMIT - 1)), waiting, return_exceptions=True
        )
        assert all(isinstance(b, Exception) and "broke" in str(b) for b in broken), broken
        # Every slot came back: a full set of requests goes through at once.
        results = await asyncio.gather(*(client.ping_session("s-1") for _ in range(LIMIT)))
        assert all(r.alive for r in results)


async def test_cookies_ameyo_sets_are_sent_back(tmp_path: Path) -> None:
    # A balancer's stickiness or a servlet container's session: kept as httpx's client keeps them.
    async def ping_with_cookie(n: int, __: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await answer_ping(writer, b"Set-Cookie: JSESSIONID=abc123; Path=/\r\n" if n == 1 else b"")
        return True

    server = RawServer(ping_with_cookie)
    async with client_of(server, tmp_path) as client:
        for _ in range(3):
            assert (await client.ping_session("s-1")).alive
    cookies = [
        [line for line in head.split(b"\r\n") if line.lower().startswith(b"cookie:")] for head in server.heads
    ]
    assert cookies == [[], [b"Cookie: JSESSIONID=abc123"], [b"Cookie: JSESSIONID=abc123"]]


async def test_a_proxy_named_in_the_environment_carries_the_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def as_proxy(_: int, __: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await answer_ping(writer)
        return True

    for name in (
        "NO_PROXY",
        "no_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "http_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    proxy = RawServer(as_proxy)
    listener = await asyncio.start_server(proxy.serve, "127.0.0.1", 0)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}")
    try:
        # A name that resolves nowhere: only the proxy can have answered.
        async with client_of(RawServer(as_proxy), tmp_path, base_url="http://ameyo.invalid:8080") as client:
            assert (await client.ping_session("s-1")).alive
    finally:
        listener.close()
        await listener.wait_closed()
    assert [head.split(b"\r\n")[0] for head in proxy.heads] == [
        b"POST http://ameyo.invalid:8080/ameyowebaccess/command HTTP/1.1"
    ]


async def test_a_write_held_up_after_taking_an_idle_connection_is_not_lost_to_its_close(
    tmp_path: Path,
) -> None:
    """The client takes an idle connection, then its loop is held (another task's slow step, a
    starved CPU) past the server's keep-alive, which closes the connection meanwhile: the write
    then went out on the closed connection, Ameyo never read it, and the client said the
    connection broke with the outcome unknown, which stopped a file upload after that batch
    (bench_upload_checks.py: 2,000-9,000 of 20,000 rows). Held at each await of a send in turn,
    every write is answered."""
    from ameyo_mcp.ameyo.models import CampaignInfo
    from ameyo_mcp.errors import AmeyoError
    from ameyo_mcp.simulator import SimulatorConfig, SimulatorThread
    from ameyo_mcp.writes import plans
    from tests.conftest import ameyo_of, settings_for

    keep_alive_s = 0.1
    campaign = CampaignInfo(campaign_name="MoviStarSurvey", campaign_id=1)
    broken: list[tuple[int, str]] = []
    with SimulatorThread(SimulatorConfig(keep_alive_s=keep_alive_s)) as sim:
        ameyo = ameyo_of(sim, settings_for(sim, tmp_path))
        try:
            for awaits in range(10):
                await ameyo.leads(1, fresh=True)  # the connection the write will take, idle now

                async def hold(awaits: int = awaits) -> None:
                    for _ in range(awaits):
                        await asyncio.sleep(0)
                    time.sleep(3 * keep_alive_s)  # noqa: ASYNC251  # the loop held: the server closes it

                write = plans.plan_upload(
                    ameyo.settings.base_url,
                    campaign,
                    1,
                    [{"phone1": f"98128770{awaits:02d}", "name": "Guest"}],
                    status="NOT_TRIED",
                    attempts=0,
                    update_existing=False,
                    migrate_existing=False,
                )
                holding = asyncio.ensure_future(hold())
                try:
                    await ameyo.send(write.request)
                except AmeyoError as exc:
                    broken.append((awaits, exc.message))
                await holding
            sent = sim.state.executed["uploadContacts"]
        finally:
            await ameyo.aclose()
    # Before: a write or two told "the connection broke ... outcome unknown", none of which Ameyo ran.
    assert (broken, sent) == ([], 10), f"{sent} of 10 reached Ameyo"
