"""Proposal bodies: Markdown in, safe HTML out. Whatever a member writes, the page gets only
a short list of tags, links only to http(s) and mail, and no script of any kind."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from markupsafe import Markup

from app.presenters.markdown import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, render_markdown


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def tags_of(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<svg onload=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1) )",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "<javascript:alert(1)>",
    '<iframe src="https://example.org"></iframe>',
    '<div style="position:fixed;inset:0">cover</div>',
    "<style>body{display:none}</style>",
    '<form action="https://evil.example"><input name=x></form>',
    '[x](https://example.org "title\\" onmouseover=\\"alert(1)")',
    "![x](https://evil.example/track.png)",
    '<p onclick="alert(1)">hi</p>',
    "<!-- comment --> <![CDATA[ x ]]>",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_bodies_come_out_without_script_handlers_or_foreign_urls(text: str) -> None:
    html = str(render_markdown(text))
    for tag, attrs in tags_of(html):
        assert tag in ALLOWED_TAGS, (tag, html)
        for name, value in attrs:
            assert name in ALLOWED_ATTRIBUTES.get(tag, set()) | {"rel"}, (tag, name, html)
            if name == "href":
                assert re.match(r"(https?|mailto):", value or ""), html
    lowered = html.lower()
    assert "<script" not in lowered
    assert "javascript:" not in re.sub(r">[^<]*<", "><", lowered)  # only as visible text
    assert "onerror=" not in re.sub(r">[^<]*<", "><", lowered)


def test_raw_html_is_shown_as_text_not_markup() -> None:
    html = str(render_markdown("<b>bold?</b> and <script>alert(1)</script>"))
    assert html == ("<p>&lt;b&gt;bold?&lt;/b&gt; and &lt;script&gt;alert(1)&lt;/script&gt;</p>\n")


def test_javascript_links_stay_text_and_safe_links_get_rel() -> None:
    assert "<a" not in str(render_markdown("[click](javascript:alert(1))"))
    html = str(render_markdown("[the union](https://example.org/u) <mailto:a@example.org>"))
    assert (
        '<a href="https://example.org/u" rel="nofollow noopener noreferrer">the union</a>' in html
    )
    assert 'href="mailto:a@example.org"' in html


def test_headings_are_pushed_below_the_pages_own() -> None:
    html = str(render_markdown("# One\n## Two\n### Three\n#### Four\n##### Five\n###### Six"))
    assert [tag for tag, _ in tags_of(html)] == ["h3", "h4", "h5", "h6", "h6", "h6"]
    assert "<h1" not in html
    assert "<h2" not in html
    assert "<h3>One</h3>" in html


def test_images_become_their_description() -> None:
    html = str(render_markdown('A ![receipt from <the> shop](https://evil.example/x.png "t") here'))
    assert "<img" not in html
    assert "evil.example" not in html
    assert html == "<p>A receipt from &lt;the&gt; shop here</p>\n"


def test_everyday_markdown_renders() -> None:
    html = str(
        render_markdown(
            "Some **bold**, _em_ and `code`.\n\n"
            "- one\n- two\n\n"
            "3. three\n4. four\n\n"
            "> quoted\n\n"
            "```\n<not a tag>\n```\n\n"
            "| Item | Cost |\n| --- | ---: |\n| Rent | 250 |\n\n"
            "---"
        )
    )
    for piece in (
        "<strong>bold</strong>",
        "<em>em</em>",
        "<code>code</code>",
        "<ul>\n<li>one</li>",
        '<ol start="3">',
        "<blockquote>",
        "<pre><code>&lt;not a tag&gt;\n</code></pre>",
        "<table>",
        "<td>Rent</td>",
        "<hr>",
    ):
        assert piece in html, piece


def test_the_result_is_markup_and_plain_text_passes_through() -> None:
    result = render_markdown("Rent for R-17 & family")
    assert isinstance(result, Markup)
    assert str(result) == "<p>Rent for R-17 &amp; family</p>\n"
    assert str(render_markdown("")) == ""
