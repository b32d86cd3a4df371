"""Background work: the groups' logs ask their witnesses to cosign (C2SP tlog-witness).

Every ``COMMONPURSE_WITNESS_INTERVAL`` seconds (default 5), each witness whose log has a
checkpoint it has not cosigned gets one request: the newest checkpoint with a consistency
proof from the size it last cosigned. So a witness sees at most one round every interval,
however fast entries come, and an append never waits for any witness. A 409 names the size
the witness has: the request is sent again once, from there. The cosignature is checked
with the witness's key and kept; a witness that does not answer, or answers something else,
is recorded as such (shown on the group's page) and asked again later, less and less often.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import unit_of_work
from ledger import witnesses
from ledger.checkpoint import CheckpointError, parse_note
from ledger.cosignature import Cosignature, CosignatureVerifier
from ledger.groups import utcnow
from ledger.models import Checkpoint, GroupWitness
from ledger.witness import SIZE_MEDIA_TYPE
from ledger.witnesses import WitnessRequest

logger = logging.getLogger("commonpurse.witnessing")
DEFAULT_INTERVAL = 5.0
TIMEOUT_SECONDS = 10.0
MAX_BACKOFF = timedelta(minutes=10)


@dataclass(frozen=True)
class Answer:
    """What one round with one witness came to: a cosignature, or why not."""

    request: WitnessRequest
    cosignature: Cosignature | None = None
    error: str | None = None
    witness_size: int | None = None  # the size a 409 named


def interval_of(extra: dict[str, str]) -> float:
    text = extra.get("WITNESS_INTERVAL", "")
    try:
        return max(0.05, float(text)) if text else DEFAULT_INTERVAL
    except ValueError:
        return DEFAULT_INTERVAL


def ready_at(now: datetime, interval: float) -> Callable[[GroupWitness], bool]:
    """Whether a witness may be asked now: at once unless its last rounds failed, then
    after a wait that doubles with each failure (up to ten minutes)."""

    def ready(witness: GroupWitness) -> bool:
        if not witness.failures or witness.last_attempt_at is None:
            return True
        wait = min(timedelta(seconds=interval * 2**witness.failures), MAX_BACKOFF)
        return witness.last_attempt_at + wait <= now

    return ready


def _size(text: str) -> int | None:
    """The tree size a witness's 409 names (ASCII decimal), if it is one this log's records
    can hold (64-bit signed); a witness's other answers are its own mistake, not ours."""
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    size = int(text)
    return size if size < 2**63 else None


async def ask(client: httpx.AsyncClient, request: WitnessRequest) -> Answer:
    """Send one add-checkpoint request and check the answer's cosignature."""
    try:
        response = await client.post(
            request.url + "/add-checkpoint", content=request.body, timeout=TIMEOUT_SECONDS
        )
    except httpx.HTTPError as error:
        return Answer(request, error=f"no answer ({type(error).__name__})")
    if response.status_code == 409:
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        text = response.text
        size = _size(text[:-1]) if media_type == SIZE_MEDIA_TYPE and text.endswith("\n") else None
        if size is not None:
            return Answer(request, error="409", witness_size=size)
        return Answer(request, error="409 without the size it has")
    if response.status_code != 200:
        return Answer(request, error=f"refused: {response.status_code} {response.text[:200]}")
    try:
        verifier = CosignatureVerifier.from_vkey(request.vkey)
        cosignature = verifier.find(parse_note(request.note + response.text))
    except CheckpointError as error:
        return Answer(request, error=f"an answer that is not a cosignature: {error}")
    if cosignature is None:
        return Answer(request, error="an answer without a valid cosignature by its key")
    return Answer(request, cosignature=cosignature)


async def ask_again_from(
    session_maker: async_sessionmaker[AsyncSession],
    answer: Answer,
    known: witnesses.KnownRanges | None = None,
) -> WitnessRequest | None:
    """The request again, from the size a 409 named (None when no proof can lead from
    there: the witness has a larger tree than this log, which is never normal)."""
    request, size = answer.request, answer.witness_size
    if size is None or size > request.size:
        return None
    async with unit_of_work(session_maker, writes=False) as session:
        witness = await session.get(GroupWitness, request.witness_id)
        checkpoint = await session.get(Checkpoint, (request.group_id, request.size))
        if witness is None or checkpoint is None:
            return None
        return await witnesses.request_for(session, witness, checkpoint, size, known)


async def witness_round(
    session_maker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    interval: float = DEFAULT_INTERVAL,
    known: witnesses.KnownRanges | None = None,
) -> list[Answer]:
    """One round: every due witness asked once (concurrently), the answers recorded.
    ``known``: the logs' compact ranges kept from earlier rounds (see ``KnownRanges``)."""
    now = utcnow()
    async with unit_of_work(session_maker, writes=False) as session:
        due = await witnesses.requests_due(session, ready_at(now, interval), known)
    if not due:
        return []
    # Several server processes each run this loop: one of them takes each witness's round.
    since = now - timedelta(seconds=interval * 0.9)
    async with unit_of_work(session_maker) as session:
        due = [r for r in due if await witnesses.claim_round(session, r.witness_id, now, since)]

    async def one(request: WitnessRequest) -> Answer:
        answer = await ask(client, request)
        if answer.witness_size is not None:
            again = await ask_again_from(session_maker, answer, known)
            if again is None:
                return Answer(
                    request,
                    error=f"it has cosigned size {answer.witness_size}, more than this log's "
                    f"{request.size}",
                    witness_size=answer.witness_size,
                )
            answer = await ask(client, again)
        return answer

    answers = await asyncio.gather(*(one(request) for request in due))
    async with unit_of_work(session_maker) as session:
        for answer in answers:
            if answer.cosignature is not None:
                await witnesses.record_cosignature(session, answer.request, answer.cosignature, now)
            else:
                await witnesses.record_failure(
                    session,
                    answer.request.witness_id,
                    answer.error or "no cosignature",
                    now,
                    size=answer.witness_size,
                )
    for answer in answers:
        if answer.error:
            logger.warning("Witness round for log %s: %s", answer.request.group_id, answer.error)
    return list(answers)


@asynccontextmanager
async def witnessing_loop(app: Litestar) -> AsyncIterator[None]:
    """Lifespan: ask the groups' witnesses, a round every interval, while the server runs."""
    session_maker = app.state.alchemy_config.create_session_maker()
    interval = interval_of(app.state.settings.extra)

    async def loop() -> None:
        known = witnesses.KnownRanges()
        async with httpx.AsyncClient() as client:
            while True:
                await asyncio.sleep(interval)
                try:
                    await witness_round(session_maker, client, interval, known)
                except Exception:  # keep the loop alive; the next round tries again
                    logger.exception("A witness round failed")

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
