"""The receiver's baseline: an endpoint served as `ameyo-mcp receiver` serves (uvicorn, same options)
that reads each push and answers 200 without parsing or storing anything.

python bench/bare_receiver.py --port 8010
"""

from __future__ import annotations

import argparse

from starlette.types import Receive, Scope, Send

BODY = b"OK stored\n"


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"10")],
        }
    )
    await send({"type": "http.response.body", "body": BODY})


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="bare push endpoint")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False, lifespan="off")


if __name__ == "__main__":
    main()
