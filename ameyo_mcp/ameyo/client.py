"""AmeyoClient: the Customer Manager wire format, one way to send any command.

The client knows nothing of sessions' lifetimes (see `session.py`) and nothing of text for people:
`send` posts a request model (which names its command and how its answer is read, see
`models.Reply`) and returns the typed answer or raises one typed `AmeyoError`.
"""

from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar, overload
from urllib.parse import urlsplit

import orjson
from pydantic import TypeAdapter, ValidationError

from ..config import Settings
from ..errors import (
    AmeyoError,
    AuthenticationFailed,
    CommandFailed,
    InvalidSession,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from ..logs import quiet_http_loggers
from ..rules.redact import SECRETS
from ..rules.sanitize import data_text
from .models import Command, LoginInfo, LoginRequest, LogoutRequest, PingRequest, PingResult, Reply

if TYPE_CHECKING:
    import httpx

    from .sender import Sender

log = logging.getLogger(__name__)

T = TypeVar("T")
U = TypeVar("U")
# Set by the write path around one write (a one-item list, False until then): set to True the moment
# a write's request is handed to the network, so that a write cancelled while it waited (for a login,
# a free connection) is known never to have reached Ameyo, and one cancelled later is an unknown outcome.
ON_WIRE: ContextVar[list[bool] | None] = ContextVar("ameyo_on_wire", default=None)
_INVALID_SESSION_KEY = "LogoutRemoterProcessorHelper.invalid.sessionid"
_DEFAULT_TIMEOUT_S = 30.0
# The most of an Ameyo error text (or one of its arguments) passed on: its reasons are a sentence.
_SAID_CAP = 300


class AmeyoClient:
    """One long-lived `httpx.AsyncClient` speaking `POST …/ameyowebaccess/command`.

    httpx is imported and the client built on the first command, not at start: the server answers
    its first `tools/list` sooner, and a conversation that never calls Ameyo never pays for it.
    """

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        quiet_http_loggers()
        self.settings = settings
        # Where requests go instead of the network, when given: tests serve the simulator's app
        # through `httpx.ASGITransport`, as httpx itself is tested.
        self._transport = transport
        self.redactor = SECRETS  # the settings' secrets are in it already (Settings registers them)
        self.timeout_s = settings.timeout_s or _DEFAULT_TIMEOUT_S
        self._sender: Sender | None = None
        # When a command last found no Ameyo to connect to (monotonic), until any answer comes.
        self.unreachable_at: float | None = None

    def _connection(self) -> Sender:
        if self._sender is None:
            from .sender import Sender

            headers = {"Accept": "application/json, text/plain, */*", **_FORM_HEADERS}
            settings = self.settings
            if settings.token_auth and settings.hash_key is not None:
                headers["hash-key"] = settings.hash_key.get_secret_value()
                headers["policy-name"] = settings.policy_name
                headers["requesting-host"] = settings.requesting_host or ""
            self._sender = Sender(settings.command_url, headers, self._transport)
        return self._sender

    async def aclose(self) -> None:
        if self._sender is not None:
            await self._sender.aclose()

    def adopt_timings(self, info: LoginInfo) -> None:
        """Use the server's own command timeout (plus a margin) unless the settings fix one."""
        if self.settings.timeout_s is None:
            self.timeout_s = info.command_timeout_ms / 1000 + 2.0

    # -- the commands ------------------------------------------------------------------------

    async def login(self) -> LoginInfo:
        settings = self.settings
        if settings.user_id is None or settings.password is None:
            raise AuthenticationFailed("No Ameyo user is configured: set AMEYO_USER_ID and AMEYO_PASSWORD")
        request = LoginRequest(
            user_id=settings.user_id,
            password=settings.password.get_secret_value(),
            terminal=settings.terminal,
            client_type=settings.client_type,
        )
        info = await self.send(request)
        if info is None:
            raise AuthenticationFailed(
                f"Ameyo refused the login of user {settings.user_id!r}: the password (AMEYO_PASSWORD) or "
                "the user (AMEYO_USER_ID) is wrong, or the user lacks the Customer Manager role"
            )
        self.redactor.add_session(info.session_id)
        self.adopt_timings(info)
        return info

    async def ping_session(self, session_id: str) -> PingResult:
        self.redactor.add_session(session_id)
        result = await self.send(PingRequest(session_id=session_id))
        if not result.alive:
            raise InvalidSession("The Ameyo session has ended (ping answered alive=false)")
        return result

    async def logout(self, session_id: str) -> None:
        await self.send(LogoutRequest(session_id=session_id))

    # -- the wire ----------------------------------------------------------------------------

    @overload
    async def send(self, request: Command[T]) -> T: ...
    @overload
    async def send(self, request: Command[Any], reply: Reply[U]) -> U: ...
    async def send(self, request: Command[Any], reply: Reply[Any] | None = None) -> Any:
        """POST one command and read its answer as `reply` says (the request's own by default):
        the typed answer, or the matching AmeyoError."""
        how = request.reply if reply is None else reply
        command, write = request.command, request.writes
        response = await self._post(command, request.wire(), write)
        if how.from_bytes:
            rows = self._plain_rows(response, how)
            if rows is not None:
                return rows
        body = self._decode(command, response, write, null=how.null)
        if how.rows:
            body = _bean_list(body)
        if how.as_sent is not None:
            if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
                raise UpstreamUnavailable(
                    f"Ameyo answered {command} in an unexpected shape (not a list of {how.as_sent})"
                )
            return body
        return self._model(command, body, how.adapter, write)

    def _plain_rows(self, response: httpx.Response, reply: Reply[T]) -> T | None:
        """An answer's rows (an upload's 500), read straight from the bytes into the models when the
        answer is plainly rows: a UTF-8 body under HTTP 400 that is a bare JSON list or exactly
        `{"beanResponse": [...]}`, which no error shape can be. None for anything else, or anything
        those do not validate: `send` reads it the general way (decoded, checked for errors, then
        validated), which gives every answer the outcome it had; the common one skips making a dict
        per row first."""
        if response.status_code < 400 and response.charset_encoding in (None, "utf-8", "UTF-8"):
            content = response.content
            try:
                if content.lstrip()[:1] == b"[":
                    return reply.adapter.validate_json(content)
                found = reply.in_bean.validate_json(content).get("beanResponse")
                if found is not None:
                    return found
            except ValidationError:
                pass
        return None

    async def _post(self, command: str, data: dict[str, Any], write: bool) -> httpx.Response:
        """POST one command (`write`: it changes Ameyo's data); its response, or the AmeyoError of a
        request that got none."""
        body = request_body(command, data)
        log.debug("ameyo command %s", command)
        sender = self._connection()
        import httpx  # already loaded by _connection; bound here for the except clauses

        mark = ON_WIRE.get() if write else None
        if mark is not None:
            mark[0] = True
        try:
            response = await sender.post(body, self.timeout_s)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            self.unreachable_at = time.monotonic()
            raise UpstreamUnavailable(
                f"Ameyo is unreachable at {self.settings.base_url} ({_unreachable_why(exc)}): "
                "check AMEYO_BASE_URL and that the server is up"
            ) from None
        except httpx.PoolTimeout:
            raise UpstreamTimeout(
                f"Too many Ameyo commands are waiting; {command} was not sent. Try again shortly."
            ) from None
        except httpx.TimeoutException:
            raise UpstreamTimeout(
                f"Ameyo did not answer {command} within {self.timeout_s:g} s",
                next_step=_next_step(write),
                outcome_unknown=write,
            ) from None
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"The connection to Ameyo broke during {command} ({_broken_why(exc)})",
                next_step=_next_step(write),
                outcome_unknown=write,
            ) from None
        self.unreachable_at = None
        return response

    def _decode(self, command: str, response: httpx.Response, write: bool, *, null: bool = False) -> Any:
        """The decoded JSON body of an answer, or the AmeyoError it is. `null`: a `null` body is an
        answer of this command."""
        status = response.status_code
        body = _json(response.content) if response.charset_encoding in (None, "utf-8", "UTF-8") else _NO_BODY
        if body is _NO_BODY:
            # Another charset, or bytes that are not UTF-8: read as text, as httpx decodes it.
            body = _json(response.text)
        if status in (401, 403) and self.settings.token_auth:
            raise AuthenticationFailed(
                f"Ameyo rejected the token authentication (HTTP {status}): "
                "check AMEYO_HASH_KEY, AMEYO_POLICY_NAME and AMEYO_REQUESTING_HOST"
            )
        if body is not _NO_BODY:
            error = self._error_in(command, body)
            if error is not None:
                raise error
        if status == 404:
            raise UpstreamUnavailable(_not_found(self.settings))
        if body is None and not null:
            # Only login uses `null` (refused credentials); anywhere else it is no answer at all,
            # and reading it as "no results" would hide a failure.
            raise UpstreamUnavailable(
                f"Ameyo answered {command} with an empty body (null)",
                next_step=_next_step(write),
                outcome_unknown=write,
            )
        if body is _NO_BODY or status >= 400:
            kind = "an HTML page" if "<html" in response.text[:512].lower() else "something that is not JSON"
            if body is not _NO_BODY:
                kind = "an error"
            raise UpstreamUnavailable(
                f"Ameyo answered {command} with {kind} (HTTP {status}); a proxy or the server may be down",
                next_step=_next_step(write),
                outcome_unknown=write,
            )
        return body

    def _error_in(self, command: str, body: Any) -> AmeyoError | None:
        """Recognise the three documented error shapes; `None` when the body is not an error."""
        if not isinstance(body, dict):
            return None
        if body.get("status") == "error":
            said = body.get("reason") or body.get("details") or "unknown error"
            return self._classify(command, str(said), None, ())
        if body.get("type") and "message" in body and body.get("isPopulated") is not None:
            return self._classify(command, str(body.get("message") or body.get("type")), None, ())
        if str(body.get("result", "")).lower().startswith("fail"):
            comment = _comment_parts(body.get("comment"))
            key = str(comment[0]) if comment else None
            return self._classify(command, key or "the command failed", key, comment[1:])
        return None

    def _classify(
        self, command: str, text: str, key: str | None, args: list[Any] | tuple[Any, ...]
    ) -> AmeyoError:
        if (key and key.startswith(_INVALID_SESSION_KEY)) or "invalid session" in text.lower():
            return InvalidSession("The Ameyo session is no longer valid", key=_INVALID_SESSION_KEY)
        # Ameyo's texts may echo what a customer or another application wrote: shown as customer
        # text is (one clean line that cannot fake a fence), with secrets masked first.
        # Its message key and every argument too, whatever their type: an unknown key is shown as
        # Ameyo wrote it, and a key or an argument (a string, or the request's JSON echoed as an
        # object) may quote the login's password.
        safe_args = [self._said(a) for a in args]
        shown = self._said(text)
        if key is None:  # Ameyo's sentence alone, which never says what to do
            return CommandFailed(f"Ameyo refused {command}: {shown}", next_step=CommandFailed.next_step)
        return CommandFailed(shown, key=self._said(key), args=safe_args)

    def _said(self, value: Any) -> Any:
        """A word of Ameyo's error as it may be shown: a number as it is; anything else as one
        clean line with every secret masked (a list or object as its JSON, masked inside)."""
        if value is None or isinstance(value, bool | int | float):
            return value
        if not isinstance(value, str):
            value = self.redactor.json_text(value, ensure_ascii=False, default=str)
        return data_text(self.redactor.scrub(value), _SAID_CAP)

    def _model(self, command: str, body: Any, adapter: TypeAdapter[T], write: bool) -> T:
        try:
            return adapter.validate_python(body)
        except ValidationError as exc:
            fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})[:5]
            raise UpstreamUnavailable(
                f"Ameyo answered {command} in an unexpected shape (fields: {', '.join(fields) or '?'})",
                outcome_unknown=write,
            ) from None


_NO_BODY: Any = object()
_FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
# application/x-www-form-urlencoded exactly as urllib's quote_plus writes it, without its per-byte
# Python loop, which a 500-record upload felt. JSON text is mostly ASCII with a few punctuation
# marks, which str.replace handles at C speed; anything else goes through a 256-entry table.
_FORM_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_FORM_TABLE = [chr(b) if b in _FORM_SAFE else ("+" if b == 0x20 else f"%{b:02X}") for b in range(256)]
# "%" first, so that no escape is escaped again; "+" before " " becomes "+". With the safe bytes
# these are every printable ASCII character: what is left to escape in ASCII text is a control
# character, which isprintable finds at C speed (a regex does not).
_FORM_COMMON = tuple((ch, _FORM_TABLE[ord(ch)]) for ch in "%+\":,{}[] /&=@\\'()!*;?#$<>|^`")


def form_quote(text: str) -> str:
    if text.isascii():
        out = text
        for char, escape in _FORM_COMMON:
            if char in out:
                out = out.replace(char, escape)
        if out.isprintable():
            return out
    return text.encode("utf-8").decode("latin-1").translate(_FORM_TABLE)


def _json(raw: bytes | str) -> Any:
    """The decoded JSON of a body (orjson reads UTF-8 bytes without a decoding step), or _NO_BODY."""
    try:
        return orjson.loads(raw) if raw.strip() else _NO_BODY
    except ValueError:  # orjson.JSONDecodeError is one
        return _NO_BODY


def request_body(command: str, data: dict[str, Any]) -> bytes:
    """A command's request body: `data` as compact JSON, form-encoded (see `form_body`)."""
    return form_body(command, compact_json(data))


def compact_json(value: Any) -> str:
    """`json.dumps(value, ensure_ascii=False, separators=(",", ":"))`, the same text, by orjson:
    a bulk batch of 500 records in a tenth of the time. What orjson does not take (an integer
    beyond 64 bits, a lone surrogate) goes the standard way, so the outcome is always the same."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def form_body(command: str, data: str) -> bytes:
    """The request body `command=<id>&data=<json>`, URL-encoded as the vendor document says."""
    return f"command={form_quote(command)}&data={form_quote(data)}".encode("ascii")


def _unreachable_why(exc: BaseException) -> str:
    """What kept the connection from being made, from the errors under httpx's: a TLS handshake
    with a plain HTTP port, a host name that does not resolve, a port nobody listens on."""
    import socket
    import ssl

    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            break
        if isinstance(seen, ssl.SSLCertVerificationError):
            return "its TLS certificate is not trusted"
        if isinstance(seen, ssl.SSLError):
            return "the TLS handshake failed: an https:// URL for a port that speaks plain http?"
        if isinstance(seen, socket.gaierror):
            return "its host name does not resolve"
        if isinstance(seen, ConnectionRefusedError):
            return "nothing listens at that port"
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__


def _broken_why(exc: BaseException) -> str:
    """A connection that broke mid-exchange, in words: what httpx's error class says of it."""
    import httpx

    if isinstance(exc, httpx.RemoteProtocolError):
        return "Ameyo closed it without a whole answer"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return "it was cut while the request or its answer was on the way"
    return f"{type(exc).__name__}"


def _next_step(write: bool) -> str:
    """What to do after a failed exchange: a read can simply be tried again, a write may have run."""
    if not write:
        return (
            "Nothing was changed: try again in a moment, and if it keeps failing tell the person that "
            "Ameyo seems unavailable."
        )
    return (
        "The request was sent, so Ameyo may or may not have applied it: its outcome is unknown. "
        "Check with ameyo_get_contacts before sending it again."
    )


def _bean_list(body: Any) -> Any:
    """A list arrives bare or inside `beanResponse`; a single object is a list of one."""
    if isinstance(body, dict):
        for key in ("beanResponse", "BeanResponse", "beanresponse"):
            if key in body:
                inner = body[key]
                if inner is None:
                    return []
                return inner if isinstance(inner, list) else [inner]
        return [body]
    if body is None:
        return []
    return body


def _comment_parts(comment: Any) -> list[Any]:
    """`comment` is `[key, arg…]`; the document's samples also fuse key and args in one string."""
    if comment is None:
        return []
    if isinstance(comment, str):
        comment = [comment]
    if not isinstance(comment, list):
        return [str(comment)]
    parts: list[Any] = []
    for item in comment:
        if isinstance(item, str) and '",' in item:
            parts.extend(p.strip().strip('"\\').strip() for p in item.split('",'))
        elif isinstance(item, str):
            parts.append(item.strip().strip('"\\'))
        else:
            parts.append(item)
    return parts


def _not_found(settings: Settings) -> str:
    """Why the command URL answered 404, by the AMEYO_BASE_URL actually configured: a path in it
    is the likely cause; without one, what answered is not Ameyo (another server, another port)."""
    said = f"{settings.command_url} answered 404 Not Found"
    path = urlsplit(settings.base_url).path
    if path:
        return (
            f"{said}: AMEYO_BASE_URL has a path ({path}); it should be the Ameyo server's address only "
            "(http://host:port)"
        )
    return (
        f"{said}: what answers at {settings.base_url} is not Ameyo's web access; check that "
        "AMEYO_BASE_URL names the Ameyo server's host and port"
    )
