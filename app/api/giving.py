"""How to give to a group, and the donors it thanks by name.

Reading is public for a public group (a donor needs no account); a private group's answers
404 to everyone but its members. Its admins write how to give; its stewards, who record the
donations, thank a donor by name when the donor asked to be.
"""

from __future__ import annotations

from litestar import Controller, delete, get, put
from litestar.di import Provide
from litestar.params import JSONBody

from app.auth import provide_caller
from app.deps import CurrentCaller, DbSession, Id
from app.guards import public_or_member, requires
from ledger import giving
from ledger.schemas import GivingIn, GivingOut, ThanksIn, ThanksOut


class GivingController(Controller):
    path = "/api/groups/{group:str}"
    tags = ["Giving"]
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @get(
        "/giving",
        guards=[public_or_member],
        summary="How to give: the group's words, bank details, payment QR text, and its donors",
        description=(
            "`epc_qr` is the text of the SEPA payment QR code (EPC069-12 version 002, UTF-8) "
            "for a euro group with an IBAN of the SEPA area, otherwise null. `donors` counts "
            "and sums the donations (reversed ones left out) and names only the donors who "
            "asked to be thanked by name."
        ),
    )
    async def get_giving(self, db_session: DbSession, caller: CurrentCaller) -> GivingOut:
        group = caller.group
        found = await giving.donors(db_session, group)
        return giving.giving_out(group, await giving.get_giving(db_session, group), found)

    @put(
        "/giving",
        guards=[requires("admin")],
        summary="Say how to give (admin): words in Markdown and bank details (IBAN checked)",
        description=(
            "Replaces the whole: a field left out is cleared. A bad IBAN (country, length or "
            "check digits) or BIC is a 422 naming the field."
        ),
    )
    async def put_giving(
        self, db_session: DbSession, caller: CurrentCaller, data: JSONBody[GivingIn]
    ) -> GivingOut:
        group = caller.group
        saved = await giving.set_giving(db_session, group, data, user_id=caller.user_id)
        return giving.giving_out(group, saved, await giving.donors(db_session, group))

    @put(
        "/entries/{seq:int}/thanks",
        guards=[requires("steward")],
        summary="Thank a donation's donor by name (steward), only when they asked to be",
        description=(
            "The name is shown on the group's public pages, never in the log; "
            "DELETE erases it and the donation counts among the anonymous ones again."
        ),
    )
    async def thank(
        self, db_session: DbSession, caller: CurrentCaller, seq: Id, data: JSONBody[ThanksIn]
    ) -> ThanksOut:
        row = await giving.thank_donor(
            db_session, caller.group, seq, data.name, user_id=caller.user_id
        )
        return giving.thanks_out(row)

    @delete(
        "/entries/{seq:int}/thanks",
        guards=[requires("steward")],
        summary="Erase the name a donation's donor is thanked by (steward)",
    )
    async def forget(self, db_session: DbSession, caller: CurrentCaller, seq: Id) -> None:
        await giving.forget_donor(db_session, caller.group, seq)
