"""A group's log as C2SP ``tlog-tiles`` under ``/g/{group}/log/``: its checkpoint, hash tiles
and entry bundles, for clients that check the log with no API of ours.

Full tiles never change, so they are cached for a year (``immutable``); the checkpoint and
partial tiles move on as the log grows, so they are cached for seconds. A private group's
answers go to its members only, so no shared cache may keep them.
"""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import Provide
from litestar.exceptions import NotFoundException, ServiceUnavailableException
from litestar.params import FromPath

from app.auth import Caller, provide_caller
from app.deps import CurrentCaller, DbSession
from app.guards import public_or_member
from app.web.security import COOKIE_FREE
from ledger import log
from ledger.tiles import TileError, parse_tile_path

TEXT = "text/plain"
OCTETS = "application/octet-stream"
CHECKPOINT_SECONDS = 5
PARTIAL_SECONDS = 60
FULL_SECONDS = 365 * 24 * 3600


def _cache(caller: Caller, seconds: int, *, immutable: bool = False) -> dict[str, str]:
    scope = "public" if caller.group.public else "private"
    return {"Cache-Control": f"{scope}, max-age={seconds}" + (", immutable" if immutable else "")}


class TileController(Controller):
    """The log of a group as static resources (``commonpurse tiles`` writes the same files)."""

    path = "/g/{group:str}/log"
    tags = ["Log"]
    # Static resources: no CSRF cookie, which would also keep caches from sharing them.
    opt = {COOKIE_FREE: True}
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @get(
        "/checkpoint",
        guards=[public_or_member],
        media_type=TEXT,
        summary="The latest checkpoint, as C2SP tlog-tiles serves it",
        # The first checkpoint follows the first entry within the signing interval.
        raises=[ServiceUnavailableException],
        description="The same signed note as `GET /api/groups/{group}/checkpoint`, with the "
        "cosignatures of the group's witnesses once they answered; cached for seconds.",
    )
    async def checkpoint(self, db_session: DbSession, caller: CurrentCaller) -> Response[str]:
        note = await log.published_checkpoint(db_session, caller.group)
        return Response(note, media_type=TEXT, headers=_cache(caller, CHECKPOINT_SECONDS))

    @get(
        "/tile/{tile:path}",
        guards=[public_or_member],
        media_type=OCTETS,
        summary="A hash tile or an entry bundle (C2SP tlog-tiles)",
        description="`tile/<L>/<N>[.p/<W>]`: 256 hashes (32 bytes each) of level L of the "
        "Merkle tree, or the first W of them; `tile/entries/<N>[.p/<W>]`: the leaves of level-0 "
        "tile N exactly as hashed, each behind a big-endian uint16 length. N is written "
        "`x001/x234/067`. Full tiles never change and are cached for a year.",
    )
    async def tile(
        self, db_session: DbSession, caller: CurrentCaller, tile: FromPath[str]
    ) -> Response[bytes]:
        try:
            wanted = parse_tile_path("tile/" + tile.lstrip("/"))
        except TileError as error:
            raise NotFoundException(str(error)) from None
        content = await log.read_tile(db_session, caller.group, wanted)
        if wanted.full:
            headers = _cache(caller, FULL_SECONDS, immutable=True)
        else:
            headers = _cache(caller, PARTIAL_SECONDS)
        return Response(content, media_type=OCTETS, headers=headers)
