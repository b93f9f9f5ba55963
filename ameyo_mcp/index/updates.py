"""The index kept in step with this process's own uploads: the customers Ameyo says it added or
updated go into the campaign's index at once, from the records sent and Ameyo's answer to each.

Registered on the write path (`WritePath.for_settings`), so every upload path feeds it. Imported
at start-up, so the store and the sync's row maker are imported on the first upload only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from ..ameyo.models import CampaignInfo, RecordResult, UploadContactsRequest, UploadWithCallbacksRequest
from ..ameyo.result_types import effect
from ..errors import SyncError
from .held import synced_index

if TYPE_CHECKING:
    from ..config import Settings
    from ..store import ContactRow, Store


class Write(Protocol):
    """What the index needs of an answered write (the write path's `Write` has it): the index sits
    below the write path and does not import it."""

    @property
    def request(self) -> object: ...
    @property
    def campaign(self) -> CampaignInfo: ...
    @property
    def lead_id(self) -> int | None: ...


def index_answers(
    settings: Settings, store: Callable[[], Store]
) -> Callable[[Write, Sequence[Any]], Awaitable[None]]:
    """The write path's hook: add the customers of an answered upload to the index of `store`
    (the write path's own, opened on first use)."""

    async def updating_the_contacts_index(write: Write, answer: Sequence[Any]) -> None:
        campaign = write.campaign
        target = store()
        # Until a first complete sync, lookups in a campaign scan Ameyo live and the sync brings
        # every contact anyway: rows added before it would cost every upload and serve no one.
        if await synced_index(target, campaign.campaign_id) is None:
            return
        added, changed = upload_rows(write, answer, settings)
        if not added and not changed:
            return

        def save() -> None:
            # Before the index is read for the outcomes the updated keep: a push recorded since stays.
            read_at = datetime.now(UTC)
            merged = [_merged(target, campaign.campaign_id, row) for row in changed]
            target.upsert_contacts(
                campaign.campaign_id,
                [*added, *merged],
                campaign_name=campaign.campaign_name,
                read_at=read_at,
            )

        await anyio.to_thread.run_sync(save)

    return updating_the_contacts_index


def upload_rows(
    write: Write, answer: Sequence[Any], settings: Settings
) -> tuple[list[ContactRow], list[ContactRow]]:
    """The index rows of an upload's records: those Ameyo added, and those it updated or moved
    (whose other fields Ameyo kept). Records it refused or left as they were are not indexed."""
    from .sync import contact_row

    request = write.request
    if isinstance(request, UploadContactsRequest):
        records = request.customer_records
        extra: dict[str, Any] = {"status": request.status, "attempts": request.num_attempts}
    elif isinstance(request, UploadWithCallbacksRequest):
        records = [r.customer_record for r in request.records]
        # The command takes no status: a customer it adds is a new one, never tried (the document's
        # own example of a new contact's status; the next sync says otherwise if Ameyo does). Left
        # without one, it was counted under a status no listing can ask for ("UNKNOWN").
        extra = {"status": "NOT_TRIED", "attempts": 0}
    else:
        return [], []
    added: list[ContactRow] = []
    changed: list[ContactRow] = []
    # Ameyo answers one result per record, in the order sent.
    for record, result in zip(records, answer, strict=False):
        if not isinstance(result, RecordResult) or result.customer_id is None:
            continue
        what = effect(result.kind)
        if what not in ("added", "updated", "moved"):
            continue
        sent = {"customerId": result.customer_id, "leadId": write.lead_id, "customerData": record}
        try:
            row = contact_row({**sent, "extraData": extra if what == "added" else {}}, settings)
        except SyncError:
            continue
        (added if what == "added" else changed).append(row)
    return added, changed


def _merged(store: Store, campaign_id: int, row: ContactRow) -> ContactRow:
    """An updated customer: the fields sent replace theirs, the index keeps the rest."""
    known = store.contact(campaign_id, row.customer_id)
    if known is None:
        return row
    return row._replace(
        phones=list(dict.fromkeys([*known.phones, *row.phones])),
        names=row.names or [known.names],
        name=row.name or known.name,
        status=known.status,
        disposition=known.disposition,
        attempts=known.attempts,
        dialled_at=known.dialled_at,
    )
