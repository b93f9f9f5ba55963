"""The simulator's dialer: "calls" contacts at a steady pace and pushes each outcome to a URL.

It runs on the simulator's own event loop. Each call changes the contact first (as Ameyo's database
would), then one request carries its fields to ``push_url``: a GET with a query string, a form POST,
or a JSON POST (sometimes labelled ``text/plain``). A push that is not answered 200 is retried a few
times with growing pauses. The URL is never logged: its ``?token=…`` is a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from urllib.parse import parse_qs, urlsplit

import httpx

from ..rules.redact import SECRETS
from .state import PlacedCall, PushedCall, SimulatorState

logger = logging.getLogger(__name__)

SHAPES = ("get", "form", "json", "text")
_IN_FLIGHT = 16  # pushes awaiting an answer at once; the pace waits when all are taken
_TIMEOUT_S = 10.0
_STOP_GRACE_S = 1.0  # pushes in flight when the dialer stops get this long to finish


class Dialer:
    """Places calls on ``state`` and pushes their outcomes; :meth:`close` stops it cleanly."""

    def __init__(self, state: SimulatorState, web_host: str = "127.0.0.1:8888") -> None:
        config = state.config
        if not config.push_url:
            raise ValueError("the dialer needs a push URL")
        self.state = state
        self.url = config.push_url
        for token in parse_qs(urlsplit(self.url).query).get("token", []):
            SECRETS.add(token)  # httpx logs request URLs at INFO; the redacting filter masks it there
        self.rng = random.Random(f"dialer-{config.seed}")
        self._web_host = web_host  # where recordingFileUrl points: the simulator itself
        self._client = httpx.AsyncClient(timeout=_TIMEOUT_S)
        self._slots = asyncio.Semaphore(_IN_FLIGHT)
        self._pushes: set[asyncio.Task[PushedCall | None]] = set()

    async def call(self) -> PushedCall | None:
        """Place one call and push it, retries included; returns how the push ended, or None when
        no contact could be dialled this turn."""
        placed = self.state.place_call(self.rng, self._web_host)
        if placed is None:
            return None
        shape = self.state.config.push_shape
        if shape == "mixed":
            shape = self.rng.choice(SHAPES)
        return await self._push(placed, shape)

    async def calls(self, count: int) -> list[PushedCall]:
        """``count`` turns one after another, and the calls they placed: with a fixed seed and clock,
        the same calls every run."""
        return [pushed for _ in range(count) if (pushed := await self.call()) is not None]

    async def run(self, rate: float) -> None:
        """Place ``rate`` calls a second until cancelled."""
        loop = asyncio.get_running_loop()
        interval = 1.0 / rate
        due = loop.time()
        while True:
            # A pace lost while every slot waited on a slow receiver is not made up in a burst.
            due = max(due + interval, loop.time() - interval)
            await asyncio.sleep(max(0.0, due - loop.time()))
            await self._slots.acquire()
            task = asyncio.create_task(self.call())
            self._pushes.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[PushedCall | None]) -> None:
        self._pushes.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            logger.error("simulated call failed: %s", type(task.exception()).__name__)

    async def close(self) -> None:
        """Let pushes in flight finish for a moment, cancel the rest, and close the connections."""
        if self._pushes:
            await asyncio.wait(set(self._pushes), timeout=_STOP_GRACE_S)
        for task in list(self._pushes):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._pushes, return_exceptions=True)
        await self._client.aclose()

    async def _push(self, placed: PlacedCall, shape: str) -> PushedCall:
        config = self.state.config
        number = placed.call.number
        attempts = 0
        status: int | None = None
        try:
            while True:
                attempts += 1
                try:
                    response = await self._send(placed.fields, shape)
                    status = response.status_code
                except httpx.HTTPError as exc:
                    status = None
                    # Retried below: only a push given up on is worth a warning.
                    logger.info("push of call %s got no answer (%s)", number, type(exc).__name__)
                if status == 200 or attempts > config.push_retries:
                    break
                await asyncio.sleep(config.push_retry_delay_s * 2 ** (attempts - 1))
            if status != 200:
                logger.warning("push of call %s gave up after %d attempts (%s)", number, attempts, status)
        finally:  # a push cut off by a stop is kept too, as not delivered
            pushed = PushedCall(placed.call, placed.fields, shape, attempts, status)
            self.state.note_pushed(pushed)
        return pushed

    async def _send(self, fields: dict[str, str | int | None], shape: str) -> httpx.Response:
        if shape in ("get", "form"):
            pairs = [(k, "" if v is None else str(v)) for k, v in fields.items()]
            if shape == "get":
                # Merged after the URL's own query (its token): httpx's params= would replace it.
                return await self._client.get(httpx.URL(self.url).copy_merge_params(dict(pairs)))
            return await self._client.post(self.url, data=dict(pairs))
        body = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()
        content_type = "application/json" if shape == "json" else "text/plain;charset=UTF-8"
        return await self._client.post(self.url, content=body, headers={"content-type": content_type})
