"""What the HTTP transport's gates answer themselves, before a request reaches the SDK."""

from __future__ import annotations

import json

from starlette.types import Scope, Send


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return bytes(value)
    return None


async def plain(send: Send, status: int, text: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def refuse(send: Send, request_id: object, message: str, *, retry_after_s: int) -> None:
    """503 with Retry-After and a JSON-RPC error saying why: nothing of the request ran. The
    connection is closed, which frees it for others."""
    error = {"code": -32000, "message": message}
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "error": error}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry_after_s).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})
