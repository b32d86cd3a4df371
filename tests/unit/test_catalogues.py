"""Every page's words go through the catalogues, and every catalogue translates them all.

A text written straight into a template (not in ``t("...")``) fails
``test_templates_have_no_words_outside_the_catalogues``; a new message without its Spanish
fails ``test_every_language_translates_every_message`` until ``python -m
app.locales.extract`` has added it and someone has translated it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from jinja2 import Environment

from app.locales import extract

# Words that read the same in every language: the product's name, the API, codes.
SAME_IN_EVERY_LANGUAGE = frozenset(
    {"Common Purse", "API", "Atom", "PDF", "CSV", "JSON", "IBAN", "BIC", "SHA-256"}
)
_TAG = re.compile(r"<!--.*?-->|<[^>]*>", re.DOTALL)
_ENTITY = re.compile(r"&[#\w]+;")
_SHOWN_ATTRIBUTE = re.compile(r'\b(?:aria-label|title|placeholder|alt)="([^"]*)"')
_ATTRIBUTE = re.compile(r'\b[a-z][\w-]*="[^"]*"?')
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _read(path: Path) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=path.parent.parent.name)


def _words_outside(source: str) -> list[str]:
    """The texts of a template that a reader sees and that are not in ``t(...)``."""
    # The template's own text, with each Jinja tag or expression as one blank mark.
    pieces: list[str] = []
    for _line, kind, value in Environment().lex(source):
        if kind == "data":
            pieces.append(value)
        elif not pieces or pieces[-1] != "\0":
            pieces.append("\0")
    text = "".join(pieces)
    found = [shown for shown in _SHOWN_ATTRIBUTE.findall(text) if re.search("[A-Za-z]", shown)]
    # Attributes written by a macro, outside any tag, are markup too.
    text = _ATTRIBUTE.sub("\0", _TAG.sub("\0", text))
    for piece in re.split(r"[\0·|()\[\],.:;!?/]", _ENTITY.sub(" ", text)):
        piece = " ".join(piece.split()).strip(" -–—\"'")
        if re.search("[A-Za-z]{2}", piece) and piece not in SAME_IN_EVERY_LANGUAGE:
            found.append(piece)
    return found


@pytest.mark.parametrize(
    "name",
    sorted(path.relative_to(extract.ROOT / "templates").as_posix() for path in extract.templates()),
)
def test_templates_have_no_words_outside_the_catalogues(name: str) -> None:
    source = (extract.ROOT / "templates" / name).read_text()
    assert _words_outside(source) == []


def test_the_check_finds_words_outside_the_catalogues() -> None:
    source = '<p title="Close it">Hello {{ t("Hi") }} · API</p><a aria-label="{{ t("Go") }}">x</a>'
    assert _words_outside(source) == ["Close it", "Hello"]


def test_the_template_catalogue_is_up_to_date() -> None:
    written = _read(extract.POT)
    assert [message.id for message in written if message.id] == [
        message.id for message in extract.template_catalog() if message.id
    ], "run: .venv/bin/python -m app.locales.extract"


def _literal_form_messages(source: str) -> list[str]:
    """Messages written straight into a form's ``fail(field, "...")``: the catalogues never
    see them, so they stay English on every page. (An f-string that only puts a place
    before a message, ``f"#{line}: {error}"``, is said by ``app.web.forms.said``.)"""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "fail"
            and len(node.args) >= 2
        ):
            continue
        message = node.args[1]
        parts = message.values if isinstance(message, ast.JoinedStr) else [message]
        words = " ".join(
            part.value
            for part in parts
            if isinstance(part, ast.Constant) and isinstance(part.value, str)
        )
        if re.search("[A-Za-z]{2}", words):
            found.append(ast.unparse(message))
    return found


@pytest.mark.parametrize(
    "path",
    sorted((extract.ROOT / "app").rglob("*.py")),
    ids=lambda path: path.relative_to(extract.ROOT).as_posix(),
)
def test_form_messages_go_through_the_catalogues(path: Path) -> None:
    assert _literal_form_messages(path.read_text()) == []


def test_the_check_finds_a_form_message_outside_the_catalogues() -> None:
    source = (
        'form.fail("name", "Give it a name.")\nform.fail("name", N_("Give it a name."))\n'
        'form.fail("", f"#{line}: {error}")\nform.fail("", f"Line {line} is wrong")'
    )
    assert _literal_form_messages(source) == ["'Give it a name.'", "f'Line {line} is wrong'"]


@pytest.mark.parametrize("path", extract.languages(), ids=lambda path: path.parent.parent.name)
def test_every_language_translates_every_message(path: Path) -> None:
    catalog = _read(path)
    missing = []
    for message in extract.template_catalog():
        if not message.id:
            continue
        translated = catalog.get(message.id)
        strings = (
            []
            if translated is None
            else list(translated.string)
            if translated.pluralizable
            else [translated.string]
        )
        if translated is None or translated.fuzzy or not all(strings) or not strings:
            missing.append(message.id)
            continue
        wanted = set(_PLACEHOLDER.findall(str(message.id)))
        for string in strings:
            assert set(_PLACEHOLDER.findall(string)) == wanted, (message.id, string)
    assert missing == [], f"{path.parent.parent.name} lacks {len(missing)} translations"
