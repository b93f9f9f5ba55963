"""The simulator's HTTP face: the document's wire format, response shapes and fault injection.

Everything here is translation. Requests become calls on :class:`SimulatorState`; its results and
:class:`SimulatedFailure` errors become the JSON shapes the vendor's samples show, sent the way live
servers send them (HTTP 200, ``text/plain;charset=UTF-8``), even for errors.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..errors import DeliberateDrop, SimulatedFailure, SimulatedRefusal
from .data import ColumnValue, Lead
from .state import (
    CallbackRequest,
    CallbackUploadOutcome,
    ContactQuery,
    ContactRow,
    Session,
    SimulatorState,
    UploadOutcome,
    invalid_request,
    upload_options,
)

CONTENT_TYPE = "text/plain;charset=UTF-8"
COMMAND_PATH = "/ameyowebaccess/command"
TOKEN_HEADERS = ("hash-key", "policy-name", "requesting-host")

# Called with the ASGI scope's "client" to cut that connection; True if it could.
ConnectionAborter = Callable[[object], bool]

_NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)

_GARBAGE = "<<garbage \x00\x01 upstream sent something that is not JSON"


def create_app(state: SimulatorState) -> Starlette:
    """A Starlette app serving ``state`` on ``/ameyowebaccess/command`` (with or without the slash).

    A server runner may set ``app.state.abort_connection`` (a :data:`ConnectionAborter`) so that the
    drop faults can close the socket outright; without it they end the response with an exception.
    """

    async def command(request: Request) -> Response:
        return await _handle(state, request)

    routes = [Route(path, command, methods=["GET", "POST"]) for path in (COMMAND_PATH, COMMAND_PATH + "/")]
    app = Starlette(routes=routes)
    app.state.abort_connection = None
    return app


async def _handle(state: SimulatorState, request: Request) -> Response:
    params = await _read_params(request)
    command = params.get("command", "")
    state.note_received(command)
    faults = state.faults
    aborter: ConnectionAborter | None = request.app.state.abort_connection
    if faults.take("drop_before", command):
        return _Dropped(b"", aborter)
    if faults.take("html_502", command):
        return Response(_NGINX_502, status_code=502, media_type="text/html")

    status, payload, executed = _run(state, command, params.get("data"), request.headers)
    if executed:
        state.note_executed(command)
    delay = faults.delay_for(command)
    if delay:
        await asyncio.sleep(delay)
    if faults.take("short_list", command):
        payload = _without_last_row(payload)
    if faults.take("null_callback_ids", command):
        payload = _without_callback_ids(payload)
    text = _dumps(payload)
    if faults.take("drop_after", command):
        return _Dropped(text.encode()[: len(text) // 2], aborter)
    if faults.take("null_body", command):
        text = "null"
    elif faults.take("empty_list", command):
        text = '{"beanResponse":[]}'
    elif faults.take("malformed", command):
        text = _GARBAGE
    elif faults.take("truncated", command):
        text = text[: max(1, len(text) // 2)]
    return Response(text, status_code=status, media_type=CONTENT_TYPE)


async def _read_params(request: Request) -> dict[str, str]:
    """``command`` and ``data`` from the query string, overridden by a form body."""
    params = dict(request.query_params)
    if request.method != "POST":
        return params
    body = await request.body()
    if not body:
        return params
    if "multipart/form-data" in request.headers.get("content-type", ""):
        form = await request.form()
        for key, value in form.items():
            if isinstance(value, str):
                params[key] = value
    else:
        for key, values in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items():
            params[key] = values[-1]
    return params


def _dumps(payload: object) -> str:
    # Compact, non-ASCII kept as is: what a Java JSON library on the live server produces.
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


@dataclass
class _Call:
    state: SimulatorState
    data: dict[str, Any]
    token: bool  # authenticated by token headers, so no session is needed


def _run(
    state: SimulatorState, command: str, raw: str | None, headers: Mapping[str, str]
) -> tuple[int, object, bool]:
    """(HTTP status, JSON payload, whether the command executed successfully)."""
    token, auth_error = _token_auth(state, headers)
    if auth_error is not None:
        return 401, {"status": "error", "reason": auth_error, "details": f"{auth_error} ({command})"}, False
    handler = _HANDLERS.get(command)
    if handler is None:
        reason = f"Unknown command: {command}"
        return (
            200,
            {"status": "error", "reason": reason, "details": f"{reason}. Known: {', '.join(_HANDLERS)}"},
            False,
        )
    try:
        return 200, handler(_Call(state, _decode(raw), token)), True
    except SimulatedFailure as exc:
        return 200, {"result": "Failed.", "comment": exc.comment}, False
    except SimulatedRefusal as exc:
        return 200, exc.payload, False


def _token_auth(state: SimulatorState, headers: Mapping[str, str]) -> tuple[bool, str | None]:
    present = [name for name in TOKEN_HEADERS if name in headers]
    if not present:
        return False, None
    missing = [name for name in TOKEN_HEADERS if name not in present]
    if missing:
        return False, f"Authentication failed: missing {', '.join(missing)}"
    if headers["hash-key"] != state.config.hash_key:
        return False, "Authentication failed: invalid hash-key"
    if headers["policy-name"] != state.config.policy_name:
        return False, "Authentication failed: invalid policy-name"
    return True, None


def _decode(raw: str | None) -> dict[str, Any]:
    if raw is None or not raw.strip():
        raise invalid_request("missing data")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise invalid_request(f"data is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(value, dict):
        raise invalid_request("data must be a JSON object")
    return value


# --- session commands ------------------------------------------------------------------------------


def _login(call: _Call) -> object:
    data = call.data
    session = call.state.login(data.get("userId"), data.get("password"), data.get("terminal"))
    if session is None:
        raise SimulatedRefusal(None)  # a wrong user or password answers a bare `null`
    return _login_body(call.state, session)


def _ping(call: _Call) -> object:
    session_id = call.data.get("sessionId")
    if not (session_id is None and call.token) and not call.state.ping(session_id):
        reason = f"Invalid session Id: {_text(session_id)}"
        raise SimulatedRefusal({"status": "error", "reason": reason, "details": reason})
    return {"alive": True, "serverTime": int(time.time() * 1000)}


def _logout(call: _Call) -> object:
    session_id = call.data.get("sessionId")
    if not (session_id is None and call.token) and not call.state.logout(session_id):
        message = f"Invalid session Id: {_text(session_id)}"
        raise SimulatedRefusal({"message": message, "type": "ProcessingException", "isPopulated": True})
    return {}


def _require_session(call: _Call) -> None:
    if call.token:
        return
    session_id = call.data.get("sessionId")
    if not call.state.touch(session_id):
        raise SimulatedFailure("LogoutRemoterProcessorHelper.invalid.sessionid", session_id)


def _login_body(state: SimulatorState, session: Session) -> dict[str, Any]:
    config = state.config
    campaigns = state.campaigns()
    ids = [str(c.campaign_id) for c in campaigns]
    return {
        "sessionId": session.session_id,
        "userId": session.user_id,
        "userType": "CustomerManager",
        "terminalInfo": session.terminal,
        "breakStatuses": ["Training", "Un-Available", "Lunch", "Snacks", "Baño"],
        "readStatuses": ["Available"],
        "campaignInfos": [
            {
                "campaignName": c.name,
                "campaignId": c.campaign_id,
                "campaignType": c.campaign_type,
                "dialTimeOut": -1,
                "defaultWorking": False,
                "localIVRInfos": [],
            }
            for c in campaigns
        ],
        "knowledgeBaseURL": "",
        "pingInterval": config.ping_interval_ms,
        "pingNotificationTimeout": config.ping_notification_timeout_ms,
        "sessionTimeout": config.session_timeout_ms,
        "commandTimeout": config.command_timeout_ms,
        "maxPhoneLengthAllowed": config.max_phone_length,
        "maxNumberOfCharactersToDisplayInCampaign": 999,
        "maskedPrivileges": [],
        "defaultReady": False,
        "addCustomerToDial": True,
        "dialPhoneEnable": True,
        "allowTPVNumbers": True,
        "allowInternalChat": True,
        "allowLocalIVR": True,
        "overrideSelfCallBack": False,
        "shouldHoldBeforeConfer": False,
        "shouldUnholdBeforeTransfer": False,
        "holdAllOnConferEnable": False,
        "shouldAllowTransferToAssignedCampaignsOnly": False,
        "allowScreenRecord": False,
        "autoSelectSingleAssignedCampaign": True,
        "webUrl": "http://www.ameyosuite.com",
        "campaignMaskedPrivilegeMap": {f"campaignId_{i}": [] for i in ids},
        "loginProperties": {},
        "preferences": {
            "shouldAddCustomerWhenManualdial": "true",
            "_shouldMaskCustomerPhone": {i: int(i) in config.masked_campaigns for i in ids},
            "_maskCustomerPhoneWithValue": dict.fromkeys(ids, "xxxxxxxxxx"),
            "_showAdditionalCustomerInfoMap": {},
            "_allowAgentStatusChangeInCallIfAutoCallDisabled": "true",
            "_djinnphoneLoadingTime": "100",
        },
        "srsIp": "localhost",
        "srsPort": "8889",
        "allowMultipleExtensions": False,
        "maxAllowedExtensions": 3,
        "maxNotificationSize": 5,
    }


# --- data commands ---------------------------------------------------------------------------------


def _get_contacts(call: _Call) -> object:
    _require_session(call)
    data = call.data
    other = data.get("otherColumns")
    if other is not None and not (
        isinstance(other, dict) and all(isinstance(alias, str) for alias in other.values())
    ):
        raise invalid_request("otherColumns must be an object mapping column to alias")
    limit = data.get("limitOffset")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, str | int)):
        raise invalid_request("limitOffset must be a string such as 'LIMIT 10 OFFSET 0'")
    order_by = data.get("orderBy")
    if order_by is not None and not isinstance(order_by, str):
        raise invalid_request("orderBy must be a string")
    query = ContactQuery(
        campaign_id=_int(data, "campaignId"),
        customer_ids=_ids(data, "customerIds"),
        lead_ids=_ids(data, "leadIds"),
        enabled_leads_only=_bool(data.get("chooseEnabledLeads"), "chooseEnabledLeads"),
        other_columns=tuple((other or {}).items()),
        order_by=order_by,
        limit_offset=limit,
    )
    rows = call.state.get_contacts(query)
    return {
        "beanResponse": [_contact_json(row, call.state.tz) for row in rows],
        "result": "Success.",
        "comment": "Execution successful",
    }


def _upload_contacts(call: _Call) -> object:
    _require_session(call)
    data = call.data
    campaign_id, lead_id = _int(data, "campaignId"), _int(data, "leadId")
    records = _list(data, "customerRecords")
    options = upload_options(
        _properties(data), data.get("Status", data.get("status")), data.get("numAttempts")
    )
    outcomes = call.state.upload_contacts(campaign_id, lead_id, options, records)
    return {"beanResponse": [_upload_json(o) for o in outcomes]}


def _upload_contact_and_add_callback(call: _Call) -> object:
    _require_session(call)
    data = call.data
    campaign_id, lead_id = _int(data, "campaignId"), _int(data, "leadId")
    raw_items = _list(data, "customerAndCallbackRecords")
    # validityTime is accepted and ignored: the simulated dialer never dials callbacks it could stop.
    options = upload_options(_properties(data), None, None)
    items: list[tuple[object, CallbackRequest | None]] = []
    for item in raw_items:
        if not isinstance(item, dict):
            items.append((item, None))
            continue
        callback = item.get("callbackRecord")
        items.append(
            (
                item.get("customerRecord", {}),
                _callback_request(callback) if isinstance(callback, dict) else None,
            )
        )
    outcomes = call.state.upload_contacts_and_add_callbacks(campaign_id, lead_id, options, items)
    return [_callback_upload_json(o, campaign_id, call.state.tz) for o in outcomes]


def _get_leads(call: _Call) -> object:
    _require_session(call)
    return [_lead_json(lead) for lead in call.state.leads(_int(call.data, "campaignId"))]


def _add_callback(call: _Call) -> object:
    _require_session(call)
    data = call.data
    props = data.get("callBackProperties", data.get("callbackProperties"))
    if isinstance(props, list) and len(props) == 1:  # the response's list-of-one spelling
        props = props[0]
    if props is None:
        props = {}
    if not isinstance(props, dict):
        raise invalid_request("callBackProperties must be an object")
    merged = {**data, **{k: v for k, v in props.items() if v is not None}}
    req = _callback_request(merged)
    callback = call.state.add_callback(_int(data, "campaignId"), req)
    customer = None if callback.customer_id is None else str(callback.customer_id)
    return {
        "beanResponse": [
            {
                "id": callback.callback_id,
                "campaignId": callback.campaign_id,
                "callBackTime": java_medium(callback.callback_time, call.state.tz),
                "selfCallback": callback.self_callback,
                "callBackProperties": [{"phone": callback.phone, "customerId": customer}],
                "userId": callback.user_id,
                "phone": callback.phone,
                "customerId": callback.customer_id,
            }
        ]
    }


_HANDLERS: dict[str, Callable[[_Call], object]] = {
    "login": _login,
    "ping-session": _ping,
    "logout": _logout,
    "getContacts": _get_contacts,
    "uploadContacts": _upload_contacts,
    "uploadContactAndAddCallback": _upload_contact_and_add_callback,
    "getLeadsForCampaign": _get_leads,
    "addCallback": _add_callback,
}


# --- request fields --------------------------------------------------------------------------------


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if value is None:
        raise invalid_request(f"{key} is required")
    number = _opt_int(value)
    if number is None:
        raise invalid_request(f"{key} must be a number, got {value!r}")
    return number


def _opt_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    values = data.get(key)
    if not isinstance(values, list):
        raise invalid_request(f"{key} must be a list")
    return values


def _ids(data: Mapping[str, Any], key: str) -> tuple[int, ...]:
    if data.get(key) is None:
        return ()
    ids = tuple(_opt_int(v) for v in _list(data, key))
    if any(i is None for i in ids):
        raise invalid_request(f"{key} must hold numbers or numeric strings")
    return tuple(i for i in ids if i is not None)


def _bool(value: object, key: str, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise invalid_request(f"{key} must be true or false")


def _properties(data: Mapping[str, Any]) -> dict[str, object]:
    properties = data.get("properties")
    if properties is None:  # "This field is not Nullable"
        raise SimulatedFailure("CustomerManager.properties.cannot.be.null", "properties")
    if not isinstance(properties, dict):
        raise invalid_request("properties must be an object")
    return properties


def _first(data: Mapping[str, Any], *keys: str) -> Any:
    return next((data[k] for k in keys if data.get(k) is not None), None)


def _callback_request(raw: Mapping[str, Any]) -> CallbackRequest:
    when = _first(raw, "callBackTime", "callbackTime")
    phone = _first(raw, "callBackPhone", "callbackPhone", "phone")
    customer = raw.get("customerId")
    customer_id = _opt_int(customer)
    if customer not in (None, "") and customer_id is None:
        raise invalid_request(f"customerId must be a number, got {customer!r}")
    user = raw.get("userId")
    status = raw.get("status")
    handler = raw.get("callBackHandlerType")
    return CallbackRequest(
        callback_time=None if when is None else str(when),
        self_callback=_bool(
            _first(raw, "isSelfCallBack", "isSelfCallback", "selfCallback"), "isSelfCallBack"
        ),
        user_id=None if user in (None, "") else str(user),
        phone=None if phone in (None, "") else _text(phone),
        customer_id=customer_id,
        handler_type=None if handler is None else str(handler),
        status=None if status in (None, "") else str(status),
    )


def _text(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- response shapes -------------------------------------------------------------------------------

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def java_medium(when: datetime, tz: ZoneInfo) -> str:
    """Java's medium date-time format, e.g. ``Mar 3, 2015 11:29:34 AM``, in the server's zone."""
    local = when.astimezone(tz)
    hour = local.hour % 12 or 12
    noon = "AM" if local.hour < 12 else "PM"
    clock = f"{hour}:{local.minute:02d}:{local.second:02d} {noon}"
    return f"{_MONTHS[local.month - 1]} {local.day}, {local.year} {clock}"


def sql_time(when: datetime, tz: ZoneInfo) -> str:
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def _column_json(value: ColumnValue, tz: ZoneInfo) -> object:
    return sql_time(value, tz) if isinstance(value, datetime) else value


def _contact_json(row: ContactRow, tz: ZoneInfo) -> dict[str, Any]:
    contact = row.contact
    columns = contact.columns
    return {
        "customerId": contact.customer_id,
        "processId": row.process_id,
        "leadId": contact.lead_id,
        "numInboundAttempted": columns.get("num_inbound_attempted") or 0,
        "numInboundConnected": columns.get("num_inbound_connected") or 0,
        "numOutboundAttempted": columns.get("num_outbound_attempted") or 0,
        "numOutboundConnected": columns.get("num_outbound_connected") or 0,
        "customerData": dict(contact.customer_data),
        "extraData": {alias: _column_json(value, tz) for alias, value in row.extra.items()},
    }


def _upload_json(outcome: UploadOutcome) -> dict[str, Any]:
    if outcome.exception is None:
        return {
            "inserted": outcome.written,
            "customerId": outcome.customer_id,
            "resultTypeString": outcome.result_type,
            "crmIntegrated": True,
            "crmSuccess": True,
            "crmResultTypeString": outcome.result_type,
        }
    # Sample 4.7.6 spells this one with a capital I; a client must cope, so the simulator does it too.
    inserted = (
        "Inserted" if outcome.result_type == "PREPROCESSOR_NOT_NULLABLE_COLUMN_GIVEN_NULL" else "inserted"
    )
    body: dict[str, Any] = {inserted: False}
    if outcome.customer_id is not None:
        body["customerId"] = outcome.customer_id
    body.update(
        exception=list(outcome.exception),
        resultTypeString=outcome.result_type,
        crmIntegrated=False,
        crmSuccess=False,
    )
    return body


def _callback_upload_json(outcome: CallbackUploadOutcome, campaign_id: int, tz: ZoneInfo) -> dict[str, Any]:
    upload, req, callback = outcome.upload, outcome.request, outcome.callback
    ok = upload.exception is None
    return {
        "callbackProperties": {
            "phone": outcome.phone,
            "customerId": None if outcome.customer_id is None else str(outcome.customer_id),
        },
        "callbackTime": None if outcome.callback_time is None else java_medium(outcome.callback_time, tz),
        "campaignId": campaign_id,
        "id": None if callback is None else callback.callback_id,
        "isSelfCallback": False if req is None else req.self_callback,
        "userId": None if req is None else req.user_id,
        "crmIntegrated": ok,
        "crmTypeString": upload.result_type if ok else None,
        "crmSuccess": ok,
        "customerId": upload.customer_id,
        "isInserted": upload.written,
        "resultTypeString": upload.result_type,
        "message": outcome.message,
    }


def _lead_json(lead: Lead) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": lead.lead_id,
        "campaignId": lead.campaign_id,
        "leadId": lead.lead_id,
        "priority": lead.priority,
        "weightage": lead.weightage,
        "enabled": lead.enabled,
        "maxAttempt": lead.max_attempt,
        "churnCount": lead.churn_count,
    }
    if lead.fetch_ascending is not None:
        body["fetchOrderDetails"] = [{"ascending": lead.fetch_ascending}]
    return body


# --- dropped connections ---------------------------------------------------------------------------


class _Dropped(Response):
    """Starts a response promising more bytes than it sends, then cuts the connection."""

    def __init__(self, partial: bytes, aborter: ConnectionAborter | None) -> None:
        super().__init__(status_code=200)
        self.partial = partial
        self.aborter = aborter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        aborter = self.aborter
        if not self.partial and aborter is not None and aborter(scope.get("client")):
            # Closed before a single byte: the client sees "server disconnected without a response".
            await _let_server_notice()
            return
        declared = str(len(self.partial) + 4096).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", CONTENT_TYPE.encode()), (b"content-length", declared)],
            }
        )
        if self.partial:
            await send({"type": "http.response.body", "body": self.partial, "more_body": True})
        if aborter is not None and aborter(scope.get("client")):
            await _let_server_notice()
            return
        raise DeliberateDrop("fault injection: connection dropped mid-response")


async def _let_server_notice() -> None:
    # The server learns of the closed transport on a later loop iteration; returning before that
    # would make it answer "500, returned without starting response" on the dead connection.
    await asyncio.sleep(0.01)


__all__ = [
    "COMMAND_PATH",
    "CONTENT_TYPE",
    "ConnectionAborter",
    "create_app",
    "java_medium",
    "sql_time",
]


def _without_callback_ids(payload: Any) -> Any:
    """An answer whose callback rows (bare or in beanResponse) carry `"id": null`."""

    def blanked(row: Any) -> Any:
        is_callback = isinstance(row, dict) and ("callbackProperties" in row or "callBackProperties" in row)
        return {**row, "id": None} if is_callback else row

    if isinstance(payload, dict) and isinstance(payload.get("beanResponse"), list):
        return {**payload, "beanResponse": [blanked(r) for r in payload["beanResponse"]]}
    if isinstance(payload, list):
        return [blanked(r) for r in payload]
    return payload


def _without_last_row(payload: Any) -> Any:
    """An answer whose list (bare or in beanResponse) lost its last row."""
    if isinstance(payload, dict) and isinstance(payload.get("beanResponse"), list):
        return {**payload, "beanResponse": payload["beanResponse"][:-1]}
    if isinstance(payload, list):
        return payload[:-1]
    return payload
