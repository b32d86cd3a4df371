"""Names of the dependencies handlers receive (explicit, as Litestar 3 requires)."""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Caller
from ledger.log import Notary
from ledger.models import User

DbSession = NamedDependency[AsyncSession]
CurrentCaller = NamedDependency[Caller]
CurrentUser = NamedDependency[User]
CurrentNotary = NamedDependency[Notary]


def provide_notary(state: State) -> Notary:
    notary: Notary = state.notary
    return notary
