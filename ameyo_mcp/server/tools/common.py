"""What every tool shares: reaching the live `Ameyo`, shaping answers, turning failures into text."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.elicitation import render_elicitation_schema
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp.types import (
    CallToolResult,
    ClientCapabilities,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    InputRequiredResult,
    TextContent,
    ToolAnnotations,
)
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field, ValidationError

from ...ameyo.models import CampaignInfo
from ...ameyo.service import Ameyo
from ...errors import AmeyoError, Respelled, TimeInputError, WriteError
from ...errors import OutcomeUnknown as WriteOutcomeUnknown
from ...writes import path as writes

if TYPE_CHECKING:
    from ...store import Store

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


# From this protocol version on, a server asks the person inside the call's result (an
# input_required result, answered by the client calling again), not by an elicitation request
# of its own. The version the SDK's own resolvers switch at.
ROUND_TRIP_VERSION = "2026-07-28"
# The key of the confirmation question in an input_required result and in the client's answer.
CONFIRM_KEY = "ameyo_confirm"
# A question is answered within the life of the SDK's sealed request state (600 s by default);
# kept a little longer here, and then forgotten: an answer to it asks again.
QUESTION_KEPT_S = 900.0
MAX_OPEN_QUESTIONS = 1000


class InputRequired(BaseException):
    """Not an error: this call ends here with `result`, the question to the person, and the client
    calls again with the person's answer (the 2026-07-28 input-required round trip). The tool then
    runs again from the start and finds the answer; its write was not sent on the way out.

    A BaseException, so that no `except Exception` on its way (ours, or the SDK's, which would
    report a crash) takes it for a failure. `ExplainedTool.run` turns it into the call's result.
    """

    def __init__(self, result: InputRequiredResult) -> None:
        super().__init__("input required")
        self.result = result


@dataclass
class OpenQuestions:
    """The confirmations this process asked by round trip and has not had answered: an answer
    counts once, and only for a question asked here, so a repeated or replayed retry of the call
    is asked again instead of writing again."""

    _asked: dict[str, float] = field(default_factory=dict)

    def open(self) -> str:
        now = time.monotonic()
        for nonce, at in list(self._asked.items()):  # oldest first
            if now - at <= QUESTION_KEPT_S and len(self._asked) < MAX_OPEN_QUESTIONS:
                break
            del self._asked[nonce]
        nonce = secrets.token_urlsafe(12)
        self._asked[nonce] = now
        return nonce

    def answer(self, nonce: str) -> bool:
        """True once for a question asked here and still open; it is closed then."""
        at = self._asked.pop(nonce, None)
        return at is not None and time.monotonic() - at <= QUESTION_KEPT_S


@dataclass
class AppState:
    """What the server's lifespan yields: the one Ameyo connection of this process, the write
    path every write passes through, and the store (index and call history)."""

    ameyo: Ameyo
    writes: writes.WritePath
    # Set by the client with logging/setLevel: the least severe log notification it wants.
    client_log_level: str = "debug"
    _store: Store | None = None
    questions: OpenQuestions = field(default_factory=OpenQuestions)

    @property
    def store(self) -> Store:
        """The index and call history (AMEYO_DATABASE_URL), opened on first use."""
        if self._store is None:
            from ...store import open_store  # here: start-up does not pay for the store

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
    """The write path's question to the person; None when the client cannot ask (the dry-run
    token is needed then). A 2025-11-25 session is asked by an elicitation request; a 2026-07-28
    request by the input-required round trip (see `InputRequired`)."""
    if not can_ask(ctx.client_capabilities):
        return None
    version = ctx.protocol_version
    if version is not None and is_version_at_least(version, ROUND_TRIP_VERSION):
        return _round_trip_asker(ctx)

    async def ask(question: str, _binding: str) -> bool | None:
        # Asked and answered within this one call: the answer cannot reach another write.
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


def _round_trip_asker(ctx: Context[Any, Any]) -> writes.Ask:
    """Ask inside the call's result. The answer counts only on the retry of the call that asked
    (the SDK seals the request state to the tool and its arguments, and to this process), only for
    the very question asked about the very same write, and once; anything else asks again."""
    questions = state_of(ctx).questions

    async def ask(question: str, binding: str) -> bool | None:
        # The question as it reads and the exact write it is about (for a file, its content):
        # a file replaced by another of as many rows reads the same, and is asked about again.
        digest = hashlib.sha256(f"{question}\n{binding}".encode()).hexdigest()[:32]
        asked = _asked_in(ctx.request_state)
        answer = (ctx.input_responses or {}).get(CONFIRM_KEY)
        # The question is closed only by an answer to it as it reads now (the file or the checks
        # may have changed it since): then that answer, yes or no, is the person's.
        if (
            asked is not None
            and answer is not None
            and asked.get("q") == digest
            and questions.answer(str(asked.get("n")))
        ):
            return _confirmed(answer)
        state = json.dumps({CONFIRM_KEY: {"n": questions.open(), "q": digest}})
        schema = render_elicitation_schema(Confirmation)
        request = ElicitRequest(params=ElicitRequestFormParams(message=question, requested_schema=schema))
        raise InputRequired(InputRequiredResult(input_requests={CONFIRM_KEY: request}, request_state=state))

    return ask


def _asked_in(request_state: str | None) -> dict[str, Any] | None:
    """The question recorded in a retried call's request state, if there is one."""
    try:
        asked = json.loads(request_state or "null")
    except ValueError:
        return None
    found = asked.get(CONFIRM_KEY) if isinstance(asked, dict) else None
    return found if isinstance(found, dict) else None


def _confirmed(answer: object) -> bool:
    """Only an accepted form whose `confirm` is true is a yes."""
    if not isinstance(answer, ElicitResult) or answer.action != "accept":
        return False
    try:
        return Confirmation.model_validate(answer.content).confirm
    except ValidationError:
        return False


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
    except WriteOutcomeUnknown as exc:
        raise OutcomeUnknown(str(exc)) from None
    except Respelled:
        raise  # not a failure: the tool plans the write again with the spellings it carries
    except (WriteError, TimeInputError) as exc:
        raise ToolError(str(exc)) from None
