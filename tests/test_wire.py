"""The request body is URL-encoded exactly as urllib (and so any form parser) expects."""

from __future__ import annotations

from urllib.parse import parse_qs, quote_plus

from hypothesis import given
from hypothesis import strategies as st

from ameyo_mcp.ameyo.client import form_body, form_quote

# Any text but lone surrogates, which no JSON document sent over the wire can hold.
texts = st.text(st.characters(blacklist_categories=("Cs",)))


@given(texts)
def test_form_quote_matches_quote_plus(text: str) -> None:
    assert form_quote(text) == quote_plus(text)


@given(texts)
def test_form_body_round_trips(data: str) -> None:
    parsed = parse_qs(form_body("uploadContacts", data).decode("ascii"), keep_blank_values=True)
    assert parsed == {"command": ["uploadContacts"], "data": [data]}


@given(st.text(st.characters(min_codepoint=0, max_codepoint=127)))
def test_ascii_fast_path_matches_quote_plus(text: str) -> None:
    assert form_quote(text) == quote_plus(text)
