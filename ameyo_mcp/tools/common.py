"""What every tool shares: reaching the live `Ameyo`, shaping answers, turning failures into text."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, ClientCapabilities, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from .. import writes
from ..errors import AmeyoError
from ..models import CampaignInfo
from ..service import Ameyo
from ..times import TimeInputError

if TYPE_CHECKING:
    from ..store import Store

# Every answer is bounded: a model's context is precious and a runaway answer is a bug.
MAX_ANSWER_CHARS = 20_000

READ = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
SESSION = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
ADD = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)
AllowRepeatArg = Annotated[bool, Field(description="Really repeat a write already made minutes ago")]
ConfirmArg = Annotated[
    str | None,
    Field(
        max_length=64,
        description="Large writes: confirm_token from this call's dry run, once the person agreed",
    ),
]
OVERWRITE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
)


class OutcomeUnknown(ToolError):
    """A write was sent and no answer came: Ameyo may or may not have applied it."""


class Confirmation(BaseModel):
    confirm: bool = Field(description="Send these records to Ameyo now")


@dataclass
class AppState:
    """What the server's lifespan yields: the one Ameyo connection of this process, the write
    path every write passes through, and the store (index and call history)."""

    ameyo: Ameyo
    writes: writes.WritePath
    # Set by the client with logging/setLevel: the least severe log notification it wants.
    client_log_level: str = "debug"
    _store: Store | None = None

    @property
    def store(self) -> Store:
        """The index and call history (AMEYO_DATABASE_URL), opened on first use."""
        if self._store is None:
            from ..store import open_store  # here: start-up does not pay for the store

            self._store = open_store(self.ameyo.settings)
        return self._store

    def close_store(self) -> None:
        if self._store is not None:
            self._store.close()


def state_of(ctx: Context[Any, Any]) -> AppState:
    state = ctx.request_context.lifespan_context
    if not isinstance(state, AppState):  # pragma: no cover - wiring error, not a user error
        raise ToolError("The server is not initialised")
    return state


def store_of(ctx: Context[Any, Any]) -> Store:
    return state_of(ctx).store


def ameyo_of(ctx: Context[Any, Any]) -> Ameyo:
    return state_of(ctx).ameyo


def asker(ctx: Context[Any, Any]) -> writes.Ask | None:
    """The write path's question to the person, by elicitation; None when the client cannot ask."""
    if not can_ask(ctx.client_capabilities):
        return None

    async def ask(question: str) -> bool | None:
        try:
            answer = await ctx.elicit(question, Confirmation)
        except MCPError:
            return None  # this connection cannot ask back: the dry-run token still works
        except ValueError:
            return False  # accepted without a readable yes: not a confirmation
        data = getattr(answer, "data", None)
        return answer.action == "accept" and isinstance(data, Confirmation) and data.confirm

    return ask


def can_ask(capabilities: ClientCapabilities | None) -> bool:
    """Whether the client declared form elicitation (a bare `elicitation: {}` is form)."""
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


async def send_write(
    ctx: Context[Any, Any],
    write: writes.Write,
    *,
    allow_repeat: bool,
    token: str | None = None,
    refused: int = 0,
) -> writes.Sent:
    """A tool's write, through the one write path, with its failures as tool errors."""
    state = state_of(ctx)
    async with explained(state.ameyo, write.campaign):
        return await state.writes.send(
            write, allow_repeat=allow_repeat, token=token, ask=asker(ctx), refused=refused
        )


def repeat_note(seconds_ago: float | None) -> str:
    """The first line of an answer given again instead of writing again; empty for a new write."""
    if seconds_ago is None:
        return ""
    return (
        f"REPEAT: this same write was already done {seconds_ago:.0f} s ago, so nothing was sent "
        "again (pass allow_repeat=true to really do it twice). The earlier result:\n"
    )


def answer(text: str, out: BaseModel) -> CallToolResult:
    if len(text) > MAX_ANSWER_CHARS:
        text = text[: MAX_ANSWER_CHARS - 60] + "\n… answer cut at the size limit; ask for less."
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=out.model_dump(mode="json", exclude_none=True),
    )


@asynccontextmanager
async def explained(ameyo: Ameyo, campaign: CampaignInfo | None = None) -> AsyncIterator[None]:
    """Turn our failures into a `ToolError`: in mcp 2.x only a ToolError's text reaches the model."""
    try:
        yield
    except AmeyoError as exc:
        text = await ameyo.explain(exc, campaign)
        if exc.outcome_unknown:
            if "unknown" not in text:
                text += " (outcome unknown: check before repeating)"
            raise OutcomeUnknown(text) from None
        raise ToolError(text) from None
    except writes.OutcomeUnknown as exc:
        raise OutcomeUnknown(str(exc)) from None
    except (writes.WriteError, TimeInputError) as exc:
        raise ToolError(str(exc)) from None
