"""The house rules of the code, checked on its source: they hold for every newcomer's change
without anyone having to remember them.

- the layers point inward: ``ledger`` imports neither ``proposals`` nor ``app``, ``proposals``
  never imports ``app``, and neither domain imports a web library;
- no import circle between our modules, not even one closed by an import inside a function;
- the request boundary owns the transaction: nothing under ``app/`` commits but ``app/db.py``;
- building the app draws no warning from Litestar (what it deprecates stops
  working in its next major version).
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "ledger", "proposals")
WEB_LIBRARIES = ("litestar", "jinja2", "weasyprint", "markupsafe")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, at its top or inside a function."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _ours(name: str) -> str | None:
    """The module of ours that an imported name is (a name imported from a module counts
    as that module), or None."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


GRAPH = {
    module: {target for name in _imports(path) if (target := _ours(name)) not in (None, module)}
    for module, path in MODULES.items()
}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.startswith("app")))
def test_the_domain_never_imports_the_shell_nor_a_web_library(module: str) -> None:
    layer = module.split(".")[0]
    forbidden = ("app",) if layer == "proposals" else ("app", "proposals")
    imported = set(_imports(MODULES[module]))
    upward = sorted(name for name in imported if name.split(".")[0] in forbidden)
    web = sorted(name for name in imported if name.split(".")[0] in WEB_LIBRARIES)
    assert not upward, f"{module} imports {upward}: the domain must not depend on outer layers"
    assert not web, f"{module} imports {web}: the domain knows nothing of the web"


def test_no_import_circles() -> None:
    circles: list[list[str]] = []
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        if module in visiting:
            circles.append([*visiting[visiting.index(module) :], module])
            return
        if module in done:
            return
        visiting.append(module)
        for target in sorted(GRAPH[module]):
            visit(target)
        visiting.pop()
        done.add(module)

    for module in sorted(GRAPH):
        visit(module)
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def _commits(path: Path) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "commit"
    ]


def test_only_the_unit_of_work_commits() -> None:
    """Handlers, jobs and commands never commit: the request's boundary (or ``unit_of_work``
    for work outside a request) does, so an answer never says "done" for uncommitted work
    and a refusal never keeps half of it."""
    committing = {
        module: lines
        for module, path in MODULES.items()
        if module != "app.db" and (lines := _commits(path))
    }
    assert not committing, f"commit() outside app/db.py: {committing}"


def test_building_the_app_draws_no_litestar_warning(tmp_path: Path) -> None:
    """Litestar 2.25 warns at every build, for instance, about a path parameter declared in
    the inferred style (``place: str``) rather than as ``FromPath[str]``."""
    from litestar.exceptions import LitestarDeprecationWarning, LitestarWarning

    from app.asgi import create_app
    from app.settings import Settings

    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        secret_key="x" * 50,
        signing_key_file=tmp_path / "signing-key.pem",
        base_url="http://testserver.local",
        attachments_dir=tmp_path / "attachments",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        create_app(settings)
    litestar = [
        str(w.message)
        for w in caught
        if issubclass(w.category, (LitestarDeprecationWarning, LitestarWarning))
    ]
    assert not litestar, litestar
