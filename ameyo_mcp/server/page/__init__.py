"""The operator's page: what support staff and whoever runs the server look at in a browser, at `/`
of the HTTP transport and of `ameyo-mcp receiver` (see `app` for its paths and sign-in, `status` for
what it shows). The page itself (`index.html`, `page.js`, `page.css`) is package data."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp

from ...config import Settings
from ...health import Check, Drain, readiness
from ...listener import is_loopback
from ..http_access import HostCheck, TokenCheck
from .app import Mounted, OperatorPage, SignOuts, is_page_path, not_found
from .status import Serving, Status

__all__ = ["Mounted", "OperatorPage", "Serving", "Status", "is_page_path", "operator_page", "receiver_page"]


def operator_page(
    settings: Settings,
    host: str,
    port: int,
    *,
    transport: str,
    read_only: bool | None,
    drain: Drain,
    checks: Mapping[str, Check],
    check: TokenCheck | None,
) -> ASGIApp:
    """The page of a process bound to `host`:`port`, its Host and Origin checked as /mcp's are;
    `drain` and `checks` are those its /readyz answers from."""
    checks = dict(checks)

    async def ready() -> dict[str, object]:
        return await readiness(drain, checks)

    status = Status(settings, Serving(transport, read_only, ready))
    # Sign-outs are kept in the store the page reads, which every replica of the server shares.
    sign_outs = SignOuts(status.store) if check is not None else None
    page = OperatorPage(status, check, open_without_token=is_loopback(host), sign_outs=sign_outs)
    return HostCheck(page, host, port, settings.allowed_hosts)


def receiver_page(
    settings: Settings, host: str, port: int, drain: Drain, checks: Mapping[str, Check]
) -> ASGIApp:
    """The page of `ameyo-mcp receiver` (which neither talks to Ameyo nor writes to it), for any path
    but the receiver's own: other paths answer 404."""
    token = settings.http_token
    page = operator_page(
        settings,
        host,
        port,
        transport="receiver",
        read_only=None,
        drain=drain,
        checks=checks,
        check=TokenCheck(token.get_secret_value()) if token is not None else None,
    )
    return Mounted(not_found, page)
