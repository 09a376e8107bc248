"""HTML pages that show how trafilatura repeats text, and one it cannot finish, shared by the scrape and
ingestion tests."""

from __future__ import annotations

# Its main text is under trafilatura's MIN_EXTRACTED_SIZE (250 characters), so trafilatura
# appends a "recovered" copy of the article's paragraphs after them; the aside is found only
# by that recovery and must stay.
SHORT_ARTICLE = """<html><head><title>Pricing</title></head><body>
<nav><a href="/">Home</a> <a href="/about">About us</a></nav>
<article><h1>Pricing plans</h1><p>The Team plan costs 12 EUR per seat per month, billed yearly.</p>
<h2>Discounts</h2><p>Nonprofits get forty percent off every plan after verification.</p></article>
<div class="contact"><p>Questions? Write to the sales desk on any weekday.</p></div>
<footer>Copyright Acme</footer></body></html>"""

# A long article that really says one thing twice, far apart: both must stay.
REPEATED = "Always unplug the kettle before you clean it."
LONG_WITH_A_REAL_REPEAT = (
    "<html><head><title>Kettle care</title></head><body><article><h1>Kettle care</h1>"
    f"<p>{REPEATED}</p>"
    + "".join(f"<p>Step {i}: descale the element with a mild solution of citric acid and rinse it twice with clean water.</p>" for i in range(1, 6))
    + f"<h2>Safety</h2><p>{REPEATED}</p>"
    + "</article></body></html>"
)


def deeply_nested_page(size: int = 4_000_000) -> str:
    """A page trafilatura cannot finish: `size` characters of 200-deep divs, each holding a
    paragraph of 50 small nested inline elements (~370,000 elements in 4 MB; trafilatura spends
    minutes on it)."""
    block = "<div>" * 200 + "<p>" + "<span><b><i>deep</i></b></span> " * 50 + "</p>" + "</div>" * 200
    return "<!doctype html><html><head><title>Deep</title></head><body>" + block * (size // len(block)) + "</body></html>"
