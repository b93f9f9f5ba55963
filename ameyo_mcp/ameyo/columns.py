"""The campaign columns getContacts can add to a contact (section 4.6.2 of the vendor document), and the
values of its `status` column (section 4.6.3 item 9)."""

from __future__ import annotations

CAMPAIGN_COLUMN_PREFIX = "__campaign_customer_table_alias__."

# In the document's order.
CAMPAIGN_COLUMNS: tuple[str, ...] = (
    "attempts",
    "last_dialed",
    "status",
    "last_churn_1",
    "last_churn_2",
    "disposition",
    "last_churn_date",
    "churn_count",
    "last_user_id",
    "num_inbound_attempted",
    "num_outbound_attempted",
    "num_inbound_connected",
    "num_outbound_connected",
    "last_connected_time",
    "last_dialed_time",
    *(f"last_status_{k}" for k in range(1, 5)),
    *(f"last_disposition_{k}" for k in range(1, 5)),
    *(f"last_user_id_{k}" for k in range(1, 5)),
    *(f"last_dialed_number_{k}" for k in range(1, 5)),
    *(f"last_dialed_time_{k}" for k in range(1, 5)),
)

# Section 4.6.3 item 9: a contact's last status is one of these, or NOT_TRIED when never dialed.
DIAL_STATUSES: tuple[str, ...] = (
    "BUSY",
    "NO_ANSWER",
    "CONNECTED",
    "CALL_DROP",
    "CALL_HANGUP",
    "AMD",
    "ATTEMPT_FAILED",
    "TRANSFERRED_TO_CAMPAIGN",
    "CALL_NOT_PICKED",
    "NUMBER_FAILURE",
    "NUMBER_TEMP_FAILURE",
    "PROVIDER_FAILURE",
    "PROVIDER_TEMP_FAILURE",
    "SYSTEM_ERROR",
    "FAILED",
    "SIT_INTERCEPT",
    "SIT_VACANT",
    "SIT_NOCIRCUIT",
    "SIT_REORDER",
)
STATUSES: tuple[str, ...] = ("NOT_TRIED", *DIAL_STATUSES)
# Dispositions are set per deployment by agents; the document's examples (item 10) seed completions.
EXAMPLE_DISPOSITIONS: tuple[str, ...] = ("Sale", "Foreign Language", "DNC")
