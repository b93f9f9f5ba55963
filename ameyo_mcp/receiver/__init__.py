"""Ameyo's call-outcome pushes, received over HTTP at `/ameyo/status` and kept in the store.

`fields` and `body` are pure functions (request text in, a `CallEvent` out); `app` is the ASGI
endpoint that checks the token and answers only after the store has committed; `service` runs it
alone (`ameyo-mcp receiver`) with the background pruning.
"""
