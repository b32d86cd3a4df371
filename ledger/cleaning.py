"""A receipt's file made safe to keep and to show: its type read from its bytes, and
every piece of metadata removed.

A phone's photo of a receipt carries where it was taken (EXIF GPS), the phone, the time;
a PDF carries its author and the software that made it (document information, XMP). None
of that belongs in a group's records. Images are decoded and encoded again by Pillow from
their pixels alone (no EXIF, XMP, ICC profile, comments or PNG text chunks survive); a
PDF keeps its pages and loses its document information and XMP metadata (pypdf).

The type is never taken from a file's name or the type its sender states: only PDF,
PNG, JPEG and WebP, recognised by their first bytes and then by opening them, are kept.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError
from pypdf.generic import NameObject

from ledger.errors import InvalidInput, UnsupportedFile

PDF, JPEG, PNG, WEBP = "application/pdf", "image/jpeg", "image/png", "image/webp"
# Pillow's format names for the image types.
_IMAGE_FORMATS = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP"}
# A photo of a receipt is a few megapixels; far more is a decompression bomb.
MAX_PIXELS = 50_000_000
# What a page of a PDF may carry that says who made it.
_PAGE_METADATA = ("/Metadata", "/PieceInfo", "/LastModified")


@dataclass(frozen=True, slots=True)
class CleanFile:
    content: bytes
    content_type: str


def content_type_of(content: bytes) -> str | None:
    """The type the bytes are (by their signature), if it is one receipts may be."""
    if content.startswith(b"%PDF-"):
        return PDF
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if content.startswith(b"\xff\xd8\xff"):
        return JPEG
    if len(content) >= 12 and content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return WEBP
    return None


def clean(content: bytes) -> CleanFile:
    """The file without its metadata; UnsupportedFile for a type receipts cannot be,
    InvalidInput for a file of such a type that cannot be read."""
    content_type = content_type_of(content)
    if content_type is None:
        raise UnsupportedFile(
            "A receipt is a PDF, PNG, JPEG or WebP file; this file is none of them.",
            field="file",
        )
    if content_type == PDF:
        return CleanFile(_clean_pdf(content), PDF)
    return CleanFile(_clean_image(content, content_type), content_type)


def _unreadable(what: str) -> InvalidInput:
    return InvalidInput(f"This {what} cannot be read; it may be damaged.", field="file")


def _clean_image(content: bytes, content_type: str) -> bytes:
    image_format = _IMAGE_FORMATS[content_type]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=[image_format]) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise InvalidInput(
                        f"This image has {width} x {height} pixels; a receipt needs far "
                        "fewer (a photo of up to 50 megapixels).",
                        field="file",
                    )
                # The photo stays the right way up once its orientation tag is gone.
                upright = ImageOps.exif_transpose(image)
                upright.load()
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as error:
        raise _unreadable("image") from error
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
    if upright.mode == "L":
        mode = "L"
    elif has_alpha and content_type != JPEG:
        mode = "RGBA"
    else:
        mode = "RGB"
    pixels = upright.convert(mode)
    # A new image from the pixels alone: nothing of the file's ``info`` comes along.
    bare = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    if content_type == JPEG:
        bare.save(out, "JPEG", quality=90)
    elif content_type == PNG:
        bare.save(out, "PNG", optimize=True)
    else:
        bare.save(out, "WEBP", quality=90)
    return out.getvalue()


def _clean_pdf(content: bytes) -> bytes:
    try:
        reader = PdfReader(io.BytesIO(content))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidInput(
                "This PDF is protected by a password; attach one that opens without it.",
                field="file",
            )
        if not reader.pages:
            raise InvalidInput("This PDF has no pages.", field="file")
        writer = PdfWriter()
        for page in reader.pages:
            added = writer.add_page(page)
            for key in _PAGE_METADATA:
                if key in added:
                    del added[NameObject(key)]
        # No document information (author, producer, dates) and no XMP stream.
        writer.metadata = None
        writer.xmp_metadata = None
        out = io.BytesIO()
        writer.write(out)
    except InvalidInput:
        raise
    except (PdfReadError, OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise _unreadable("PDF") from error
    return out.getvalue()
