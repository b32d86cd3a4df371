"""Collect the translatable texts of the ask pages into ``messages.pot``.

Run ``.venv/bin/python -m app.locales.extract`` after changing those texts, then update each
``<language>/LC_MESSAGES/messages.po`` (for example with ``pybabel update``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = (
    "templates/public/ask.html",
    "templates/public/ask_status.html",
    "templates/public/_group_header.html",
)
SOURCES = {
    "app/web/ask.py": ("translate",),
    "app/mail.py": ("translate",),
    "proposals/support.py": ("InvalidInput",),
}


def messages() -> list[str]:
    found: list[str] = []
    for name in TEMPLATES:
        for match in re.finditer(r't\("((?:[^"\\]|\\.)*)"\)', (ROOT / name).read_text()):
            found.append(match.group(1))
    for name, callers in SOURCES.items():
        for node in ast.walk(ast.parse((ROOT / name).read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in callers
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.append(node.args[0].value)
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "AMOUNT_HELP" for t in node.targets
            ):
                assert isinstance(node.value, ast.Constant)
                found.append(str(node.value.value))
    return list(dict.fromkeys(found))


def main() -> None:
    catalog = Catalog(project="commonpurse")
    for message in messages():
        catalog.add(message)
    with (Path(__file__).parent / "messages.pot").open("wb") as out:
        write_po(out, catalog, omit_header=False, width=100)


if __name__ == "__main__":
    main()
