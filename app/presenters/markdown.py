"""Proposal bodies are written in Markdown; pages show them rendered and sanitised.

markdown-it-py renders with raw HTML switched off, and nh3 then keeps only a short list of
tags and attributes, so a hostile body can neither run script nor break the page's layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li",
    "h3", "h4", "h5", "h6", "a", "hr", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}


def _image_as_text(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """An image becomes its description: a body loads nothing from elsewhere (the pages'
    policy would refuse it anyway), and the words stay readable."""
    return escapeHtml(renderer.renderInlineAsText(tokens[idx].children or [], options, env))


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    parser.add_render_rule("image", _image_as_text)
    return parser


def render_markdown(text: str) -> Markup:
    """Markdown to safe HTML; headings are pushed down so a body cannot outrank the page."""
    html = _parser().render(text)
    for level in (6, 5, 4, 3, 2, 1):  # h1 and h2 belong to the page around the body
        lower = min(level + 2, 6)
        html = html.replace(f"<h{level}>", f"<h{lower}>").replace(f"</h{level}>", f"</h{lower}>")
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
    )
    return Markup(clean)  # noqa: S704 - nh3 has just sanitised it
