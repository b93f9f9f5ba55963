"""Records the simulator stores, and the deterministic seed data it starts with.

The seed follows the vendor document where it shows data (campaigns 1/5/10, leads 1/21/35/39,
customer 12458) and invents the rest from ``random.Random(seed)``, so two simulators built with the
same seed and clock hold identical data.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..ameyo.columns import CAMPAIGN_COLUMNS

# Every id the vendor's samples show starts with this server prefix (sessions and callbacks).
SERVER_PREFIX = "d431-54f54717"

CAMPAIGN_COLUMN_PREFIX = "__campaign_customer_table_alias__."


DISPOSITIONS: tuple[str, ...] = (
    "Sale",
    "Foreign Language",
    "DNC",
    "Callback Requested",
    "Not Interested",
    "Wrong Number",
    "Survey Completed",
)

AGENTS: tuple[str, ...] = ("agent1", "agent2", "agent3", "agent4", "agent5")


ColumnValue = str | int | datetime | None


@dataclass(frozen=True)
class Campaign:
    campaign_id: int
    name: str
    campaign_type: str
    process_id: int


@dataclass
class Lead:
    lead_id: int
    campaign_id: int
    enabled: bool = True
    priority: int = 1
    weightage: int = 1
    max_attempt: int = 10
    churn_count: int = 0
    # The sample shows fetchOrderDetails on some leads only; None means "not shown".
    fetch_ascending: bool | None = None


@dataclass
class Contact:
    customer_id: int
    campaign_id: int
    lead_id: int
    customer_data: dict[str, str]
    columns: dict[str, ColumnValue] = field(default_factory=dict)

    def copy(self) -> Contact:
        return Contact(
            self.customer_id, self.campaign_id, self.lead_id, dict(self.customer_data), dict(self.columns)
        )

    @property
    def phone1(self) -> str:
        return self.customer_data.get("phone1", "")


@dataclass(frozen=True)
class Callback:
    callback_id: str
    campaign_id: int
    callback_time: datetime
    phone: str
    customer_id: int | None
    self_callback: bool = False
    user_id: str | None = None
    handler_type: str | None = None


@dataclass
class SeedData:
    campaigns: list[Campaign]
    leads: list[Lead]
    contacts: list[Contact]
    callbacks: list[Callback]
    next_customer_id: int
    next_callback_number: int


def fresh_columns(status: str = "NOT_TRIED", attempts: int = 0) -> dict[str, ColumnValue]:
    """Columns of a contact that was just added: every history column is NULL."""
    columns: dict[str, ColumnValue] = dict.fromkeys(CAMPAIGN_COLUMNS)
    columns.update(
        status=status,
        attempts=attempts,
        churn_count=0,
        num_inbound_attempted=0,
        num_outbound_attempted=attempts,
        num_inbound_connected=0,
        num_outbound_connected=0,
    )
    return columns


# --- seed generation -------------------------------------------------------------------------------

DOC_CUSTOMER_ID = 12458
DOC_SAMPLE_CALLBACK_CUSTOMER_ID = 112
_FIRST_CUSTOMER_ID = 12000

_INDIAN_FIRST = (
    "Aarav", "Vivaan", "Aditya", "Priya", "Ananya", "Diya", "Rohan", "Arjun", "Kavya", "Isha",
    "Rahul", "Sneha", "Vikram", "Neha", "Amit", "Pooja", "Suresh", "Lakshmi", "Karthik", "Meera",
)  # fmt: skip
_INDIAN_LAST = (
    "Sharma", "Verma", "Gupta", "Iyer", "Nair", "Reddy", "Patel", "Singh", "Kumar", "Mehta",
    "Joshi", "Chatterjee", "Menon", "Rao", "Das",
)  # fmt: skip
_SPANISH_FIRST = (
    "Alejandro", "María", "Carmen", "José", "Lucía", "Javier", "Sofía", "Pablo", "Elena", "Diego",
    "Marta", "Sergio", "Laura", "Andrés", "Isabel",
)  # fmt: skip
_SPANISH_LAST = (
    "García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez",
    "Martín", "Ruiz", "Díaz", "Hernández", "Álvarez", "Moreno",
)  # fmt: skip
_INDIAN_CITIES = (
    ("Mumbai", "Maharashtra"), ("Pune", "Maharashtra"), ("Delhi", "Delhi"), ("Bengaluru", "Karnataka"),
    ("Chennai", "Tamil Nadu"), ("Hyderabad", "Telangana"), ("Kolkata", "West Bengal"),
    ("Ahmedabad", "Gujarat"), ("Jaipur", "Rajasthan"), ("Kochi", "Kerala"),
)  # fmt: skip
_SPANISH_CITIES = ("Madrid", "Barcelona", "Sevilla", "Valencia", "Bilbao", "Zaragoza", "Málaga", "Granada")

# Weights of a dial outcome, roughly what an outbound survey campaign sees.
_STATUS_WEIGHTS: dict[str, int] = {
    "NO_ANSWER": 25, "BUSY": 15, "CONNECTED": 25, "CALL_DROP": 5, "CALL_HANGUP": 5, "AMD": 4,
    "ATTEMPT_FAILED": 2, "TRANSFERRED_TO_CAMPAIGN": 1, "CALL_NOT_PICKED": 4, "NUMBER_FAILURE": 3,
    "NUMBER_TEMP_FAILURE": 3, "PROVIDER_FAILURE": 1, "PROVIDER_TEMP_FAILURE": 2, "SYSTEM_ERROR": 1,
    "FAILED": 1, "SIT_INTERCEPT": 1, "SIT_VACANT": 1, "SIT_NOCIRCUIT": 1, "SIT_REORDER": 1,
}  # fmt: skip
# How campaign 1's customers spread over its leads.
LEAD_WEIGHTS: dict[int, int] = {1: 40, 21: 30, 39: 22, 35: 8}
# Agents are attached to the outcomes where the call reached one.
_AGENT_STATUSES = frozenset({"CONNECTED", "CALL_NOT_PICKED"})


def seed_data(contacts: int, seed: int, now: datetime, *, list_campaign_one: bool = True) -> SeedData:
    """Build the starting data: ``contacts`` customers in campaign 1, ~40 in 5, a few in 10.

    With ``list_campaign_one=False`` campaign 1 is left out (it is generated on demand, with ids up to
    ``12000 + contacts``) and the other campaigns' customers take the ids after it.
    """
    gen = _Generator(random.Random(seed), now)
    campaigns = [
        Campaign(1, "MoviStarSurvey", "Outbound Voice Campaign", 1),
        Campaign(5, "MOSL_Frenchise", "Interactive Voice Application", 3),
        Campaign(10, "TestInbound", "Interactive Voice Application", 4),
    ]
    # Campaign 1's leads in the order of sample 3.9.4.
    leads = [
        Lead(1, 1, fetch_ascending=False),
        Lead(35, 1, enabled=False),
        Lead(21, 1, fetch_ascending=False),
        Lead(39, 1),
        Lead(51, 5, priority=2, weightage=3, max_attempt=5, fetch_ascending=True),
        Lead(101, 10, max_attempt=3),
    ]
    people: list[Contact] = []
    if not list_campaign_one:
        gen.skip_ids_to(_FIRST_CUSTOMER_ID + contacts)
    doc_slot = min(contacts - 1, contacts // 3)
    for i in range(contacts if list_campaign_one else 0):
        if i == doc_slot:
            people.append(gen.document_customer())
        elif i == 0:
            people.append(gen.contact(1, 21, spanish=False, name=("Priya", "Sharma")))
        else:
            lead = gen.rng.choices(tuple(LEAD_WEIGHTS), weights=tuple(LEAD_WEIGHTS.values()))[0]
            people.append(gen.contact(1, lead, spanish=gen.rng.random() < 0.6))
    people.extend(gen.contact(5, 51, spanish=gen.rng.random() < 0.1) for _ in range(40))
    people.extend(gen.contact(10, 101, spanish=gen.rng.random() < 0.5, attempts=0) for _ in range(6))
    callbacks = list(gen.callbacks(people))
    if list_campaign_one:
        # Added last, drawing nothing from the generator, so every other customer stays as it was.
        people.append(document_sample_customer(1))
    return SeedData(
        campaigns=campaigns,
        leads=leads,
        contacts=people,
        callbacks=callbacks,
        next_customer_id=max((c.customer_id for c in people), default=_FIRST_CUSTOMER_ID) + 1,
        next_callback_number=len(callbacks) + 1,
    )


def document_sample_customer(campaign_id: int) -> Contact:
    """The customer of the document's addCallback sample (4.10.3): id 112, phone 5555056887, never dialled."""
    return Contact(DOC_SAMPLE_CALLBACK_CUSTOMER_ID, campaign_id, 1, {"phone1": "5555056887"}, fresh_columns())


class _Generator:
    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now.replace(microsecond=0)
        self._last_id = _FIRST_CUSTOMER_ID
        self._phones: set[str] = {"0458681166572", "5555056887"}

    def skip_ids_to(self, last_id: int) -> None:
        self._last_id = last_id

    def _customer_id(self) -> int:
        self._last_id += self.rng.choice((1, 1, 1, 2, 3))
        if self._last_id == DOC_CUSTOMER_ID:  # reserved for the document's own customer
            self._last_id += 1
        return self._last_id

    def _phone(self, spanish: bool) -> str:
        while True:
            if spanish:
                prefix = self.rng.choice(("34", "0034", "0"))
                body = self.rng.choice("67") + "".join(self.rng.choices("0123456789", k=8))
                if prefix == "0":  # Chilean-style numbers like the document's own customer
                    body += "".join(self.rng.choices("0123456789", k=3))
            else:
                prefix = self.rng.choice(("", "91", "0"))
                body = self.rng.choice("6789") + "".join(self.rng.choices("0123456789", k=9))
            phone = prefix + body
            if phone not in self._phones:
                self._phones.add(phone)
                return phone

    def contact(
        self,
        campaign_id: int,
        lead_id: int,
        *,
        spanish: bool,
        name: tuple[str, str] | None = None,
        attempts: int | None = None,
    ) -> Contact:
        rng = self.rng
        if name is None:
            first = rng.choice(_SPANISH_FIRST if spanish else _INDIAN_FIRST)
            last = rng.choice(_SPANISH_LAST if spanish else _INDIAN_LAST)
        else:
            first, last = name
        data: dict[str, str] = {"name": f"{first} {last}", "phone1": self._phone(spanish)}
        if rng.random() < 0.3:
            data["phone2"] = self._phone(spanish)
        if rng.random() < 0.7:
            data["email"] = f"{_ascii(first)}.{_ascii(last)}{rng.randint(1, 99)}@example.com".lower()
        if spanish:
            data["city"] = rng.choice(_SPANISH_CITIES)
            data["region"] = f"REGIÓN {rng.randint(1, 6)}"
        else:
            city, state = rng.choice(_INDIAN_CITIES)
            data["city"], data["region"] = city, state
        if rng.random() < 0.5:
            data["login"] = str(rng.randint(100000, 999999))
        if attempts is None:
            attempts = 0 if rng.random() < 0.3 else min(10, int(rng.expovariate(0.35)) + 1)
        columns = self.history(attempts, data)
        return Contact(self._customer_id(), campaign_id, lead_id, data, columns)

    def document_customer(self) -> Contact:
        # Sample 4.6.5, with dial history consistent with its ATTEMPTS 5 / STATUS BUSY.
        data = {"region": "REGIÓN 4", "login": "504089", "phone1": "0458681166572"}
        columns = self.history(5, data, last_status="BUSY")
        columns.update(num_inbound_attempted=0, num_inbound_connected=0)
        return Contact(DOC_CUSTOMER_ID, 1, 1, data, columns)

    def history(
        self, attempts: int, data: dict[str, str], last_status: str | None = None
    ) -> dict[str, ColumnValue]:
        rng = self.rng
        columns = fresh_columns(attempts=attempts)
        if attempts == 0:
            return columns
        when = self.now - timedelta(seconds=rng.randint(3600, 21 * 86400))
        columns["last_dialed"] = columns["last_dialed_time"] = when
        numbers = [data["phone1"], data.get("phone2", data["phone1"])]
        connected_times: list[datetime] = []
        disposition: str | None = None
        last_user: str | None = None
        for k in range(1, min(attempts, 4) + 1):
            status = last_status if k == 1 and last_status else _weighted_status(rng)
            columns[f"last_status_{k}"] = status
            columns[f"last_dialed_time_{k}"] = when
            columns[f"last_dialed_number_{k}"] = numbers[0] if rng.random() < 0.8 else numbers[1]
            if status in _AGENT_STATUSES:
                user = rng.choice(AGENTS)
                columns[f"last_user_id_{k}"] = user
                last_user = last_user or user
            if status == "CONNECTED":
                disp = rng.choice(DISPOSITIONS)
                columns[f"last_disposition_{k}"] = disp
                disposition = disposition or disp
                connected_times.append(when)
            when -= timedelta(hours=rng.randint(2, 72), minutes=rng.randint(0, 59))
        older = attempts - min(attempts, 4)
        older_connected = rng.randint(0, older // 3) if older else 0
        if older_connected and not connected_times:
            connected_times.append(when - timedelta(days=rng.randint(1, 10)))
            disposition = rng.choice(DISPOSITIONS)
        columns.update(
            status=columns["last_status_1"],
            disposition=disposition,
            last_user_id=last_user,
            last_connected_time=connected_times[0] if connected_times else None,
            num_outbound_connected=sum(1 for k in range(1, 5) if columns[f"last_status_{k}"] == "CONNECTED")
            + older_connected,
        )
        if rng.random() < 0.15:
            inbound = rng.randint(1, 2)
            columns["num_inbound_attempted"] = inbound
            columns["num_inbound_connected"] = rng.randint(0, inbound)
        if rng.random() < 0.1:
            churns = rng.randint(1, 2)
            columns["churn_count"] = churns
            columns["last_churn_1"] = _weighted_status(rng)
            if churns == 2:
                columns["last_churn_2"] = _weighted_status(rng)
            columns["last_churn_date"] = when - timedelta(days=rng.randint(1, 30))
        return columns

    def callbacks(self, people: list[Contact]) -> Iterator[Callback]:
        wanting = [c for c in people if c.columns.get("disposition") == "Callback Requested"]
        wanting_ids = {c.customer_id for c in wanting}
        others = [c for c in people if c.customer_id not in wanting_ids]
        chosen = (wanting + self.rng.sample(others, min(len(others), 8)))[:8]
        for number, contact in enumerate(chosen, start=1):
            when = self.now.replace(minute=0, second=0) + timedelta(
                days=self.rng.randint(0, 6), hours=self.rng.randint(1, 30)
            )
            user = contact.columns.get("last_user_id")
            yield Callback(
                callback_id=f"{SERVER_PREFIX}-cm-{number}",
                campaign_id=contact.campaign_id,
                callback_time=when,
                phone=contact.phone1,
                customer_id=contact.customer_id,
                self_callback=isinstance(user, str),
                user_id=user if isinstance(user, str) else None,
                handler_type="voice.campaign.callback.handler",
            )


def _weighted_status(rng: random.Random) -> str:
    return rng.choices(tuple(_STATUS_WEIGHTS), weights=tuple(_STATUS_WEIGHTS.values()))[0]


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
