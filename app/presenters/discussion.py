"""A proposal's discussion as people read it: each comment with its Markdown rendered and
sanitised (as proposal bodies are), its earlier texts, whether it was hidden and why, and
its replies. Reads come from ``proposals.discussion``, which already left out what the
reader may not see (a hidden text, earlier texts for non-members, names)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from markupsafe import Markup

from app.presenters.markdown import render_markdown
from proposals.schemas import CommentOut, HiddenOut


@dataclass(frozen=True, slots=True)
class EarlierText:
    body_html: Markup
    written_at: datetime
    replaced_at: datetime


@dataclass(frozen=True, slots=True)
class CommentView:
    id: int
    author: str | None
    author_id: int | None
    body_html: Markup | None  # None when hidden from this reader
    body_text: str | None  # the Markdown, for its author's edit form
    created_at: datetime
    edited_at: datetime | None
    round: int | None
    earlier: list[EarlierText]
    hidden: HiddenOut | None
    replies: list[CommentView] = field(default_factory=list)


def comment_view(out: CommentOut) -> CommentView:
    return CommentView(
        id=out.id,
        author=out.author,
        author_id=out.author_id,
        body_html=render_markdown(out.body) if out.body is not None else None,
        body_text=out.body,
        created_at=out.created_at,
        edited_at=out.edited_at,
        round=out.round,
        earlier=[
            EarlierText(render_markdown(e.body), e.written_at, e.replaced_at) for e in out.earlier
        ],
        hidden=out.hidden,
        replies=[comment_view(reply) for reply in out.replies],
    )


def comment_views(comments: Sequence[CommentOut]) -> list[CommentView]:
    return [comment_view(c) for c in comments]


def comment_count(comments: Sequence[CommentView]) -> int:
    return sum(1 + len(c.replies) for c in comments)
