"""The request body is URL-encoded exactly as urllib (and so any form parser) expects."""

from __future__ import annotations

from urllib.parse import parse_qs, quote_plus

from hypothesis import given
from hypothesis import strategies as st

from ameyo_mcp.client import form_body, form_quote

# Any text but lone surrogates, which no JSON document sent over the wire can hold.
texts = st.text(st.characters(blacklist_categories=("Cs",)))


@given(texts)
def test_form_quote_matches_quote_plus(text: str) -> None:
    assert form_quote(text) == quote_plus(text)


@given(texts)
def test_form_body_round_trips(data: str) -> None:
    parsed = parse_qs(form_body("uploadContacts", data).decode("ascii"), keep_blank_values=True)
    assert parsed == {"command": ["uploadContacts"], "data": [data]}
