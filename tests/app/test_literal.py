"""Text from models, annotators and data files is shown literally inside Markdown."""
from __future__ import annotations

from markdown_it import MarkdownIt

from app_pages.common import literal

HOSTILE = "[x](http://127.0.0.1:9/) ![i](http://127.0.0.1:9/i.png) <b>b</b> **bold** _it_ `code` # head :red[c] $x$"


def test_literal_text_renders_no_link_image_tag_or_emphasis():
    # html=True: a raw tag would pass through; the escaped text must not contain one
    html = MarkdownIt("commonmark", {"html": True}).render(literal(HOSTILE))
    for element in ("<a", "<img", "<b>", "<strong", "<em", "<code", "<h1"):
        assert element not in html, (element, html)
    # the characters themselves are all still there
    plain = html.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    assert "[x](http://127.0.0.1:9/)" in plain and "<b>b</b>" in plain and "**bold**" in plain
    # unescaped, the same text would have rendered a link (the test can fail)
    assert "<a" in MarkdownIt("commonmark").render(HOSTILE)


def test_literal_keeps_line_breaks():
    assert literal("one\ntwo") == "one  \ntwo"
