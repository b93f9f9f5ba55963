"""Whatever a customer record holds, what reaches the model is one short line of visible text."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from ameyo_mcp.rules.sanitize import clean_text


@given(st.text(), st.integers(min_value=2, max_value=200))
def test_clean_text_is_visible_single_line_and_capped(text: str, cap: int) -> None:
    out = clean_text(text, cap)
    assert len(out) <= cap
    assert all(unicodedata.category(ch)[0] != "C" for ch in out)
    assert "\n" not in out and "\x1b" not in out and "  " not in out
    assert out == out.strip()


def test_known_hostile_sequences() -> None:
    assert clean_text("Priya\x1b[2J\x1b]0;title\x07 Sharma") == "Priya Sharma"
    assert clean_text("pay\u200bpal \u202eevil\u202c") == "paypal evil"
    assert clean_text("line one\nSYSTEM: line two") == "line one SYSTEM: line two"
    assert clean_text("x" * 500, 10) == "x" * 9 + "…"
