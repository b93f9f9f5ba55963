"""WriteGuard: every write goes through here.

Agents repeat calls, and a repeated callback rings a customer twice. An identical write (same tool,
same arguments) within the repeat window returns the earlier result, marked as a repeat, instead
of writing again; one whose outcome was unknown is refused until the caller checks and says it
means to repeat. Large writes need a person's confirmation. Every write is audited.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from .audit import AuditLog


class OutcomeUnknown(ToolError):
    """A write was sent and no answer came: Ameyo may or may not have applied it."""


class Confirmation(BaseModel):
    confirm: bool = Field(description="Send these records to Ameyo now")


@dataclass
class _Done:
    at: float
    result: CallToolResult | None  # None: the outcome is unknown
    note: str = ""


@dataclass
class WriteGuard:
    window_s: float
    confirm_over: int
    audit: AuditLog | None
    _done: dict[str, _Done] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def run(
        self,
        ctx: Context[Any, Any] | None,
        tool: str,
        arguments: dict[str, Any],
        *,
        records: int,
        allow_repeat: bool,
        confirm: bool,
        write: Callable[[], Awaitable[CallToolResult]],
    ) -> CallToolResult:
        key = _key(tool, arguments)
        lock = self._locks.setdefault(key, asyncio.Lock())
        # Identical calls made at the same moment wait for the first one instead of racing it.
        async with lock:
            earlier = self._recent(key)
            if earlier is not None and not allow_repeat:
                return self._repeat(tool, earlier)
            if records > self.confirm_over and not confirm:
                await self._confirm(ctx, tool, records)
            return await self._write(tool, key, arguments, records, write)

    def _recent(self, key: str) -> _Done | None:
        now = time.monotonic()
        for old in [k for k, d in self._done.items() if now - d.at > self.window_s]:
            del self._done[old]
        return self._done.get(key)

    def _repeat(self, tool: str, earlier: _Done) -> CallToolResult:
        ago = time.monotonic() - earlier.at
        if earlier.result is None:
            raise ToolError(
                f"The same {tool} call {ago:.0f} s ago ended with an unknown outcome ({earlier.note}). "
                "Check whether it happened (ameyo_get_contacts), then call again with allow_repeat=true "
                "only if it did not."
            )
        if self.audit is not None:
            self.audit.write("repeat", tool=tool, seconds_since=round(ago, 1))
        text = (
            f"REPEAT: this exact {tool} call was already done {ago:.0f} s ago, so nothing was sent again "
            "(pass allow_repeat=true to really do it twice). The earlier result:\n"
        )
        first = earlier.result.content[0]
        body = first.text if isinstance(first, TextContent) else ""
        structured = dict(earlier.result.structured_content or {})
        structured["repeat_of_earlier_call"] = True
        return CallToolResult(
            content=[TextContent(type="text", text=text + body)], structured_content=structured
        )

    async def _confirm(self, ctx: Context[Any, Any] | None, tool: str, records: int) -> None:
        question = (
            f"{tool} will send {records} records to Ameyo (more than the {self.confirm_over} that need "
            "no confirmation). Send them?"
        )
        capabilities = ctx.client_capabilities if ctx is not None else None
        if ctx is not None and capabilities is not None and capabilities.elicitation is not None:
            try:
                answer = await ctx.elicit(question, Confirmation)
            except MCPError:
                answer = None  # this connection cannot ask back: the argument below still works
            if answer is not None:
                data = getattr(answer, "data", None)
                if answer.action == "accept" and isinstance(data, Confirmation) and data.confirm:
                    return
                raise ToolError(f"The person did not confirm sending {records} records; nothing was sent.")
        raise ToolError(
            f"Nothing was sent: {records} records is more than {self.confirm_over} (AMEYO_CONFIRM_OVER), "
            "which needs the person's confirmation. Run the same call with dry_run=true, show the person "
            "what would be sent and refused, and if they agree call again with confirm=true."
        )

    async def _write(
        self,
        tool: str,
        key: str,
        arguments: dict[str, Any],
        records: int,
        write: Callable[[], Awaitable[CallToolResult]],
    ) -> CallToolResult:
        call_id = uuid.uuid4().hex[:12]
        if self.audit is not None:
            self.audit.write(
                "intent", call_id=call_id, tool=tool, records=records, arguments=_audited(arguments)
            )
        try:
            result = await write()
        except ToolError as exc:
            unknown = isinstance(exc, OutcomeUnknown)
            if unknown:
                self._done[key] = _Done(time.monotonic(), None, note="no answer came")
            if self.audit is not None:
                self.audit.write("error", call_id=call_id, tool=tool, outcome_unknown=unknown, error=str(exc))
            raise
        self._done[key] = _Done(time.monotonic(), result)
        if self.audit is not None:
            self.audit.write(
                "result", call_id=call_id, tool=tool, outcome_unknown=False, result=result.structured_content
            )
        return result


def _key(tool: str, arguments: dict[str, Any]) -> str:
    canonical = json.dumps([tool, arguments], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _audited(arguments: dict[str, Any]) -> dict[str, Any]:
    """What a person needs to reconcile: the target and each record, capped in size."""
    text = json.dumps(arguments, default=str, ensure_ascii=False)
    if len(text) <= 20_000:
        return arguments
    return {k: v for k, v in arguments.items() if k != "records"} | {"records": "(too large to keep)"}
