"""What every callback must satisfy before it is sent, whichever tool or file asks for it.

`RecordCallbacks.check` judges the callback of a record being uploaded, the same way for the
upload tool's records and a contact file's rows; `ameyo_add_callback` applies `outside_hours` and
`do_not_call` to the existing customer it calls back. `dials` says whose lines an upload's record
has dialled, for the do-not-call check of every upload (a callback, an update, a new customer).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Final, NamedTuple
from zoneinfo import ZoneInfo

from ..ameyo.columns import CAMPAIGN_COLUMN_PREFIX
from ..ameyo.customers import PRIMARY_COLUMN, is_phone_key
from ..config import CallingHours
from ..rules.phones import PhoneRule, same_number
from ..rules.sanitize import data_text, fold, is_plain
from ..rules.times import CallbackTime, parse_callback_time, show
from .records import dialed

if TYPE_CHECKING:
    from ..ameyo.models import Contact
    from ..ameyo.service import UploadTarget

CALLBACK_PHONE = "callback_phone"
# Dispositions are typed by each deployment's admins, so the same request arrives as "DNC",
# "Do-Not-Call", "DNC - Customer Request", "NDNC" (India's registry) or "Do Not Disturb": a
# disposition says do not call when one of its words is one of these (DNCR: a do-not-call
# registry, as NDNC is)...
# NCPR: the registry's name since 2011.
_DNC_WORDS: Final = frozenset({"dnc", "ndnc", "dncr", "ndncr", "dnd", "ncpr"})
# "Non-DNC", "Not DNC": a marking that the customer may be called.
_NEGATIONS: Final = frozenset({"non", "not"})
# Words run together in CamelCase ("CustomerDNC", "DNCRequest") are words apart, as are letters and
# the digits of a code run into them ("DNC01").
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
# ...or when consecutive words spell one of these, however they are split ("Do_Not_Call",
# "DoNot Call", "Don't call", "Do not callback", "Do Not Contact", "Opt-out"). Whole words:
# "Donation call" is not one. A customer's opting out is asked about even where it meant one
# channel: the question costs a confirmation, a call they refused costs the deployment.
_DNC_PHRASES: Final = (
    *(no + verb for no in ("donot", "dont") for verb in ("call", "callback", "disturb", "contact", "dial")),
    "optout",
    "optedout",
)
_WORD = re.compile(r"[^\W_]+")  # underscores separate words, as hyphens and spaces do
_DISPOSITION = "disposition"
# What a getContacts must ask for so that `last_disposition` can be read of its contacts.
DISPOSITION_COLUMNS: Final = {CAMPAIGN_COLUMN_PREFIX + _DISPOSITION: _DISPOSITION}


def last_disposition(extra_data: Mapping[str, object]) -> str:
    """A contact's last disposition, from a getContacts that asked for `DISPOSITION_COLUMNS`."""
    return str(extra_data.get(_DISPOSITION) or "").strip()


def self_callback_problem(self_callback: bool, agent: str | None, field: str = "agent") -> str | None:
    """Why a callback cannot be sent to `agent` (as a self callback), or None: a self callback is
    reserved for one agent, so it needs that agent (Ameyo schedules none without it); and an agent
    is an Ameyo user id, which holds no invisible or control character (`agent1` followed by a
    zero-width space is another id, which every answer shows as agent1, and nobody dials).
    `field`: how the caller names the agent (the file's column)."""
    if self_callback and not (agent or "").strip():
        return (
            f"A self callback is reserved for one agent: give {field} (their Ameyo user id), or set "
            "self_callback=false"
        )
    if agent and not is_plain(agent.strip()):
        return (
            f"{field} holds invisible, control or repeated space characters: give the agent's Ameyo user "
            "id as plain text (no user id has them)"
        )
    return None


def outside_hours(at: datetime, hours: CallingHours, zone: ZoneInfo) -> str | None:
    """Why `at` (in the server's zone) needs the person's explicit yes, or None within hours."""
    local = at.astimezone(zone).time()
    if hours.start <= local < hours.end:
        return None
    return (
        f"{show(at, zone)} is outside calling hours ({hours.start:%H:%M}-{hours.end:%H:%M} {zone}, "
        "AMEYO_CALLING_HOURS)"
    )


def do_not_call(disposition: str) -> bool:
    """Whether a customer's last disposition says they asked not to be called: a callback to them
    needs the person's explicit yes. The one rule for every tool that checks it."""
    # Dots go before the words are split: initials ("D.N.C.") are one word. So do the invisible
    # characters a copy-paste leaves inside a word (zero-width, soft hyphen): every answer shows the
    # disposition without them ('DNC'), and full-width letters are read as the letters they show.
    text = disposition.replace(".", "")
    if not text.isascii():
        text = unicodedata.normalize("NFKC", "".join(ch for ch in text if unicodedata.category(ch) != "Cf"))
    words = _WORD.findall(fold(_CAMEL.sub(" ", text)))
    for i, word in enumerate(words):
        if word in _DNC_WORDS and (i == 0 or words[i - 1] not in _NEGATIONS):
            return True
    if _spelt_in_letters(words):
        return True
    for start in range(len(words)):
        if start > 0 and words[start - 1] in _NEGATIONS:  # "Not opted out", "Non do-not-call"
            continue
        joined = ""
        for word in words[start:]:
            joined += word
            if joined in _DNC_PHRASES:
                return True
            # No phrase goes on this way: the words from `start` spell none.
            if not any(phrase.startswith(joined) for phrase in _DNC_PHRASES):
                break
    return False


def _spelt_in_letters(words: list[str]) -> bool:
    """Whether letters standing alone spell one of `_DNC_WORDS` ("D-N-C", "D N C"), anywhere in a
    run of them ("a D-N-C", "D-N-C (A)"), not after "non" or "not"."""
    start = 0
    while start < len(words):
        end = start
        while end < len(words) and len(words[end]) == 1 and words[end].isalpha():
            end += 1
        letters = "".join(words[start:end])
        for i in range(len(letters)):
            negated = i == 0 and start > 0 and words[start - 1] in _NEGATIONS
            if not negated and any(letters.startswith(w, i) for w in _DNC_WORDS):
                return True
        start = end + 1
    return False


class Dials(NamedTuple):  # a tuple: made once per row of a bulk file
    """The numbers a write has the dialler ring, for `WritePath.do_not_call`: `always`, whatever
    Ameyo does with the record (a callback's number, an update's); `if_added`, only when Ameyo adds
    the record as a new customer, which it does unless `phone1`, as sent, is an existing
    customer's phone1 (then it is DUPLICATE_NOT_ADDED, and nobody is dialled); `moves_into`, the
    lead a migrate moves that existing customer into (`moved_into`; None: no move), which has them
    dialled unless they are in it already."""

    phone1: str
    always: tuple[str, ...]
    if_added: tuple[str, ...] = ()
    moves_into: int | None = None


def moved_into(target: UploadTarget, migrate: bool) -> int | None:
    """The lead an upload's migrate would put an existing customer in the dialler's queue of, or
    None. Ameyo moves no customer into a disabled lead (NOT_MIGRATED: nothing changes), and one
    already in the lead is not moved (DUPLICATE_NOT_ADDED, or an update, judged as one): neither
    dials anyone. A move into an enabled lead puts the customer in a lead the dialler works, with
    the status they have: from a disabled lead (where a do-not-call customer is often parked) that
    is back in its queue. A move from another enabled lead is asked about too: which of their leads
    is enabled is not read for it, and the question costs a confirmation where a call they refused
    costs the deployment. The one rule for every upload path."""
    return target.lead_id if migrate and target.lead_enabled else None


def dials(
    record: Mapping[str, str],
    callback: str | None = None,
    *,
    calls_back: bool,
    updates: bool,
    moves_into: int | None = None,
) -> Dials:
    """What an upload's record (as sent) has dialled: a callback (to `callback`, None: phone1)
    rings whichever customer Ameyo matches or adds; an update has the customer dialled again as if
    new, on the record's numbers; a migrate (`moves_into`, `moved_into`) has the customer Ameyo
    matches by phone1 dialled when it moves them from another lead; and a record Ameyo adds is a
    new customer, NOT_TRIED, dialled on its numbers whoever else holds them (a family line, or a
    customer's phone1 in a spelling Ameyo does not match). The one rule for every upload path."""
    phone1 = record[PRIMARY_COLUMN]
    stored = (phone1, *(v for k, v in record.items() if v and k != PRIMARY_COLUMN and is_phone_key(k)))
    always = (phone1, callback or phone1) if calls_back else ()
    if updates:
        return Dials(phone1, always + stored, (), moves_into)
    return Dials(phone1, always, stored, moves_into)


def matched(
    records: Mapping[int, Dials],
    asked: Sequence[tuple[int, str]],
    indexed: Sequence[tuple[Contact, list[int]]],
    newest: Sequence[tuple[Contact, list[int]]],
    region: str,
) -> dict[int, Contact]:
    """By position, the records Ameyo matches to an existing customer by phone1, and so adds no
    new customer for, with that customer (their phone1 as they hold it: `held_phone1`): among the
    customers found holding the `asked` numbers ((position, number) by their index), one the
    campaign's index holds whose phone1 is the same number, which the upload sends in the stored
    spelling (`index.held.held_spellings`), or one whose stored phone1 is the record's as sent. A
    customer added since the sync, whom only the newest contacts found (`newest`), matches only in
    the very spelling: a record in another is added beside them."""
    out: dict[int, Contact] = {}
    for found, respelt in ((indexed, True), (newest, False)):
        for contact, positions in found:
            stored = held_phone1(contact)
            for i in positions:
                position, number = asked[i]
                phone1 = records[position].phone1
                if number == phone1 and (
                    stored == phone1 or (respelt and same_number(stored, phone1, region))
                ):
                    out.setdefault(position, contact)
    return out


def held_phone1(contact: Contact) -> str:
    """phone1 as Ameyo holds it for the customer."""
    return str(contact.customer_data.get(PRIMARY_COLUMN) or "")


# The most of a do-not-call customer's disposition a refusal quotes, and the least it is shortened
# to when the refusal must fit a cap (`DoNotCall.problem`): 'DNC: cust…' still reads as do-not-call.
DISPOSITION_SHOWN = 30
LEAST_SHOWN = 10


@dataclass
class DoNotCall:
    """The do-not-call check of the numbers writes dial (`Dials`: a callback's, an update's, a new
    customer's), by their position: the customer and disposition of each that says do not call;
    each whose customer the index found but Ameyo could not be asked for (why); whether the
    campaign has an index to find customers by (False: none was checked); which of the customers
    added since its sync were not read, so not checked (`beyond`, "": none;
    `index.held.Customers.beyond`). `held`: phone1 as the customer Ameyo matches each record to
    holds it (`matched`), the spelling an upload sends: read here, it need not be read again to
    send the record. `lines`: the number of each refused record that is not its customer's but a
    do-not-call customer's, on whose line Ameyo would add the record as a new customer."""

    refused: dict[int, tuple[int, str]] = field(default_factory=dict)
    lines: dict[int, str] = field(default_factory=dict)
    # The lead each refused record's migrate would move its customer into (`Dials.moves_into`),
    # for the records refused for that alone.
    moves: dict[int, int] = field(default_factory=dict)
    unread: dict[int, str] = field(default_factory=dict)
    indexed: bool = False
    beyond: str = ""
    held: dict[int, str] = field(default_factory=dict)

    def said(self, position: int, shown: int = DISPOSITION_SHOWN) -> str | None:
        """What holds back the callback at `position`, or None; the disposition quoted to at most
        `shown` characters."""
        if (dnc := self.refused.get(position)) is not None:
            if (line := self.lines.get(position)) is not None:
                # Short: a file's reason is cut at its cap, and the way through follows it.
                customer_id, disposition = dnc
                return (
                    f"a new customer on customer {customer_id}'s line ({data_text(line, 24)}), whose last "
                    f"disposition is {data_text(disposition, shown)!r} (do not call)"
                )
            if (lead := self.moves.get(position)) is not None:
                said = do_not_call_said(*dnc, shown)
                return f"{said}; moving them into lead {lead} puts them back in the dialler's queue"
            return do_not_call_said(*dnc, shown)
        if position in self.unread:
            return UNREAD_SAID
        return None

    def problem(self, position: int, flag: str, cap: int | None = None) -> str | None:
        """Why the callback at `position` is not sent without the person's yes, or None. `flag`: how
        the caller names despite_do_not_call=true. Ameyo's failure comes last: an answer that cuts
        a long reason keeps the step. `cap`: the length an answer cuts the reason at; the customer's
        disposition is quoted shorter to keep the step whole within it."""
        said = self.said(position)
        if said is None:
            return None
        if position in self.refused:
            step = f": ask the person, and send it again with {flag} only if they asked to be called"
            shown = DISPOSITION_SHOWN
            # A long disposition cut off the flag that lets the record through, or the "only if".
            # Shortened by what is over, again if its cut fell before a space `clean_text` drops.
            while cap is not None and len(said) + len(step) > cap and shown > LEAST_SHOWN:
                shown = max(LEAST_SHOWN, shown - (len(said) + len(step) - cap))
                said = self.said(position, shown) or said
            return said + step
        failure = self.unread[position].rstrip(".")
        return (
            f"{said}: send it again later, or with {flag} if the person confirms they may be called. "
            f"Ameyo: {failure}."
        )


# A callback whose customer the index found but whose last disposition was not read.
UNREAD_SAID = "whether its customer asked not to be called could not be read from Ameyo"


def do_not_call_said(customer_id: int, disposition: str, shown: int = DISPOSITION_SHOWN) -> str:
    """How every tool names a customer whose callback `do_not_call` holds back: the disposition is
    Ameyo's text, typed by its admins, so it is shown as data, to at most `shown` characters."""
    return f"customer {customer_id}'s last disposition is {data_text(disposition, shown)!r} (do not call)"


def own_number(number: str, record: Mapping[str, object], region: str) -> bool:
    """Whether `number` is one of the record's own numbers: a callback dials the customer's own
    number, never one typed beside it."""
    return any(
        is_phone_key(name) and value and same_number(str(value), number, region)
        for name, value in record.items()
    )


def not_own_number(field: str, number: str) -> str:
    return (
        f"{field} {number} is not one of this record's numbers: a callback dials the customer's own "
        "number. Put it in the record (e.g. as phone2) or leave it out to call phone1"
    )


@dataclass(frozen=True)
class RecordCallbacks:
    """How the callbacks of the records of one upload are judged: in the server's zone, within its
    calling hours, to one of the record's own numbers, and as Ameyo can dial it."""

    zone: ZoneInfo
    rule: PhoneRule
    max_phone_length: int
    # None: any hour, as the person asked (outside_calling_hours).
    calling_hours: CallingHours | None
    # What a refusal of a time outside calling hours tells the caller to do.
    hours_hint: str
    # A tool's caller typed the callback number, so its refusal shows it; a file's cell is data,
    # described and never shown.
    show_number: bool = False
    # Fixed for a run of a file, so that its rows are judged against one moment.
    now: datetime | None = None

    def check(
        self, record: Mapping[str, str], phone: str | None, when: str, number: str | None
    ) -> tuple[CallbackTime, str | None]:
        """A record's callback at `when`, to `number` (phone1 when None): the time, and the number
        as Ameyo dials it; ValueError with the reason when it may not be sent. `record` is the
        record as it will be sent, `phone` its phone1."""
        at = parse_callback_time(when, self.zone, now=self.now, quote=False)
        dial = phone
        if number:
            dial = dialed(CALLBACK_PHONE, number, self.rule, self.max_phone_length)
            if not own_number(number, record, self.rule.region):
                raise ValueError(
                    not_own_number(CALLBACK_PHONE, data_text(number, 24) if self.show_number else "given")
                )
        if self.calling_hours is not None:
            late = outside_hours(at.at, self.calling_hours, self.zone)
            if late is not None:
                raise ValueError(f"{late}; {self.hours_hint}")
        return at, dial
