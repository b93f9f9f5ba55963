"""A file row judged before sending: the customer record and callback, or why it is refused.

The record rules are `records.check_values`'s, shared with `ameyo_upload_contacts`; this adds what
only a file has: callback columns, and duplicates of an earlier row's phone1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ...ameyo.customers import PRIMARY_COLUMN
from ...ameyo.models import CallbackRecord
from ...config import CallingHours
from ...rules import phones
from ..callback_rules import CALLBACK_PHONE, RecordCallbacks, self_callback_problem
from ..records import Checked, judge_values
from .reader import Row
from .seen import SeenPhones

CALLBACK_TIME, CALLBACK_USER = "callback_time", "callback_user"
CALLBACK_COLUMNS = (CALLBACK_TIME, CALLBACK_USER, CALLBACK_PHONE)


@dataclass(slots=True)  # not frozen: one is made per row, and frozen ones cost more to build
class Prepared:
    line: int
    phone: str | None
    record: dict[str, str]
    problem: str | None = None
    callback: CallbackRecord | None = None
    identity: str | None = None  # phones.identity of phone1: the number, however spelt
    given_phone: str | None = None  # phone1 as the file has it, when rewritten to the form Ameyo dials
    # phone1 as the customer Ameyo matches the row to holds it, as the row's do-not-call check read
    # it through the index ("": nobody does); None when not read there (`_Run._indexed_spellings`).
    held_as: str | None = None


class Validator:
    """Judges rows in file order; `now` is fixed for the run, so that one file's rows are judged
    against one moment.
    `calling_hours` None: the person accepted callbacks at any hour (--outside-calling-hours)."""

    def __init__(
        self,
        *,
        max_phone_length: int,
        zone: ZoneInfo,
        now: datetime,
        status: str,
        rule: phones.PhoneRule,
        callbacks: bool = True,
        calling_hours: CallingHours | None = None,
    ) -> None:
        self.max_phone_length = max_phone_length
        self.rule = rule
        self.callback_rules = RecordCallbacks(
            zone=zone,
            rule=rule,
            max_phone_length=max_phone_length,
            calling_hours=calling_hours,
            hours_hint="pass outside_calling_hours=true (CLI: --outside-calling-hours) if meant",
            now=now,
        )
        # Rows whose phone1 is sent in another spelling than the file's, and the first of them.
        self.rewritten = 0
        self.first_rewritten: Checked | None = None
        self.status = status
        # False when the file has no callback column at all (CSV), which spares every row a look.
        self.callbacks = callbacks
        self._seen = SeenPhones()
        # The customer fields the rows hold, gathered where no header names them (JSON lines).
        self.fields: set[str] | None = None
        # And the callback columns they hold (a CSV's are its header's).
        self.callback_columns: set[str] = set()
        self.agents: set[str] = set()  # the agents (callback_user) the rows' callbacks are routed to

    def check(self, row: Row) -> Prepared:
        if row.fields is None:
            return Prepared(row.line, None, {}, row.problem or "the line could not be read")
        # An empty cell means "no value": sending "" would blank the field of an existing customer.
        customer = {k: s for k, v in row.fields.items() if k not in CALLBACK_COLUMNS and (s := v.strip())}
        if self.fields is not None:
            self.fields.update(customer)
            self.callback_columns.update(c for c in CALLBACK_COLUMNS if c in row.fields)
        # `check_values`' findings without its `Checked`: one object less per row of a large file.
        problem, given, identity = judge_values(customer, self.max_phone_length, self.rule)
        phone = (customer.get(PRIMARY_COLUMN) or None) if identity is not None else None  # `Checked.phone`
        if problem is not None:
            return Prepared(row.line, phone, customer, problem)
        callback: CallbackRecord | None = None
        if self.callbacks:
            try:
                callback = self._callback(row.fields, phone, customer)
            except ValueError as exc:
                return Prepared(row.line, phone, customer, str(exc))
        if identity is not None:
            # One number however spelt: 09876543210 and +91 98765 43210 are duplicates.
            earlier = self._seen.first_line(identity, row.line)
            if earlier is not None:
                return Prepared(
                    row.line, phone, customer, f"duplicate: {PRIMARY_COLUMN} already on line {earlier}"
                )
        if given is not None:
            self.rewritten += 1
            self.first_rewritten = self.first_rewritten or Checked(row.line, customer, None, given, identity)
        return Prepared(row.line, phone, customer, None, callback, identity, given)

    def _callback(
        self, fields: dict[str, str], phone: str | None, record: dict[str, str]
    ) -> CallbackRecord | None:
        when_text = fields.get(CALLBACK_TIME, "").strip()
        user = fields.get(CALLBACK_USER, "").strip() or None
        if (unusable := self_callback_problem(False, user, CALLBACK_USER)) is not None:
            raise ValueError(unusable)
        if user is not None and when_text:
            self.agents.add(user)
        callback_phone = fields.get(CALLBACK_PHONE, "").strip() or None
        if not when_text:
            if user or callback_phone:
                raise ValueError(f"{CALLBACK_USER} or {CALLBACK_PHONE} given without {CALLBACK_TIME}")
            return None
        when, dial = self.callback_rules.check(record, phone, when_text, callback_phone)
        return CallbackRecord(
            call_back_time=when.wire, user_id=user, call_back_phone=dial, status=self.status
        )
