"""Files a steward might attach to an entry, each carrying what must not be kept: a phone
photo with GPS coordinates, a PNG with text chunks, a PDF with its author and XMP."""

from __future__ import annotations

import io
from typing import Any

import httpx
from PIL import Image, PngImagePlugin
from pypdf import PdfWriter

from tests.support.people import World

SECRET = "Philippa Zanzibar"
XMP = (
    '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    f'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>{SECRET}</dc:creator>'
    '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
).encode()
GPS_IFD = 0x8825


def photo_with_gps(colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A JPEG as a phone writes it: EXIF with the maker, the owner and where it was taken."""
    image = Image.new("RGB", (64, 48), colour)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x013B] = SECRET  # Artist
    exif[GPS_IFD] = {1: "N", 2: (40.0, 26.0, 46.0), 3: "W", 4: (79.0, 58.0, 56.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), comment=SECRET.encode())
    return out.getvalue()


def png_with_text() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", SECRET)
    info.add_itxt("Comment", f"Taken at {SECRET}'s flat")
    out = io.BytesIO()
    Image.new("RGBA", (20, 10), (0, 128, 0, 200)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def pdf_with_author(pages: int = 2) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(300, 200)
    writer.add_metadata({"/Author": SECRET, "/Title": f"Rent of {SECRET}"})
    writer.xmp_metadata = XMP
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def attach(
    client: httpx.AsyncClient,
    world: World,
    seq: int,
    content: bytes,
    *,
    name: str = f"receipt of {SECRET}.jpg",
    content_type: str = "image/jpeg",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """Attach a file through the API as the world's steward (or as ``headers`` say)."""
    return await client.post(
        f"/api/groups/{world.slug}/entries/{seq}/attachments",
        files={"file": (name, content, content_type)},
        headers=headers if headers is not None else world.steward.headers,
    )


def leaf_documents(jsonl: bytes) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in jsonl.splitlines()]
