"""Secrets are redacted from messages as whole tokens (and anywhere when long), never letter by letter."""

from __future__ import annotations

from actions.redact import MASK, redact, secret_forms


def test_a_short_secret_inside_a_word_is_left_alone():
    assert redact("the server closed the connection unexpectedly", ["p"]) == "the server closed the connection unexpectedly"
    assert redact("password prompt: please", ["pass"]) == "password prompt: please"


def test_a_short_secret_standing_as_a_token_is_redacted():
    assert redact("login p refused", ["p"]) == f"login {MASK} refused"
    assert redact("p", ["p"]) == MASK
    assert redact("smtp://mailer:p@mail.example.com", ["p"]) == f"smtp://mailer:{MASK}@mail.example.com"
    assert redact("(p)", ["p"]) == f"({MASK})"


def test_a_secret_with_punctuation_at_its_edges_is_a_token_on_that_side():
    assert redact("pw=p@ss! then", ["p@ss!"]) == f"pw={MASK} then"
    assert redact("path /x/y here", ["/x/y"]) == f"path {MASK} here"
    assert redact("host:8080/x/y?", ["/x/y"]) == f"host:8080{MASK}?"


def test_a_long_secret_is_redacted_even_glued_into_a_url_or_header():
    key = "sk_live_4f9a8b7c6d"
    assert redact(f"GET https://api.example.com/v1?key{key}&x=1 failed", [key]) == f"GET https://api.example.com/v1?key{MASK}&x=1 failed"
    assert redact(f"Authorization: Bearer{key}", [key]) == f"Authorization: Bearer{MASK}"


def test_every_occurrence_and_every_form_is_redacted_longest_first():
    secret = "hunter2 pass"
    forms = secret_forms(secret)
    text = f"535 AUTH aHVudGVyMiBwYXNz rejected; url smtp://u:hunter2%20pass@h; said {secret} and {secret}"
    assert redact(text, forms) == f"535 AUTH {MASK} rejected; url smtp://u:{MASK}@h; said {MASK} and {MASK}"
    assert redact("abcdefghij", ["abc", "abcdefghij"]) == MASK  # the longer one wins, nothing half-left


def test_nothing_to_redact_leaves_the_text_as_it_is():
    assert redact("hello", []) == "hello"
    assert redact("hello", ["", None]) == "hello"
    assert redact("", ["x"]) == ""
