"""Wiring: the receiver over the store (`build_receiver`), and `ameyo-mcp receiver` running it alone."""

from __future__ import annotations

import logging
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

from starlette.types import ASGIApp

from ..errors import SettingsError
from ..health import Check, Drain, DrainingServer, HealthRoutes, StoreProbe, counted
from .app import Receiver, Stored
from .writer import BatchWriter

if TYPE_CHECKING:
    from ..config import Settings
    from ..store import Store
    from ..store.records import CallEvent

log = logging.getLogger(__name__)

# The operator's page of a process (it lives in the server's layer, which hands it in), given the
# drain and the readiness checks its /readyz answers from.
PageOf = Callable[[Drain, dict[str, Check]], ASGIApp]
# How long /readyz waits for the store's answer before it calls it not answering.
STORE_PROBE_S = 2.0
# What the receiver opens besides its connections: the listening socket, the store's two (the
# writer's and the readiness probe's, three files each on SQLite), the log.
OWN_FILES = 32


def build_receiver(
    settings: Settings,
    store: Store,
    *,
    fallback: ASGIApp | None = None,
    on_stored: Stored | None = None,
) -> tuple[Receiver, BatchWriter]:
    """The `/ameyo/status` endpoint writing to `store`; other paths go to `fallback`."""
    from ..rules import phones

    if settings.push_token is None:
        raise SettingsError(
            "AMEYO_PUSH_TOKEN is not set: choose a long random string and give Ameyo the URL "
            "http://HOST:PORT/ameyo/status?token=<it>"
        )
    token = settings.push_token.get_secret_value()  # masked in every text: Settings registered it

    def write(events: Sequence[CallEvent]) -> list[bool]:
        return store.add_calls(events)

    def prune() -> int:
        return store.prune_calls(older_than_days=settings.history_days, now=datetime.now(UTC))

    writer = BatchWriter(write, prune)
    receiver = Receiver(
        token,
        writer,
        zone=settings.zone,
        phone_key=partial(phones.key, region=settings.phone_region),
        on_stored=on_stored,
        fallback=fallback,
    )
    return receiver, writer


def serve(settings: Settings, host: str, sock: socket.socket, *, page: PageOf | None = None) -> None:
    """`ameyo-mcp receiver`: the endpoint alone, for deployments whose MCP server runs over stdio;
    on `sock`, already bound to `host` (`listener.server_socket`). `page`: what answers other paths
    (the operator's page), given the drain and the readiness checks /readyz answers from."""
    from ..listener import cap_note, connection_cap, is_loopback, listener_config
    from ..store import open_store

    port = int(sock.getsockname()[1])
    store = open_store(settings)
    # On SIGTERM, pushes being stored are waited for (a push is short; one refused might be lost).
    drain = Drain(settings.drain_s)
    probe = StoreProbe(lambda: store.ping(timeout_s=STORE_PROBE_S), timeout_s=STORE_PROBE_S)
    checks: dict[str, Check] = {"store": probe}
    fallback = page(drain, checks) if page is not None else None
    receiver, writer = build_receiver(settings, store, fallback=fallback)
    writer.start()  # old history is pruned from the start, not from the first push
    cap = connection_cap(settings.http_max_connections, OWN_FILES)
    shown = ""
    if page is not None:
        # Beyond loopback without a token the page answers 403: said so, not advertised as open.
        closed = not is_loopback(host) and settings.http_token is None
        shown = f"; the operator's page at http://{host}:{port}/" + (
            " is closed until AMEYO_HTTP_TOKEN is set (it listens beyond this machine)" if closed else ""
        )
    print(
        f"ameyo-mcp: receiving Ameyo's call outcomes at http://{host}:{port}/ameyo/status "
        f"(store: {store.where}; history kept {settings.history_days} days; "
        f"{cap_note(cap, settings.http_max_connections)}; /healthz and /readyz for a load balancer){shown}",
        file=sys.stderr,
    )
    app = HealthRoutes(counted(receiver, drain), drain, checks)
    try:
        config = listener_config(
            app, host, port, max_connections=cap, read_timeout_s=settings.http_read_timeout_s, lifespan="off"
        )
        DrainingServer(config, drain, name="the receiver").run(sockets=[sock])
    finally:
        writer.close()
        store.close()


def serve_in_thread(settings: Settings, sock: socket.socket) -> Callable[[], None]:
    """The receiver on an already bound socket, in a daemon thread; returns what stops it. For the
    stdio demo, which has no HTTP server of its own to mount the receiver on."""
    import uvicorn

    from ..listener import connection_cap, listener_config
    from ..store import open_store

    store = open_store(settings)
    receiver, writer = build_receiver(settings, store)
    host, port = sock.getsockname()[:2]
    cap = connection_cap(settings.http_max_connections, OWN_FILES)
    config = listener_config(
        receiver, host, port, max_connections=cap, read_timeout_s=settings.http_read_timeout_s, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="ameyo-receiver", daemon=True
    )
    thread.start()

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=5)
        writer.close()
        store.close()
        sock.close()

    return stop
