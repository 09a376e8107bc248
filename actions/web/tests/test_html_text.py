"""The main text of a page: each paragraph once, however short the page; real repeats kept."""

from __future__ import annotations

import time

import pytest
import trafilatura

from actions.html_text import MAX_ELEMENTS, TooManyElements, element_count, main_text, without_recovered_copies

from .pages import LONG_WITH_A_REAL_REPEAT, REPEATED, SHORT_ARTICLE, deeply_nested_page


def test_trafilatura_itself_still_repeats_a_short_article():
    # The cause, kept in view: if trafilatura stops doing this, main_text's second pass is moot.
    raw = trafilatura.extract(SHORT_ARTICLE, include_comments=False, include_tables=True, deduplicate=True) or ""
    assert raw.count("12 EUR per seat") == 2 and raw.count("forty percent") == 2


def test_a_short_article_comes_out_once_with_the_text_found_outside_it():
    text = main_text(SHORT_ARTICLE)
    assert text.splitlines() == [
        "Pricing plans",
        "The Team plan costs 12 EUR per seat per month, billed yearly.",
        "Discounts",
        "Nonprofits get forty percent off every plan after verification.",
        "Questions? Write to the sales desk on any weekday.",
    ]


def test_markdown_output_keeps_headings_and_drops_the_copy():
    text = main_text(SHORT_ARTICLE, output_format="markdown")
    assert text.count("12 EUR per seat") == 1 and text.count("forty percent") == 1
    assert text.startswith("# Pricing plans\n\n") and "## Discounts" in text and "sales desk" in text


def test_a_paragraph_a_long_page_really_repeats_is_kept_twice():
    assert main_text(LONG_WITH_A_REAL_REPEAT).count(REPEATED) == 2
    assert main_text(LONG_WITH_A_REAL_REPEAT, output_format="markdown").count(REPEATED) == 2


def test_only_lines_after_the_main_body_that_copy_it_are_dropped():
    main = "A\nB\nA"
    assert without_recovered_copies("A\nB\nA\nB\nC\nA", main) == "A\nB\nA\nC"
    # Not the recovery's shape (the main body is not a prefix): left as it is.
    assert without_recovered_copies("B\nA\nB", "A\nB") == "B\nA\nB"


def test_a_huge_deeply_nested_page_is_refused_at_once_instead_of_given_to_trafilatura():
    page = deeply_nested_page()  # 4 MB: trafilatura took minutes on it
    started = time.monotonic()
    with pytest.raises(TooManyElements) as refused:
        main_text(page)
    assert time.monotonic() - started < 5  # counting its elements: ~0.5 s
    assert refused.value.count > 300_000 and refused.value.limit == MAX_ELEMENTS
    assert "more than the 20,000 main-text extraction takes" in str(refused.value)


def test_the_element_limit_counts_elements_only_and_a_page_at_it_is_still_extracted():
    assert element_count(SHORT_ARTICLE) == 15  # html head title body nav a a article h1 p h2 p div p footer: no text or comments
    assert main_text(SHORT_ARTICLE, max_elements=element_count(SHORT_ARTICLE)).startswith("Pricing plans")
    with pytest.raises(TooManyElements):
        main_text(SHORT_ARTICLE, max_elements=element_count(SHORT_ARTICLE) - 1)
