"""What every tool shares: reaching the live `Ameyo`, shaping answers, turning failures into text."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import secrets
import time
import traceback
import unicodedata
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import anyio
from mcp.server.elicitation import render_elicitation_schema
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
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
from ...ameyo.service import Ameyo, describe_failure
from ...errors import AmeyoError, AmeyoMcpError, NotConfirmed, explain, with_step
from ...rules.redact import SECRETS
from ...rules.sanitize import clean_text, data_text
from ...writes import path as writes
from ...writes import plans
from ..notices import SERVER_ONLY

if TYPE_CHECKING:
    from ...store import Store

log = logging.getLogger(__name__)

# Every answer is bounded: a model's context is precious and a runaway answer is a bug.
MAX_ANSWER_CHARS = 20_000
# The structured data beside it is for programs and names every field, so the same contacts take it
# a few times the text's characters: it has a bound of its own (measured as sent, empty fields left
# out), and a page of the most contacts a tool shows fits both.
MAX_STRUCTURED_CHARS = 2 * MAX_ANSWER_CHARS


def hints(*, read_only: bool, destructive: bool, idempotent: bool, open_world: bool) -> ToolAnnotations:
    """A tool's hints as listed, each stated only where a client could read it otherwise: a hint
    whose default is false (read-only, idempotent) is left out when false, as any client reads it
    then; destructive and idempotent mean nothing for a read-only tool (the MCP spec's words); the
    destructive and open-world hints, true by default, are always stated, for a client that would
    take a missing one as false."""
    return ToolAnnotations(
        read_only_hint=True if read_only else None,
        destructive_hint=None if read_only else destructive,
        idempotent_hint=True if idempotent and not read_only else None,
        open_world_hint=open_world,
    )


READ = hints(read_only=True, destructive=False, idempotent=True, open_world=True)
# Logging out ends the one session every process on the store shares: not an additive update.
SESSION = hints(read_only=False, destructive=True, idempotent=True, open_world=True)
ADD = hints(read_only=False, destructive=False, idempotent=False, open_world=True)
OVERWRITE = hints(read_only=False, destructive=True, idempotent=False, open_world=True)

# Arguments several tools take, described once. The texts are short: every conversation is sent
# them, and a mistake's refusal says the rest (when a confirm_token is needed, a time's forms).
AllowRepeatArg = Annotated[bool, Field(description="The person asked to repeat a recent write")]
ConfirmArg = Annotated[
    str | None, Field(max_length=64, description="The dry run's confirm_token, once the person agreed")
]
DryRunArg = Annotated[bool, Field(description="Check only; send nothing")]
OutsideHoursArg = Annotated[bool, Field(description="The person wants times outside calling hours")]
DespiteDncArg = Annotated[bool, Field(description="The person confirmed calling do-not-call customers")]
CallbackTimeArg = Annotated[
    str, Field(max_length=64, description="YYYY-MM-DDTHH:MM:SS (server's zone) or with an offset")
]
AgentArg = Annotated[str | None, Field(max_length=64, description="Agent's user id to route it to")]
SelfCallbackArg = Annotated[bool, Field(description="Reserve it for that agent only")]


class Confirmation(BaseModel):
    # Strict: a yes is the boolean true the form asks for, never a string pydantic would coerce.
    confirm: bool = Field(strict=True, description="Send these records to Ameyo now")


# From this protocol version on, a server asks the person inside the call's result (an
# input_required result, answered by the client calling again), not by an elicitation request
# of its own. The version the SDK's own resolvers switch at.
ROUND_TRIP_VERSION = "2026-07-28"
# The key of the confirmation question in an input_required result and in the client's answer.
CONFIRM_KEY = "ameyo_confirm"
# A question is answered within the life of the SDK's sealed request state (600 s by default);
# kept a little longer here, and then forgotten: an answer to it asks again.
QUESTION_KEPT_S = 900.0


@dataclass
class CallEnding:
    """Where a tool call ends when it asks the person (the 2026-07-28 input-required round trip):
    its cancel scope, and the question, which becomes the call's result. The client calls again
    with the person's answer; the tool then runs again from the start and finds it.

    Not an exception: asking cancels the call, which unwinds every frame on its way as any
    cancellation does (nothing is sent after the question, and whatever was started is settled as
    for a cancelled call), and which no `except Exception`, ours or the SDK's, can take for a
    failure. `ExplainedTool.run` opens the scope and returns the question."""

    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    question: InputRequiredResult | None = None


ENDING: ContextVar[CallEnding | None] = ContextVar("ameyo_call_ending", default=None)


async def end_call(question: InputRequiredResult) -> NoReturn:
    """End this tool call with `question` as its result (see `CallEnding`)."""
    ending = ENDING.get()
    if ending is None:  # pragma: no cover - wiring error: only a tool call asks the person
        raise RuntimeError("a question to the person can only end a tool call")
    ending.question = question
    ending.scope.cancel()
    await anyio.sleep_forever()  # the cancellation lands here
    raise RuntimeError("a cancelled call went on")  # pragma: no cover


@dataclass
class OpenQuestions:
    """The confirmations asked by round trip and not answered yet, kept in the store as digests
    (beside the dry-run tokens), so that the client's retry may reach any process on the store: an
    answer counts once, only for a question asked (here or by another replica), about the very
    question it answers; a repeated or replayed retry is asked again instead of writing again."""

    store: Callable[[], Store]

    async def open(self, question: str) -> str:
        """A new question about `question` (its digest); the nonce that names it in the state."""
        nonce = secrets.token_urlsafe(16)
        await anyio.to_thread.run_sync(
            self.store().add_confirm_token, _nonce_digest(nonce), _QUESTION + question, time.time()
        )
        return nonce

    async def answer(self, nonce: str, question: str) -> bool:
        """True once for a question asked about `question` and still open; it is closed then."""
        since = time.time() - QUESTION_KEPT_S
        spend = functools.partial(
            self.store().spend_confirm_token, _nonce_digest(nonce), _QUESTION + question, since=since
        )
        return await anyio.to_thread.run_sync(spend)


# A question's row among the dry-run tokens: no write's identity starts so.
_QUESTION = "question:"


def _nonce_digest(nonce: str) -> str:
    return hashlib.sha256(f"question {nonce}".encode()).hexdigest()


@dataclass
class AppState:
    """What the server's lifespan yields: the one Ameyo connection of this process, the write
    path every write passes through, and the store (index and call history)."""

    ameyo: Ameyo
    writes: writes.WritePath
    # Set by the client with logging/setLevel: the least severe log notification it wants.
    client_log_level: str = "debug"

    @property
    def store(self) -> Store:
        """The index, call history, write ledger and session lease (AMEYO_DATABASE_URL): the store
        the Ameyo connection keeps its session lease in, opened on first use and closed with it."""
        return self.ameyo.store()

    @property
    def questions(self) -> OpenQuestions:
        """The questions asked by round trip, in the store."""
        return OpenQuestions(lambda: self.store)


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
    request by the input-required round trip (see `CallEnding`)."""
    if not can_ask(ctx.client_capabilities):
        return None
    version = ctx.protocol_version
    if version is not None and is_version_at_least(version, ROUND_TRIP_VERSION):
        return _round_trip_asker(ctx)

    async def ask(question: str, _binding: str) -> bool | None:
        # Asked and answered within this one call: the answer cannot reach another write.
        try:
            answer = await ctx.elicit(question, Confirmation)
        except MCPError as exc:
            # The client declared it can ask and then answered with an error: perhaps the person
            # closed the question. Not a yes, and no way round it by the dry-run token either.
            raise NotConfirmed(
                "The client could not put the question to the person (it answered with an error: "
                f"{clean_text(exc.error.message, 80)}); nothing was sent."
            ) from None
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
    (the SDK seals the request state to the tool and its arguments, under this process's key or
    the replicas' shared one, AMEYO_SECRET_KEY), only for the very question asked about the very
    same write, and once in every process on the store; anything else asks again."""
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
            and await questions.answer(str(asked.get("n")), digest)
        ):
            return _confirmed(answer)
        state = json.dumps({CONFIRM_KEY: {"n": await questions.open(digest), "q": digest}})
        schema = render_elicitation_schema(Confirmation)
        request = ElicitRequest(params=ElicitRequestFormParams(message=question, requested_schema=schema))
        await end_call(InputRequiredResult(input_requests={CONFIRM_KEY: request}, request_state=state))

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
    write: plans.Write,
    *,
    allow_repeat: bool,
    token: str | None = None,
    refused: int = 0,
) -> plans.Sent:
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


def filter_given(text: str | None) -> str | None:
    """A read tool's text filter as given, or None when it is blank: a blank filter is no filter
    (models send search=" " or phone="" for "any"), never a search for '' that finds nobody. Blank
    is spaces and invisible characters (a zero-width space, which every answer shows as ''). The
    one rule for the lookups and the call history."""
    if text is None or not "".join(ch for ch in text if unicodedata.category(ch) != "Cf").strip():
        return None
    return text


def words_given(text: str | None, argument: str) -> str | None:
    """A name filter as given (None when blank: `filter_given`), refused when it has no letter or
    digit: the index holds names as their folded words (`fold_words`), so "-" or "'" searched for
    nothing and answered "0 match", or matched any field holding a dash in a live scan."""
    given = filter_given(text)
    if given is None:
        return None
    from ...store.fold import fold_words  # here: start-up does not pay for the store

    if not fold_words(given):
        raise ToolError(
            f"{argument} {data_text(given, 40)!r} has no letter or digit, so there is nothing to search "
            f"for: give some letters of the name (e.g. 'pri sha'), or leave {argument} out."
        )
    return given


def answer(text: str, out: BaseModel) -> CallToolResult:
    if len(text) > MAX_ANSWER_CHARS:
        text = text[: MAX_ANSWER_CHARS - 60] + "\n… answer cut at the size limit; ask for less."
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=out.model_dump(mode="json", exclude_none=True),
    )


@asynccontextmanager
async def explained(ameyo: Ameyo, campaign: CampaignInfo | None = None) -> AsyncIterator[None]:
    """Ameyo's failures put into words that name the campaign's own leads (a lead not in the
    campaign lists those that are). Every other failure goes on to the server's edge, which turns
    it into a tool error with `tool_error` all the same."""
    try:
        yield
    except AmeyoError as exc:
        text = await ameyo.explain(exc, campaign) if exc.key else None
        raise tool_error(exc, text=text) from None


def failure_text(exc: BaseException, *, where: str, text: str | None = None, write: bool = False) -> str:
    """The one way a failure reaches the model or a person: a sentence that says what happened and
    what to do. An error of the tree says it itself (or `text` says it in other words: Ameyo's
    message key explained, which is given its next step); a write whose outcome is unknown says
    so. Anything else is unexpected: its traceback goes to the log with secrets masked, and only
    its kind to the model (`write`: it may have been sending a write). `where` names what failed
    (a tool, a resource), for the log."""
    if isinstance(exc, AmeyoMcpError):
        if isinstance(exc, AmeyoError) and exc.key is not None:
            # Ameyo's own message key in words, which never say what to do: its step says it.
            said = text or describe_failure(exc.key, exc.args_, fallback=exc.message)
            text = with_step(said, exc.next_step)
        elif text is None:
            text = str(exc)
        if exc.outcome_unknown and "unknown" not in text:
            text = with_step(text, "Its outcome is unknown: check before repeating it.")
        return text
    trace = "".join(traceback.format_exception(exc))
    log.error("%s failed unexpectedly:\n%s", where, SECRETS.scrub(trace), extra=SERVER_ONLY)
    text = explain(exc)
    if write:
        text = with_step(
            text,
            "If it was sending a write, Ameyo may or may not have applied it: check with "
            "ameyo_get_contacts before sending it again.",
        )
    return text


def tool_error(
    exc: BaseException, *, tool: str = "a tool", text: str | None = None, write: bool = False
) -> ToolError:
    """Any failure as the tool error the model reads (in mcp 2.x only a ToolError's text reaches
    it): see `failure_text`. A ToolError (ours, already a sentence) or a ResourceError read by the
    tool stays as it is."""
    if isinstance(exc, ToolError):
        return exc
    if isinstance(exc, ResourceError):
        return ToolError(str(exc))
    return ToolError(failure_text(exc, where=tool, text=text, write=write))


def resource_error(exc: BaseException, *, uri: str) -> ResourceError:
    """Any failure of a resource read as the error its client reads: see `failure_text`."""
    if isinstance(exc, ResourceError):
        return exc
    return ResourceError(failure_text(exc, where=f"resource {uri}"))
