"""From a document's data to PDF/A-3 bytes: Jinja2 print templates, then WeasyPrint.

Every document (the audit statement, a receipt, later the decision record) is described by
a ``PdfDocument``: the template under ``templates/pdf/``, its context, its metadata and its
attachments. ``render_pdf`` turns one into bytes off the event loop, with a time limit.

Safety:

- templates autoescape and use ``StrictUndefined``; member text is never marked safe;
- WeasyPrint fetches nothing but our own files under ``app/static`` (``StaticOnlyFetcher``):
  no network, no ``file:`` outside that folder, no ``data:`` URLs;
- fonts are the shipped DejaVu files (``app/static/fonts``), embedded in every PDF.

Time limit (a thread cannot be killed): WeasyPrint runs in a worker thread
(``anyio.to_thread.run_sync``) under ``anyio.fail_after``. When the limit passes the request
answers 503 at once and the thread is abandoned; it runs on to its end. Three things keep
that bounded:

- the callers cap a document's size (``Limits.max_rows``), and the layout keeps WeasyPrint's
  work linear and small (see ``templates/pdf/statement.pdf.html``): the largest statement
  allowed prints in well under the limit (10,000 entries: about 30 s of CPU here);
- at most ``Limits.concurrency`` renders run at once in a process (default 1: WeasyPrint is
  CPU-bound under the GIL, so a second render in the same process would only slow the
  first, and Pango and fontconfig are then never used by two threads at once). Abandoned
  renders keep their slot until WeasyPrint is really done, since the slot is taken and
  given back inside the thread;
- a request waits for a slot only until its own deadline; a thread still waiting then gives
  up instead of printing for a caller who has gone.

A process per render could be killed instead, but it costs a fresh WeasyPrint import and
font set-up (about a second) per document, plus shipping the HTML and the PDF between
processes; with the size cap, a thread is the simpler and faster choice.
"""

from __future__ import annotations

import mimetypes
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import anyio
import anyio.to_thread
import segno
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from app.documents.columns import clean
from app.i18n import SOURCE_LANGUAGE, page_words, translations
from app.presenters.formatting import Formatter, locale_or_default
from app.presenters.markdown import render_markdown
from ledger.money import format_amount

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates" / "pdf"
STATIC = ROOT / "app" / "static"
STYLESHEET = "pdf.css"
PDF_VARIANT = "pdf/a-3u"
PRODUCER = "Common Purse"


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one document may cost. ``configure`` reads overrides from the settings."""

    seconds: float = 120.0
    max_rows: int = 20_000
    concurrency: int = 1

    def __post_init__(self) -> None:
        if not (self.seconds > 0 and self.max_rows >= 1 and self.concurrency >= 1):
            raise ValueError("PDF limits must be positive")


DEFAULT_LIMITS = Limits()


class RenderError(Exception):
    """A document could not be printed; ``str(err)`` is for people."""


class RenderTimeout(RenderError):
    pass


@dataclass(frozen=True, slots=True)
class PdfAttachment:
    """A file embedded in the PDF (PDF/A-3 associated file)."""

    name: str
    content: bytes
    description: str
    # PDF/A-3 AFRelationship: Source, Data, Alternative, Supplement or Unspecified.
    relationship: str = "Data"


@dataclass(frozen=True, slots=True)
class PdfDocument:
    """Everything needed to print one document; plain data, so it can cross threads."""

    template: str
    context: Mapping[str, Any]
    title: str
    description: str
    keywords: Sequence[str] = ()
    author: str = PRODUCER
    attachments: Sequence[PdfAttachment] = ()
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    lang: str = "en"


# --- templates ---------------------------------------------------------------------------


def _formatter(context: Context) -> Formatter | None:
    """The document's reader's formatter, when it is not in English: an English document
    writes money as it always has (``300.00 EUR``), another language its own way
    (``300,00 €``)."""
    fmt = context.get("fmt")
    return fmt if isinstance(fmt, Formatter) and fmt.language != SOURCE_LANGUAGE else None


@pass_context
def _money(context: Context, minor: int, currency: str) -> str:
    fmt = _formatter(context)
    if fmt is not None:
        return fmt.money(minor, currency)
    return f"{format_amount(minor, currency)} {currency}"


@pass_context
def _signed_money(context: Context, minor: int, currency: str) -> str:
    fmt = _formatter(context)
    if fmt is not None:
        return fmt.signed(minor, currency)
    sign = "+" if minor > 0 else ""
    return f"{sign}{format_amount(minor, currency)} {currency}"


def document_words(language: str) -> dict[str, Any]:
    """What a print template needs to speak ``language``: ``t``, ``tn`` and ``fmt``."""
    t, tn = page_words(language)
    return {"t": t, "tn": tn, "fmt": Formatter(locale_or_default(language))}


def utc_minute(moment: datetime | str) -> str:
    """A moment in UTC to the minute (a minute's responses hold their time as ISO text)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def markdown(text: str) -> Markup:
    """Member text written in Markdown, rendered and sanitised as the pages render it (a
    PDF showing ``**two months behind**`` read as a broken page); each line is first cleaned
    of control and bidi-override characters."""
    return render_markdown("\n".join(clean(line) for line in text.splitlines()))


@pass_context
def money_from(context: Context, minor: int | None, currency: str | None, fund: str | None) -> str:
    """``300.00 EUR from rent-relief``; empty when there is no money."""
    if minor is None or currency is None:
        return ""
    money = _money(context, minor, currency)
    if not fund:
        return money
    t = context.get("t") or page_words(SOURCE_LANGUAGE)[0]
    return str(t("%(amount)s from %(fund)s") % {"amount": money, "fund": fund})


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    environment.filters["plain"] = clean
    environment.filters["money"] = _money
    environment.filters["signed_money"] = _signed_money
    environment.filters["utc_minute"] = utc_minute
    environment.filters["markdown"] = markdown
    environment.filters["money_from"] = money_from
    # Documents in another language pass their own (``document_words``).
    environment.globals.update(document_words(SOURCE_LANGUAGE))
    return environment


_environment_lock = threading.Lock()
_cached_environment: Environment | None = None


def environment() -> Environment:
    """The print templates' Jinja2 environment (one per process)."""
    global _cached_environment
    with _environment_lock:
        if _cached_environment is None:
            _cached_environment = _environment()
        return _cached_environment


def page_numbers_css(language: str) -> Markup:
    """The footer's "Page 1 of 2" in the document's language (the stylesheet says it in
    English): a style rule, as a page's margin boxes take their words from CSS only."""
    if language == SOURCE_LANGUAGE:
        return Markup("")
    t = translations(language).gettext
    # Our catalogue's words inside a CSS string: its quotes, backslashes and any "<" escaped.
    words = t("Page %(page)s of %(pages)s")
    words = words.replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3c ")
    content = '"' + words % {"page": '" counter(page) "', "pages": '" counter(pages) "'} + '"'
    return Markup(  # noqa: S704 (escaped for CSS above; no markup from anyone else)
        f"<style>@page {{ @bottom-right {{ content: {content}; }} }}</style>"
    )


def render_html(document: PdfDocument) -> str:
    template = environment().get_template(document.template)
    return template.render(
        **{**document_words(document.lang), **document.context},
        document_title=clean(document.title),
        document_description=clean(document.description),
        document_keywords=", ".join(clean(keyword) for keyword in document.keywords),
        document_author=clean(document.author),
        document_created=document.created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        document_lang=document.lang,
        page_numbers=page_numbers_css(document.lang),
        stylesheet=STYLESHEET,
    )


def qr_svg(text: str) -> Markup:
    """A QR code of ``text`` as inline SVG (one path: a handful of boxes for WeasyPrint).

    Safe to insert unescaped: segno writes the markup and ``text`` only becomes modules."""
    code = segno.make(text, error="m", micro=False)
    svg = code.svg_inline(scale=1, border=2, dark="#1f2421", omitsize=True)  # a viewBox
    return Markup(svg)  # noqa: S704  (segno's own markup, see above)


# --- WeasyPrint --------------------------------------------------------------------------


def _static_fetcher() -> Any:
    from weasyprint.urls import URLFetcher, URLFetcherResponse  # type: ignore[import-untyped]

    class StaticOnlyFetcher(URLFetcher):  # type: ignore[misc]
        """Serves files under ``app/static`` and refuses every other URL."""

        def fetch(self, url: str, headers: object = None) -> Any:
            body = static_file(url)
            media_type = mimetypes.guess_type(url)[0] or "application/octet-stream"
            return URLFetcherResponse(url, body=body, headers={"Content-Type": media_type})

    return StaticOnlyFetcher(timeout=1, allow_redirects=False)


def static_file(url: str) -> bytes:
    """The bytes of a ``file:`` URL inside ``app/static``; ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise ValueError(f"only our own static files may be fetched, not {url!r}")
    path = Path(unquote(parts.path)).resolve()
    if not path.is_relative_to(STATIC.resolve()) or not path.is_file():
        raise ValueError(f"{url!r} is not one of our static files")
    return path.read_bytes()


def write_pdf(document: PdfDocument) -> bytes:
    """Render ``document`` to PDF/A-3u bytes, here and now (blocking: seconds for big ones)."""
    from weasyprint import HTML, Attachment  # type: ignore[import-untyped]

    html = render_html(document)
    attachments = [
        Attachment(
            string=item.content,
            name=item.name,
            description=item.description,
            created=document.created,
            modified=document.created,
            relationship=item.relationship,
        )
        for item in document.attachments
    ]
    pdf: bytes = HTML(
        string=html, base_url=STATIC.as_uri() + "/", url_fetcher=_static_fetcher()
    ).write_pdf(
        pdf_variant=PDF_VARIANT,
        attachments=attachments,
    )
    return pdf


_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def _slot_semaphore(concurrency: int) -> threading.BoundedSemaphore:
    with _slots_lock:
        if concurrency not in _slots:
            _slots[concurrency] = threading.BoundedSemaphore(concurrency)
        return _slots[concurrency]


async def render_pdf(document: PdfDocument, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """``write_pdf`` in a worker thread, within ``limits.seconds``.

    Waits for one of the process's ``limits.concurrency`` slots (abandoned renders keep
    theirs until they end); RenderTimeout when the limit passes first, waiting or printing
    (a printing thread is abandoned and runs on)."""
    slots = _slot_semaphore(limits.concurrency)
    deadline = time.monotonic() + limits.seconds

    def too_late() -> RenderTimeout:
        return RenderTimeout(
            f"The document was not printed within {limits.seconds:.0f} s; "
            "ask for a shorter period or try again later."
        )

    def work() -> bytes:
        # Taken and given back in the thread itself, so an abandoned render keeps its slot
        # until WeasyPrint is really done, and one cancelled before it started takes none.
        # A thread that gets no slot before the deadline gives up: its caller has gone.
        if not slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise too_late()
        try:
            if time.monotonic() >= deadline:
                raise too_late()
            return write_pdf(document)
        finally:
            slots.release()

    try:
        with anyio.fail_after(limits.seconds):
            return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
    except TimeoutError as error:
        raise too_late() from error
