"""Alembic, driven from code: the settings in ``pyproject.toml`` ([tool.alembic]) and the
database URL from the instance's settings, so no alembic.ini is needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.db import create_engine
from app.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    config = Config(toml_file=str(PROJECT_ROOT / "pyproject.toml"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    # Percent signs in a URL would be read as interpolation by configparser.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    """Raise if the models and the migrations disagree (alembic's ``check``)."""
    command.check(alembic_config(database_url))


async def schema_refusal(settings: Settings) -> str | None:
    """Why this version of Common Purse cannot use the instance's database, or None when
    the database's schema is this version's: it has no schema yet, or an older one (the
    code was upgraded and the database not), or a newer one."""
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            current = set(
                await connection.run_sync(
                    lambda sync: MigrationContext.configure(sync).get_current_heads()
                )
            )
    finally:
        await engine.dispose()
    script = ScriptDirectory.from_config(alembic_config(settings.database_url))
    heads = set(script.get_heads())
    if current == heads:
        return None
    if not current:
        return "the database has no schema yet: run `commonpurse db upgrade` first."
    at = ", ".join(sorted(current))
    known = {revision.revision for revision in script.walk_revisions()}
    if not current <= known:
        return (
            f"the database's schema is at revision {at}, newer than this version of Common "
            "Purse knows: run the version that wrote it."
        )
    return (
        f"the database's schema is at revision {at}, and this version of Common Purse needs "
        f"{', '.join(sorted(heads))}: run `commonpurse db upgrade` first."
    )
