"""Collect every translatable text into ``messages.pot``, and merge it into each catalogue.

Run ``.venv/bin/python -m app.locales.extract`` after changing texts: it rewrites
``messages.pot`` and adds each new message, untranslated, to every
``<language>/LC_MESSAGES/messages.po`` (keeping what is translated there, and dropping
messages no longer used). ``tests/unit/test_catalogues.py`` fails until every message has a
translation.

What is a message:
- in templates, ``t("...")`` and ``visitor_t("...")``, and ``tn("one", "many", n)`` for a
  text that depends on a number;
- in Python, the first argument of a call to ``translate``, ``t`` or ``N_`` (``N_`` marks a
  text translated later, where it is shown), both of ``Nn_`` (a text that depends on a
  number), and the first of ``InvalidInput`` in ``SOURCES_RAISING``;
- the values of the word tables in ``TABLES`` (labels shown in every language), and
  ``AMOUNT_HELP``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[2]
LOCALES = Path(__file__).resolve().parent
POT = LOCALES / "messages.pot"
# Templates whose words are not for people reading a page in their language: the API
# reference documents the API (in English, as the OpenAPI document is) and the Atom feed
# is read by feed readers, which send no language.
UNTRANSLATED_TEMPLATES = frozenset({"api_reference.html", "public/feed.atom"})
PYTHON_SOURCES = (
    "app",
    "proposals/labels.py",
    "proposals/rules.py",
    "proposals/service.py",
    "proposals/queries.py",
    "proposals/notify.py",
    "proposals/discussion.py",
    "proposals/support.py",
    "ledger/giving.py",
)
CALLERS = frozenset({"translate", "t", "N_"})
PLURAL_CALLERS = frozenset({"Nn_"})
SOURCES_RAISING = {
    "proposals/support.py": "InvalidInput",
    # The domain's refusals without values that forms show (``app.web.forms.said``).
    "ledger/giving_rules.py": "InvalidInput",
    "ledger/giving.py": "InvalidInput",
    "ledger/groups.py": "InvalidInput",
    "ledger/matching.py": "InvalidInput",
}
TABLES = {
    "proposals/labels.py": ("STATUS_LABELS", "KIND_LABELS", "POSITION_LABELS", "CLOSED_BY"),
    "app/web/errors.py": ("_TITLES", "_MESSAGES"),
    "app/presenters/ledger.py": ("KIND_LABELS", "FILE_TYPE_LABELS"),
    "app/presenters/proposals.py": ("POLICY_STATUS_LABELS", "FIELD_LABELS"),
}
_STRING = r'"((?:[^"\\]|\\.)*)"'
_TEMPLATE_MESSAGE = re.compile(r"\b(?:visitor_)?t\(\s*" + _STRING + r"\s*\)")
_TEMPLATE_PLURAL = re.compile(r"\btn\(\s*" + _STRING + r"\s*,\s*" + _STRING)

Message = str | tuple[str, str]


def _unescape(text: str) -> str:
    return text.replace('\\"', '"').replace("\\\\", "\\")


def templates() -> Iterator[Path]:
    for path in sorted((ROOT / "templates").rglob("*")):
        name = path.relative_to(ROOT / "templates").as_posix()
        if path.is_file() and name not in UNTRANSLATED_TEMPLATES:
            yield path


def _from_templates() -> Iterator[Message]:
    for path in templates():
        text = path.read_text()
        found: list[tuple[int, Message]] = [
            (m.start(), _unescape(m.group(1))) for m in _TEMPLATE_MESSAGE.finditer(text)
        ]
        found += [
            (m.start(), (_unescape(m.group(1)), _unescape(m.group(2))))
            for m in _TEMPLATE_PLURAL.finditer(text)
        ]
        yield from (message for _, message in sorted(found, key=lambda pair: pair[0]))


def _python_files() -> Iterator[Path]:
    for name in (*PYTHON_SOURCES, *SOURCES_RAISING):
        path = ROOT / name
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


def _first_text(node: ast.Call) -> str | None:
    if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def _from_python() -> Iterator[Message]:
    for path in _python_files():
        name = path.relative_to(ROOT).as_posix()
        callers = CALLERS | {SOURCES_RAISING[name]} if name in SOURCES_RAISING else CALLERS
        tables = set(TABLES.get(name, ()))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                text = _first_text(node)
                if text is not None and node.func.id in callers:
                    yield text
                if node.func.id in PLURAL_CALLERS and len(node.args) == 2:
                    singular, plural = node.args
                    if isinstance(singular, ast.Constant) and isinstance(plural, ast.Constant):
                        yield str(singular.value), str(plural.value)
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = {target.id for target in targets if isinstance(target, ast.Name)}
                if "AMOUNT_HELP" in names and isinstance(node.value, ast.Constant):
                    yield str(node.value.value)
                if names & tables and isinstance(node.value, ast.Dict):
                    for value in node.value.values:
                        if isinstance(value, ast.Constant) and isinstance(value.value, str):
                            yield value.value


def messages() -> list[Message]:
    """Every message, once, in the order it first appears."""
    return list(dict.fromkeys([*_from_templates(), *_from_python()]))


def template_catalog() -> Catalog:
    catalog = Catalog(project="commonpurse")
    for message in messages():
        catalog.add(message)
    return catalog


def languages() -> list[Path]:
    return sorted(LOCALES.glob("*/LC_MESSAGES/messages.po"))


def main() -> None:
    template = template_catalog()
    with POT.open("wb") as out:
        write_po(out, template, omit_header=False, width=100)
    for path in languages():
        with path.open("rb") as po:
            catalog = read_po(po, locale=path.parent.parent.name)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        with path.open("wb") as out:
            write_po(out, catalog, width=100)


if __name__ == "__main__":
    main()
