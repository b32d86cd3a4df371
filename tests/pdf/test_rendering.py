"""Printing itself: only our static files are fetched, and a slow render is cut off."""

from __future__ import annotations

import socket
import threading
import time

import anyio
import pytest

from app.documents import pdf
from app.documents.pdf import (
    STATIC,
    Limits,
    PdfDocument,
    RenderTimeout,
    render_pdf,
    static_file,
)

PROBE = PdfDocument(template="unused", context={}, title="probe", description="probe")


def test_the_fetcher_serves_our_static_files_only() -> None:
    assert static_file((STATIC / "pdf.css").as_uri()).startswith(b"/*")
    assert static_file((STATIC / "fonts" / "DejaVuSans.ttf").as_uri())[:4] == b"\x00\x01\x00\x00"
    for url in (
        "http://example.com/pdf.css",
        "https://127.0.0.1/pdf.css",
        "ftp://example.com/x",
        "data:text/css,body{}",
        "file:///etc/passwd",
        f"file://{STATIC}/../settings.py",
        f"file://example.com{STATIC}/pdf.css",
        (STATIC / "no-such-file.css").as_uri(),
    ):
        with pytest.raises(ValueError):
            static_file(url)


def test_a_document_pointing_at_the_network_prints_without_fetching_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        port = server.getsockname()[1]
        html = (
            f'<link rel="stylesheet" href="http://127.0.0.1:{port}/evil.css">'
            f'<link rel="stylesheet" href="file:///etc/passwd">'
            f'<img src="http://127.0.0.1:{port}/pixel.png">'
            f'<p style="background: url(http://127.0.0.1:{port}/bg.png)">Hello</p>'
        )
        monkeypatch.setattr(pdf, "render_html", lambda document: html)
        content = pdf.write_pdf(PROBE)
        assert content.startswith(b"%PDF-")
        with pytest.raises(BlockingIOError):
            server.accept()


async def test_a_render_past_its_time_limit_answers_at_once_and_keeps_its_slot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()
    calls: list[str] = []

    def slow(document: PdfDocument) -> bytes:
        calls.append(document.title)
        release.wait(10)
        return b"%PDF-late"

    monkeypatch.setattr(pdf, "write_pdf", slow)
    limits = Limits(seconds=0.3, concurrency=1)
    started = time.perf_counter()
    with pytest.raises(RenderTimeout):
        await render_pdf(PROBE, limits)
    assert time.perf_counter() - started < 5
    # The abandoned render still runs and holds the only slot: the next one waits for it
    # until its own deadline, then gives up without printing.
    with pytest.raises(RenderTimeout):
        await render_pdf(PROBE, limits)
    await anyio.sleep(0.5)  # past the waiting thread's deadline
    release.set()
    assert await render_pdf(PROBE, Limits(seconds=10, concurrency=1)) == b"%PDF-late"
    assert len(calls) == 2  # the abandoned render and the last one; the waiter printed nothing


async def test_renders_in_one_process_take_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    running: list[int] = []
    overlap: list[int] = []

    def tracked(document: PdfDocument) -> bytes:
        running.append(1)
        overlap.append(len(running))
        time.sleep(0.05)
        running.pop()
        return b"%PDF-" + document.title.encode()

    monkeypatch.setattr(pdf, "write_pdf", tracked)
    results: list[bytes] = []

    async def one(index: int) -> None:
        document = PdfDocument(template="t", context={}, title=str(index), description="d")
        results.append(await render_pdf(document, Limits(seconds=10, concurrency=1)))

    async with anyio.create_task_group() as group:
        for index in range(5):
            group.start_soon(one, index)
    assert sorted(results) == [b"%PDF-" + str(i).encode() for i in range(5)]
    assert max(overlap) == 1
