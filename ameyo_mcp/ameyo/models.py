"""Pydantic models of Ameyo's requests and answers.

Requests are sent with the spellings the vendor document shows (`Status`, `numAttempts` as a string,
`callBackTime`, …). Answers are read tolerantly: every spelling variant the samples show is
accepted, ids may be numbers or strings, and dates come as Java's medium format or epoch ms.

Each request model declares its command: the command id, whether it changes Ameyo's data, and how
its answer is read (`Reply`). The client sends any of them one way (`AmeyoClient.send`), so a new
command is a request model here and nothing in the client.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar, Generic, Literal, Protocol, Self, TypeVar

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
)

from ..rules.times import epoch_in, from_epoch
from . import result_types

# -- tolerant scalar types ---------------------------------------------------------------------

_JAVA_MEDIUM = "%b %d, %Y %I:%M:%S %p"
_SPACES = re.compile(r"[\s\u00a0\u202f]+")


def parse_ameyo_time(value: object) -> datetime | None:
    """Read a time as Ameyo writes it: `Mar 3, 2015 11:29:34 AM`, `2016-08-27 16:23:00`, epoch ms.

    Returns a naive datetime in the Ameyo server's zone (epoch values become aware UTC).
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return from_epoch(value)
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    text = _SPACES.sub(" ", value).strip()
    if (moment := epoch_in(text)) is not None:
        return moment
    # Newer JDKs put a narrow no-break space before AM/PM; the sample also lost a space once.
    text = re.sub(r"^(\d{4}-\d{2}-\d{2})(\d{2}:)", r"\1 \2", text)
    for fmt in (_JAVA_MEDIUM, "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:  # ISO 8601 with a fraction or an offset (`2016-08-27T16:23:00+05:30`), as a push may be
        return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise ValueError(f"not a time Ameyo writes: {value!r}") from None


def _to_bool(value: object) -> object:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _to_int_or_none(value: object) -> object:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


AmeyoTime = Annotated[datetime | None, BeforeValidator(parse_ameyo_time)]
LooseBool = Annotated[bool, BeforeValidator(_to_bool)]
OptionalId = Annotated[int | None, BeforeValidator(_to_int_or_none)]


class _Answer(BaseModel):
    """Base of answer models: unknown fields are kept (`extra`), never fatal."""

    # Validators are built on first use, not at import: start-up delays every Claude Desktop launch.
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


T_co = TypeVar("T_co", covariant=True)
_DEFERRED = ConfigDict(defer_build=True)


class Reply(Generic[T_co]):
    """How Ameyo answers a command, read into `T_co`: the whole body, or its `rows` (a bare list or
    the list in `beanResponse`; a single object is a list of one). `of` names the type, and is
    called when the first answer is read: start-up builds no validator.

    `null`: a `null` body is an answer (login's refused credentials), not a broken one.
    `as_sent`: the rows are taken as Ameyo sent them, dicts (checked to be a list of them; the word
    names them in the error), not validated into models.
    `from_bytes`: rows that are plainly rows are validated straight from the response's bytes (an
    upload's 500 answers), without a dict made for each first."""

    def __init__(
        self,
        of: Callable[[], Any],
        *,
        rows: bool = False,
        null: bool = False,
        as_sent: str | None = None,
        from_bytes: bool = False,
    ) -> None:
        self._of = of
        self.rows = rows
        self.null = null
        self.as_sent = as_sent
        self.from_bytes = from_bytes
        self._adapter: TypeAdapter[Any] | None = None
        self._in_bean: TypeAdapter[Any] | None = None

    @property
    def adapter(self) -> TypeAdapter[T_co]:
        if self._adapter is None:
            of = self._of()
            # A model brings its own configuration (deferred: `_Answer`); a list or union takes it here.
            plain = isinstance(of, type) and issubclass(of, BaseModel)
            self._adapter = TypeAdapter(of) if plain else TypeAdapter(of, config=_DEFERRED)
        return self._adapter

    @property
    def in_bean(self) -> TypeAdapter[dict[Literal["beanResponse"], T_co]]:
        """`{"beanResponse": rows}` and no other key: the usual answer to an upload."""
        if self._in_bean is None:
            bean: Any = dict  # subscripted with a type known only now
            self._in_bean = TypeAdapter(bean[Literal["beanResponse"], self._of()], config=_DEFERRED)
        return self._in_bean


class Command(Protocol[T_co]):
    """A request as the client sends it (every request model with a command is one)."""

    @property
    def command(self) -> str: ...
    @property
    def writes(self) -> bool: ...
    @property
    def reply(self) -> Reply[T_co]: ...
    def wire(self, *, lists: bool = True) -> dict[str, Any]: ...
    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self: ...


class _Request(BaseModel):
    """Base of request models. A request that is a command says its command id, whether it changes
    Ameyo's data, and how its answer is read: the client needs nothing else to send it."""

    model_config = ConfigDict(populate_by_name=True, defer_build=True)
    command: ClassVar[str] = ""
    writes: ClassVar[bool] = False
    reply: ClassVar[Reply[Any]]

    def wire(self, *, lists: bool = True) -> dict[str, Any]:
        """The request as Ameyo reads it; `lists=False` leaves out the fields that hold lists (a
        bulk batch's records), for an audit line that names the request without its rows."""
        if lists:
            return self.model_dump(by_alias=True, exclude_none=True)
        skip = {name for name, value in self if isinstance(value, list)}
        return self.model_dump(by_alias=True, exclude_none=True, exclude=skip)


# -- login / ping / logout ---------------------------------------------------------------------


class LoginRequest(_Request):
    command: ClassVar[str] = "login"
    # null: Ameyo refused the credentials.
    reply: ClassVar[Reply[LoginInfo | None]] = Reply(lambda: LoginInfo | None, null=True)
    user_id: str = Field(serialization_alias="userId")
    password: str = Field(repr=False)
    terminal: str
    client_type: str | None = Field(default=None, serialization_alias="clientType")


class CampaignInfo(_Answer):
    campaign_name: str = Field(validation_alias=AliasChoices("campaignName", "name"))
    campaign_id: int = Field(validation_alias=AliasChoices("campaignId", "id"))
    campaign_type: str | None = Field(default=None, validation_alias=AliasChoices("campaignType", "type"))


class NamedCampaign(Protocol):
    """A campaign as a tool's answer holds it (`answers.results.CampaignOut`)."""

    @property
    def name(self) -> str: ...
    @property
    def id(self) -> int: ...


def campaign_label(campaign: CampaignInfo | NamedCampaign) -> str:
    """A campaign as every answer, question and error names it: "MoviStarSurvey (1)"."""
    if isinstance(campaign, CampaignInfo):
        return f"{campaign.campaign_name} ({campaign.campaign_id})"
    return f"{campaign.name} ({campaign.id})"


class LoginInfo(_Answer):
    """The login answer. `session_id` is a secret: it is excluded from repr and from tool output."""

    session_id: str = Field(alias="sessionId", repr=False)
    user_id: str | None = Field(default=None, alias="userId")
    user_type: str | None = Field(default=None, alias="userType")
    terminal_info: str | None = Field(default=None, alias="terminalInfo")
    campaign_infos: list[CampaignInfo] = Field(default_factory=list, alias="campaignInfos")
    ping_interval_ms: int = Field(default=20000, alias="pingInterval")
    session_timeout_ms: int = Field(default=180000, alias="sessionTimeout")
    command_timeout_ms: int = Field(default=20000, alias="commandTimeout")
    max_phone_length: int = Field(default=20, alias="maxPhoneLengthAllowed")
    preferences: dict[str, Any] = Field(default_factory=dict)

    def masks_phone(self, campaign_id: int) -> bool:
        flags = self.preferences.get("_shouldMaskCustomerPhone") or {}
        value = flags.get(str(campaign_id), False) if isinstance(flags, dict) else False
        return bool(_to_bool(value))

    def mask_value(self, campaign_id: int) -> str:
        values = self.preferences.get("_maskCustomerPhoneWithValue") or {}
        value = values.get(str(campaign_id)) if isinstance(values, dict) else None
        return str(value) if value else "xxxxxxxxxx"


class PingRequest(_Request):
    command: ClassVar[str] = "ping-session"
    reply: ClassVar[Reply[PingResult]] = Reply(lambda: PingResult)
    session_id: str = Field(serialization_alias="sessionId", repr=False)
    seq: str = Field(default="0", serialization_alias="sessionPushSeqNo")
    seq_lower: str = Field(default="0", serialization_alias="sessionpushseqno")


class PingResult(_Answer):
    alive: LooseBool = True
    server_time: AmeyoTime = Field(default=None, alias="serverTime")


class SessionRequest(_Request):
    """A request that carries the session (filled in by `Ameyo.send`)."""

    session_id: str | None = Field(default=None, serialization_alias="sessionId", repr=False)


class LogoutRequest(SessionRequest):
    command: ClassVar[str] = "logout"
    reply: ClassVar[Reply[object]] = Reply(lambda: object)  # read for errors only


# -- contacts ----------------------------------------------------------------------------------


class GetContactsRequest(SessionRequest):
    command: ClassVar[str] = "getContacts"
    reply: ClassVar[Reply[list[Contact]]] = Reply(lambda: list[Contact], rows=True)
    campaign_id: int = Field(serialization_alias="campaignId")
    choose_enabled_leads: bool | None = Field(default=None, serialization_alias="chooseEnabledLeads")
    customer_ids: list[str] | None = Field(default=None, serialization_alias="customerIds")
    lead_ids: list[str] | None = Field(default=None, serialization_alias="leadIds")
    other_columns: dict[str, str] | None = Field(default=None, serialization_alias="otherColumns")
    order_by: str | None = Field(default=None, serialization_alias="orderBy")
    limit_offset: str | None = Field(default=None, serialization_alias="limitOffset")


# getContacts' contacts as Ameyo sent them, each a dict: for the index sync, which reads a few
# fields of every contact and would pay for a model of each (bench/bench_sync.py).
CONTACTS_AS_SENT: Reply[list[dict[str, Any]]] = Reply(
    lambda: list[dict[str, Any]], rows=True, as_sent="contacts"
)


class Contact(_Answer):
    customer_id: int = Field(alias="customerId")
    process_id: OptionalId = Field(default=None, alias="processId")
    campaign_id: OptionalId = Field(default=None, alias="campaignId")
    lead_id: OptionalId = Field(default=None, alias="leadId")
    num_inbound_attempted: int = Field(default=0, alias="numInboundAttempted")
    num_inbound_connected: int = Field(default=0, alias="numInboundConnected")
    num_outbound_attempted: int = Field(default=0, alias="numOutboundAttempted")
    num_outbound_connected: int = Field(default=0, alias="numOutboundConnected")
    customer_data: dict[str, Any] = Field(default_factory=dict, alias="customerData")
    extra_data: dict[str, Any] = Field(default_factory=dict, alias="extraData")

    @field_validator("customer_data", "extra_data", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        return {} if value is None else value


# -- uploads -----------------------------------------------------------------------------------


class UploadContactsRequest(SessionRequest):
    command: ClassVar[str] = "uploadContacts"
    writes: ClassVar[bool] = True
    reply: ClassVar[Reply[list[RecordResult]]] = Reply(lambda: list[RecordResult], rows=True, from_bytes=True)
    # The document sends campaignId as a string here and as a number elsewhere; we follow it.
    campaign_id: str = Field(serialization_alias="campaignId")
    lead_id: int = Field(serialization_alias="leadId")
    properties: dict[str, bool]
    num_attempts: str = Field(default="0", serialization_alias="numAttempts")
    status: str = Field(default="NOT_TRIED", serialization_alias="Status")
    customer_records: list[dict[str, str]] = Field(serialization_alias="customerRecords")

    def wire(self, *, lists: bool = True) -> dict[str, Any]:
        # The records are str → str dicts already (validated): handed over as they are rather than
        # copied one by one through the serializer, which a bulk batch of 500 paid for every request.
        # The last field, so the keys keep their order. Callers read them, never change them.
        data = super().wire(lists=False)
        if lists:
            data["customerRecords"] = self.customer_records
        return data


def _exception_parts(value: object) -> object:
    """`exception` comes as `[key, arg…]`; the document also shows the key and arg fused by a
    broken conversion (`"key\\",\\"phone1\\"`). Split that back apart."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and value and isinstance(value[0], str) and '",' in value[0]:
        head, *rest = value
        parts = [p.strip().strip('"\\') for p in head.split('",')]
        value = [*parts, *rest]
    return value


class RecordResult(_Answer):
    """One record's outcome in an upload, whatever the spelling of its fields."""

    # Plain bools here: pydantic reads "true"/"false" itself, in C, once per record of a bulk upload.
    inserted: bool = Field(default=False, validation_alias=AliasChoices("inserted", "Inserted", "isInserted"))
    customer_id: OptionalId = Field(default=None, alias="customerId")
    result_type: str | None = Field(
        default=None, validation_alias=AliasChoices("resultTypeString", "resultType", "ResultTypeString")
    )
    crm_integrated: bool | None = Field(default=None, alias="crmIntegrated")
    crm_success: bool | None = Field(default=None, alias="crmSuccess")
    crm_result_type: str | None = Field(
        default=None, validation_alias=AliasChoices("crmResultTypeString", "crmTypeString")
    )
    exception: Annotated[list[Any] | None, BeforeValidator(_exception_parts)] = None
    message: str | None = None

    @property
    def kind(self) -> str:
        """The row's result type, as every reader of the answer counts it (see `result_types`)."""
        return result_types.kind(self.result_type, self.inserted)

    @property
    def failure_key(self) -> str | None:
        if self.exception:
            return str(self.exception[0])
        return None

    @property
    def failure_args(self) -> list[Any]:
        return list(self.exception[1:]) if self.exception else []


class CallbackRecord(_Request):
    call_back_time: str = Field(serialization_alias="callBackTime")
    is_self_call_back: bool = Field(default=False, serialization_alias="isSelfCallBack")
    user_id: str | None = Field(default=None, serialization_alias="userId")
    call_back_phone: str | None = Field(default=None, serialization_alias="callBackPhone")
    customer_id: str | None = Field(default=None, serialization_alias="customerId")
    status: str | None = None


class CustomerAndCallback(_Request):
    customer_record: dict[str, str] = Field(serialization_alias="customerRecord")
    callback_record: CallbackRecord = Field(serialization_alias="callbackRecord")


class UploadWithCallbacksRequest(SessionRequest):
    command: ClassVar[str] = "uploadContactAndAddCallback"
    writes: ClassVar[bool] = True
    reply: ClassVar[Reply[list[CallbackUploadResult]]] = Reply(
        lambda: list[CallbackUploadResult], rows=True, from_bytes=True
    )
    campaign_id: int = Field(serialization_alias="campaignId")
    lead_id: int = Field(serialization_alias="leadId")
    records: list[CustomerAndCallback] = Field(serialization_alias="customerAndCallbackRecords")
    properties: dict[str, bool]
    validity_time: str | None = Field(default=None, serialization_alias="validityTime")


def _callback_properties(value: object) -> object:
    # One sample sends an object, another a list of one object.
    if isinstance(value, list):
        return value[0] if value else {}
    return {} if value is None else value


class CallbackProperties(_Answer):
    phone: str | None = None
    customer_id: OptionalId = Field(default=None, alias="customerId")


def callback_scheduled(callback_id: object, callback_time: object) -> bool:
    """Whether an answer row tells of a scheduled callback: the one rule every reader of such rows
    (the upload tools, the bulk uploader, their counts and words) applies.

    Ameyo gives a callback it scheduled its time, and its id when it has one: the document's own
    answer to uploadContactAndAddCallback (4.8.5) is `"id": null` beside the callback time, and rule
    4.8.2 5.b.iii adds the callback even for a customer not uploaded (DUPLICATE_NOT_ADDED). So a row
    with either scheduled its callback, whatever its result type says of the customer. Takes the
    values as an answer row, a tool's record or a journal line holds them (text or datetime).
    """
    return bool(callback_id) or bool(callback_time)


class CallbackFields(_Answer):
    """The callback half of an answer row, shared by addCallback and uploadContactAndAddCallback."""

    callback_id: Annotated[str | None, BeforeValidator(_blank_is_none)] = Field(
        default=None, validation_alias=AliasChoices("id", "callbackId", "callBackId")
    )
    callback_time: AmeyoTime = Field(
        default=None, validation_alias=AliasChoices("callbackTime", "callBackTime")
    )
    is_self_callback: LooseBool = Field(
        default=False, validation_alias=AliasChoices("isSelfCallback", "selfCallback", "isSelfCallBack")
    )
    user_id: str | None = Field(default=None, alias="userId")
    campaign_id: OptionalId = Field(default=None, alias="campaignId")
    properties: Annotated[CallbackProperties, BeforeValidator(_callback_properties)] = Field(
        default_factory=CallbackProperties,
        validation_alias=AliasChoices("callbackProperties", "callBackProperties"),
    )

    @property
    def callback_scheduled(self) -> bool:
        return callback_scheduled(self.callback_id, self.callback_time)


class CallbackUploadResult(RecordResult, CallbackFields):
    """One row of uploadContactAndAddCallback's answer: the upload outcome and its callback."""


class AddCallbackRequest(SessionRequest):
    command: ClassVar[str] = "addCallback"
    writes: ClassVar[bool] = True
    reply: ClassVar[Reply[list[Callback]]] = Reply(lambda: list[Callback], rows=True)
    campaign_id: int = Field(serialization_alias="campaignId")
    call_back_time: str = Field(serialization_alias="callBackTime")
    # The document sends this flag as a string here, unlike everywhere else.
    is_self_call_back: str = Field(default="false", serialization_alias="isSelfCallBack")
    user_id: str | None = Field(default=None, serialization_alias="userId")
    handler_type: str = Field(
        default="voice.campaign.callback.handler", serialization_alias="callBackHandlerType"
    )
    properties: dict[str, str] = Field(serialization_alias="callBackProperties")


class Callback(CallbackFields):
    phone: str | None = None
    customer_id: OptionalId = Field(default=None, alias="customerId")


# -- leads -------------------------------------------------------------------------------------


class GetLeadsRequest(SessionRequest):
    command: ClassVar[str] = "getLeadsForCampaign"
    reply: ClassVar[Reply[list[Lead]]] = Reply(lambda: list[Lead], rows=True)
    campaign_id: int = Field(serialization_alias="campaignId")


class Lead(_Answer):
    lead_id: int = Field(validation_alias=AliasChoices("leadId", "id"))
    campaign_id: OptionalId = Field(default=None, alias="campaignId")
    priority: int | None = None
    weightage: int | None = None
    enabled: LooseBool = True
    max_attempt: int | None = Field(default=None, alias="maxAttempt")
    churn_count: int | None = Field(default=None, alias="churnCount")
    fetch_order_details: list[dict[str, Any]] | None = Field(default=None, alias="fetchOrderDetails")
