"""Text from models, annotators and data files is shown literally inside Markdown."""
from __future__ import annotations

import re

from markdown_it import MarkdownIt

from app_pages.common import ZERO_WIDTH_SPACE, literal

HOSTILE = "[x](http://127.0.0.1:9/) ![i](http://127.0.0.1:9/i.png) <b>b</b> **bold** _it_ `code` # head :red[c] $x$"
# the patterns GitHub-flavoured Markdown links in plain text (mdast-util-gfm-autolink-literal)
GFM_AUTOLINK = re.compile(r"(https?://|www(?=\.))[-.\w]+|[-.\w+]+@[-\w]+(\.[-\w]+)+", re.IGNORECASE)


def _shown(html: str) -> str:
    return html.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")


def test_literal_text_renders_no_link_image_tag_or_emphasis():
    # html=True: a raw tag would pass through; the escaped text must not contain one
    html = MarkdownIt("commonmark", {"html": True}).render(literal(HOSTILE))
    for element in ("<a", "<img", "<b>", "<strong", "<em", "<code", "<h1"):
        assert element not in html, (element, html)
    # the characters themselves are all still there (and zero-width spaces, which show as nothing)
    plain = _shown(html).replace(ZERO_WIDTH_SPACE, "")
    assert "[x](http://127.0.0.1:9/)" in plain and "<b>b</b>" in plain and "**bold**" in plain
    # unescaped, the same text would have rendered a link (the test can fail)
    assert "<a" in MarkdownIt("commonmark").render(HOSTILE)


def test_bare_addresses_are_not_linked_by_github_markdown():
    # GFM links bare addresses in the text left after escapes are resolved (Streamlit's renderer
    # does): what is left of literal()'s output must hold none of them, yet read the same
    text = "see http://127.0.0.1:9/x, HTTPS://a.example/b, www.example.com or mail bea@example.com"
    assert GFM_AUTOLINK.search(text)
    shown = _shown(MarkdownIt("commonmark").render(literal(text)))
    assert "<a" not in shown and not GFM_AUTOLINK.search(shown), shown
    assert shown.replace(ZERO_WIDTH_SPACE, "") == f"<p>{text}</p>\n"


def test_literal_keeps_line_breaks():
    assert literal("one\ntwo") == "one  \ntwo"
