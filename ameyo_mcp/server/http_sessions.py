"""MCP sessions over streamable HTTP, bounded: a session idle for AMEYO_HTTP_SESSION_IDLE_S ends,
and at AMEYO_HTTP_MAX_SESSIONS the least recently used idle session makes room for a new one.

Clients of the older protocol open a session with `initialize` and often never end it; the SDK's
own cap answers 503 to every newcomer once the table is full, which locks out everyone."""

from __future__ import annotations

import logging
import math

from mcp.server.auth.middleware.bearer_auth import AuthorizationContext
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

log = logging.getLogger(__name__)


class EvictingSessionManager(StreamableHTTPSessionManager):
    # Built on the SDK manager's session table (`_server_instances`, `_session_owners`) and its
    # admission hook; mcp is pinned below 3 and tests/test_http_abuse.py checks the behaviour.

    def _admit_session(self, requestor: AuthorizationContext | None) -> StreamableHTTPServerTransport | None:
        if self.max_sessions is not None and len(self._server_instances) >= self.max_sessions:
            self._evict_least_recently_used()
        return super()._admit_session(requestor)

    def _evict_least_recently_used(self) -> None:
        """End the idle session whose idle deadline comes first. A session serving a request has no
        deadline (an open GET stream counts) and is never taken."""
        victim: tuple[str, StreamableHTTPServerTransport] | None = None
        soonest = math.inf
        for session_id, transport in self._server_instances.items():
            scope = transport.idle_scope
            if scope is not None and not scope.cancel_called and scope.deadline < soonest:
                victim, soonest = (session_id, transport), scope.deadline
        if victim is None:
            return  # every session is busy: the SDK refuses the newcomer with 503
        session_id, transport = victim
        # Forgotten now (its id answers 404 from here on); cancelling its idle scope ends it the way
        # an idle timeout does, and the SDK then terminates its transport.
        self._server_instances.pop(session_id, None)
        self._session_owners.pop(session_id, None)
        assert transport.idle_scope is not None
        transport.idle_scope.cancel()
        log.info(
            "%d MCP sessions open: ended the least recently used idle one", len(self._server_instances) + 1
        )
