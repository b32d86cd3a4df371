"""Reading PDFs back the way an outsider would: pypdf, poppler's ``pdftotext`` and ``qpdf``.

A missing tool skips the test with a reason outside CI and fails it in CI (``CI=true``),
where every tool is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from tests.support.databases import unavailable


def need(tool: str) -> str:
    """The path of a command-line tool, or skip (fail in CI) when it is missing."""
    path = shutil.which(tool)
    if path is None:
        unavailable(f"{tool} is not installed (apt-get install qpdf poppler-utils)")
    return path


def pypdf_module() -> Any:
    try:
        import pypdf
    except ImportError:  # pragma: no cover - depends on the environment
        unavailable("pypdf is not installed (pip install -e '.[test]')")
    return pypdf


def reader(pdf: bytes) -> Any:
    return pypdf_module().PdfReader(BytesIO(pdf))


def _run(args: list[str], pdf: bytes, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "document.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        [*args, str(path), "-"] if args[0].endswith("pdftotext") else [*args, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def pdftotext(pdf: bytes, tmp_path: Path, *, layout: bool = True) -> str:
    """The text of the PDF as poppler's pdftotext extracts it (``-layout`` keeps rows)."""
    tool = need("pdftotext")
    result = _run([tool, "-enc", "UTF-8", *(["-layout"] if layout else [])], pdf, tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stdout


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    x_max: float
    y_max: float
    page_width: float
    page_height: float


def words_with_boxes(pdf: bytes, tmp_path: Path) -> list[Word]:
    """Every word pdftotext finds, with where it ends on its page (``-bbox``)."""
    tool = need("pdftotext")
    result = _run([tool, "-enc", "UTF-8", "-bbox"], pdf, tmp_path)
    assert result.returncode == 0, result.stderr
    words: list[Word] = []
    width = height = 0.0
    page = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">')
    word = re.compile(
        r'<word xMin="[\d.]+" yMin="[\d.]+" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
    )
    for line in result.stdout.splitlines():
        if match := page.search(line):
            width, height = float(match[1]), float(match[2])
        elif match := word.search(line):
            words.append(Word(match[3], float(match[1]), float(match[2]), width, height))
    return words


def qpdf_check(pdf: bytes, tmp_path: Path) -> str:
    """``qpdf --check`` output; asserts it found no errors and no warnings."""
    tool = need("qpdf")
    result = _run([tool, "--check"], pdf, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "No syntax or stream encoding errors found" in output, output
    assert "WARNING" not in output.upper(), output
    return output


def without_bidi_marks(text: str) -> str:
    """pdftotext wraps right-to-left runs in bidi embedding marks; drop them to compare."""
    return re.sub("[\u200e\u200f\u202a-\u202e\u2066-\u2069]", "", text)


def xmp(pdf: bytes) -> str:
    metadata = reader(pdf).trailer["/Root"]["/Metadata"].get_object()
    data: bytes = metadata.get_data()
    return data.decode("utf-8")


def fonts_without_embedded_file(pdf: bytes) -> list[str]:
    """Names of the fonts used on any page whose font program is not in the PDF."""
    missing: list[str] = []
    for page in reader(pdf).pages:
        resources = page.get("/Resources")
        fonts = resources.get_object().get("/Font") if resources else None
        if not fonts:
            continue
        for font in fonts.get_object().values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            target = descendants.get_object()[0].get_object() if descendants else font
            descriptor = target.get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor else {}
            if not any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")):
                missing.append(str(font.get("/BaseFont")))
    return missing


def uncompressed(pdf: bytes, tmp_path: Path) -> str:
    """The PDF rewritten by qpdf with every stream and object stream expanded, as Latin-1
    text: names such as /JavaScript cannot hide in a compressed stream there."""
    tool = need("qpdf")
    source, target = tmp_path / "packed.pdf", tmp_path / "expanded.pdf"
    source.write_bytes(pdf)
    result = subprocess.run(
        [tool, "--qdf", "--object-streams=disable", str(source), str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return target.read_bytes().decode("latin-1")
