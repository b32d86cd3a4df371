"""Names of the dependencies handlers receive (explicit, as Litestar 3 requires)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Caller
from app.settings import Settings
from ledger.log import Notary
from ledger.models import User
from ledger.schemas import MAX_ID, MAX_PROPOSAL

# A path or query number that names a row: positive and within the database's 64 bits.
Id = Annotated[int, Parameter(ge=1, le=MAX_ID)]
# A proposal's number in a path: 32 bits, as its columns.
ProposalNumber = Annotated[int, Parameter(ge=1, le=MAX_PROPOSAL)]
DbSession = NamedDependency[AsyncSession]
CurrentCaller = NamedDependency[Caller]
CurrentUser = NamedDependency[User]
CurrentNotary = NamedDependency[Notary]


def provide_notary(state: State) -> Notary:
    notary: Notary = state.notary
    return notary


def settings_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Settings:
    """The running app's settings, as a request or a guard sees them."""
    settings: Settings = connection.app.state.settings
    return settings
