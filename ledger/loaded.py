"""Rows the append path reads or writes without the ORM, made to look loaded by it.

The append path is the hot path: its lock, read and writes are plain statements sent to
the driver directly (on SQLite the lock is still the ORM's query), and the session's
objects are then made to match the rows, as if the ORM had loaded them. That leans on how
SQLAlchemy keeps an object's state, through its public inspection functions
(``instance_dict``, ``make_transient_to_detached``, ``set_committed_value``) and the
mapper's (``identity_key_from_primary_key``, its class manager);
``tests/integration/test_loaded.py`` fails when SQLAlchemy changes what they mean.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict, set_committed_value

from ledger.models import Base

Model = TypeVar("Model", bound=Base)


def as_loaded(model: type[Model], values: dict[str, Any]) -> Model:
    """A new object for a row written or read without the unit of work, made to look
    loaded (no pending changes), so the session neither inserts it again nor reloads it.

    ``values`` may hold a many-to-one relationship's object too, loaded with the row as
    ``set_committed_value`` would load it (a collection needs ``set_committed_value``).

    It skips the constructor, which would record every value as a change to undo at once:
    the ORM's loader fills a new instance's ``__dict__`` the same way, at a quarter of the
    cost (an append makes five of these)."""
    instance: Model = model.__mapper__.class_manager.new_instance()
    instance_dict(instance).update(values)
    make_transient_to_detached(instance)
    return instance


def held(session: AsyncSession, model: type[Model], values: dict[str, Any]) -> Model | None:
    """The session's object for a row read without the ORM, brought up to date with the
    row's values as if just loaded (what ``populate_existing`` does); None when the session
    holds none."""
    mapper = model.__mapper__
    key = mapper.identity_key_from_primary_key(tuple(values[name] for name in _primary_key(model)))
    found: Model | None = session.sync_session.identity_map.get(key)
    if found is not None:
        for name, value in values.items():
            set_committed_value(found, name, value)
    return found


def current(session: AsyncSession, model: type[Model], values: dict[str, Any]) -> Model:
    """The session's object for a row read without the ORM, holding the row's values as if
    just loaded: the one in the session brought up to date (``held``), or a new one added
    to it."""
    found = held(session, model, values)
    if found is None:
        found = as_loaded(model, values)
        session.add(found)
    return found


@cache
def _primary_key(model: type[Base]) -> tuple[str, ...]:
    return tuple(column.name for column in model.__table__.primary_key)
