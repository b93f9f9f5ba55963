"""The secrets registry over a long life: every login adds a session id, and a server that runs for
months must not scan thousands of ended sessions' ids in every text it scrubs."""

from __future__ import annotations

import html
import json
import secrets
from urllib.parse import quote, quote_plus

from ameyo_mcp.rules.redact import RECENT_SESSIONS, Redactor


def test_the_settings_secrets_are_masked_for_good_and_session_ids_while_they_are_recent() -> None:
    redactor = Redactor()
    redactor.add("the-password")
    sessions = [secrets.token_hex(16) for _ in range(1000)]  # a month of logins
    for session_id in sessions:
        redactor.add_session(session_id)
    recent, ended = sessions[-RECENT_SESSIONS:], sessions[:-RECENT_SESSIONS]
    text = " ".join(["the-password", *recent])
    assert redactor.scrub(text) == " ".join(["[redacted]"] * (1 + RECENT_SESSIONS))
    assert redactor.scrub(ended[-1]) == ended[-1]  # a session that ended 64 logins ago
    assert sum(len(forms) for _, forms in redactor._probes) == 1 + RECENT_SESSIONS


def test_a_session_id_seen_again_is_the_newest_again() -> None:
    redactor = Redactor()
    shared = secrets.token_hex(16)  # the store's shared session, taken up again and again
    redactor.add_session(shared)
    for _ in range(RECENT_SESSIONS - 1):
        redactor.add_session(secrets.token_hex(16))
    redactor.add_session(shared)
    redactor.add_session(secrets.token_hex(16))
    assert redactor.scrub(f"sid={shared}") == "sid=[redacted]"


def test_a_secret_that_holds_another_is_masked_whole() -> None:
    redactor = Redactor()
    redactor.add_session("abcd1234")
    redactor.add("xyz-abcd1234-xyz")
    assert redactor.scrub("token xyz-abcd1234-xyz and abcd1234") == "token [redacted] and [redacted]"


def test_a_secret_is_masked_as_a_request_or_an_echo_of_one_spells_it() -> None:
    redactor = Redactor()
    secret = 'pw&k="q\\é <x>'
    redactor.add(secret)
    data = json.dumps({"password": secret})
    texts = [
        quote_plus(data),  # the login's form body
        data,
        json.dumps(data),  # that JSON quoted in another
        json.dumps(data, ensure_ascii=False),
        html.escape(secret),  # an HTML error page
        quote(secret),
    ]
    # As Java libraries and browsers write it: Gson's HTML-safe JSON, escaped slashes, upper-case
    # \u hex, lower-case % hex, encodeURIComponent, Latin-1 bytes, &#39;.
    other = "Pa/ss'w0rd!é~<x>=&"
    redactor.add(other)
    texts += [
        json.dumps(other, ensure_ascii=False).translate({ord(c): f"\\u{ord(c):04x}" for c in "<>&='"}),
        json.dumps(other).replace("/", "\\/"),
        json.dumps(other).replace("\\u00e9", "\\u00E9"),
        quote(other, safe="").lower().replace("pa%2fss", "Pa%2fss"),
        quote(other, safe="-_.!~*'()"),
        quote(other, safe="", encoding="latin-1"),
        html.escape(other).replace("&#x27;", "&#39;"),
    ]
    for text in texts:
        scrubbed = redactor.scrub(text)
        assert "pw&k" not in scrubbed and "pw%26k" not in scrubbed and "w0rd" not in scrubbed, (
            text,
            scrubbed,
        )


def test_a_secret_is_masked_as_java_form_encodes_it_and_with_only_its_slashes_escaped() -> None:
    """Java's URLEncoder writes `~` as %7E and a space as `+` in any charset; a secret whose only JSON
    escape is `\\/` was masked only in the spellings that had another escape too."""
    redactor = Redactor()
    slashed, tilde, spaced = "Pass/word99", "abc~defg", "pässw ord+99"
    for secret in (slashed, tilde, spaced):
        redactor.add(secret)
    texts = [
        '{"password":"Pass\\/word99"}',
        "password=abc%7Edefg",
        "password=abc%7edefg",
        "password=" + quote_plus(spaced, encoding="latin-1"),
        "password=" + quote_plus(spaced, encoding="latin-1").lower(),
    ]
    for text in texts:
        scrubbed = redactor.scrub(text)
        assert scrubbed.endswith("[redacted]") or scrubbed.endswith('[redacted]"}'), (text, scrubbed)
