"""Witnessing, with the database: this instance as a witness of other logs (C2SP
tlog-witness), which logs it trusts and the latest checkpoint it cosigned for each.

The rules of ``add-checkpoint`` are in ``ledger.witness``; here the state is read, the
decision applied, and the new state written by compare-and-swap before the answer leaves.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.checkpoint import CheckpointError, Verifier
from ledger.cosignature import CosigningKey
from ledger.errors import InvalidInput
from ledger.merkle import EMPTY_ROOT
from ledger.models import WitnessedLog
from ledger.witness import Cosigned, WitnessRefusal, check_add_checkpoint, parse_request


def _keys(text: str) -> list[Verifier]:
    return [Verifier.from_vkey(line) for line in text.splitlines() if line.strip()]


async def trust(
    session: AsyncSession, origin: str, vkeys: list[str], now: datetime
) -> WitnessedLog:
    """Witness the log ``origin``, trusting its checkpoints signed by any of ``vkeys``.

    Trusting a log again replaces its keys and keeps what was cosigned: a log that changes
    its key is still the same log, and must still only grow."""
    if not origin or any(c.isspace() for c in origin) or len(origin) > 255:
        raise InvalidInput(
            "An origin is the checkpoint's first line, without spaces.", field="origin"
        )
    try:
        verifiers = [Verifier.from_vkey(vkey) for vkey in vkeys]
    except CheckpointError as error:
        raise InvalidInput(f"Not a log's verifier key: {error}", field="vkey") from None
    if not verifiers:
        raise InvalidInput("Give at least one verifier key of the log.", field="vkey")
    keys = "\n".join(verifier.vkey() for verifier in verifiers)
    log = await session.get(WitnessedLog, origin)
    if log is None:
        log = WitnessedLog(
            origin=origin,
            verifier_keys=keys,
            size=0,
            root_hash=EMPTY_ROOT.hex(),
            note=None,
            trusted_at=now,
        )
        session.add(log)
    else:
        log.verifier_keys = keys
    await session.flush()
    return log


async def witnessed_logs(session: AsyncSession) -> list[WitnessedLog]:
    return list(await session.scalars(select(WitnessedLog).order_by(WitnessedLog.origin)))


async def latest_cosigned(session: AsyncSession, origin: str) -> WitnessedLog | None:
    return await session.get(WitnessedLog, origin)


async def add_checkpoint(
    session: AsyncSession, key: CosigningKey, body: bytes, now: datetime
) -> str:
    """The cosignature line for the checkpoint in ``body``, once the new state is written
    (the caller commits before answering); WitnessRefusal with the status otherwise."""
    request = parse_request(body)
    origin = request.checkpoint.origin
    log = await session.get(WitnessedLog, origin)
    trusted = _keys(log.verifier_keys) if log is not None else None
    cosigned = (
        Cosigned(log.size, bytes.fromhex(log.root_hash))
        if log is not None
        else Cosigned(0, EMPTY_ROOT)
    )
    checkpoint = check_add_checkpoint(request, trusted, cosigned)
    cosignature = key.cosign(request.note.text, int(now.timestamp())).line()
    kept = (
        request.note.text
        + "\n"
        + "".join(
            signature.line() for signature in request.note.signatures if signature.name != key.name
        )
    )
    swapped = await session.execute(
        update(WitnessedLog)
        .where(
            WitnessedLog.origin == origin,
            WitnessedLog.size == cosigned.size,
            WitnessedLog.root_hash == cosigned.root.hex(),
        )
        .values(
            size=checkpoint.size,
            root_hash=checkpoint.root.hex(),
            note=kept + cosignature,
            cosigned_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if swapped.rowcount != 1:  # type: ignore[attr-defined]
        # Another request moved the log on since it was read: this one is now stale.
        size = await session.scalar(select(WitnessedLog.size).where(WitnessedLog.origin == origin))
        raise WitnessRefusal(
            409, f"The latest checkpoint cosigned for {origin} has size {size}.", size=size
        )
    return cosignature
