"""Witnessing, with the database, both ways:

- this instance as a witness of other logs (C2SP tlog-witness): which logs it trusts and
  the latest checkpoint it cosigned for each. The rules of ``add-checkpoint`` are in
  ``ledger.witness``; here the state is read, the decision applied, and the new state
  written by compare-and-swap before the answer leaves;
- a group's log and the witnesses it asks: who they are, the requests due (the newest
  checkpoint, with a proof from the size each last cosigned), and the cosignatures kept.
  Sending the requests is the server's background work (``app.witnessing``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.checkpoint import CheckpointError, Verifier
from ledger.cosignature import Cosignature as CosignatureLine
from ledger.cosignature import CosignatureVerifier, CosigningKey
from ledger.errors import AlreadyExists, InvalidInput
from ledger.merkle import EMPTY_ROOT, CompactRange, consistency_proof_from
from ledger.models import Checkpoint, Cosignature, Entry, Group, GroupWitness, WitnessedLog
from ledger.tiles import TileReader
from ledger.tree import tree_reader
from ledger.witness import (
    Cosigned,
    WitnessRefusal,
    check_add_checkpoint,
    parse_request,
    request_body,
)


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


# -- a group's log and the witnesses it asks ---------------------------------------------------


@dataclass(frozen=True)
class WitnessRequest:
    """One add-checkpoint request to send: to whom, what, and from which size."""

    witness_id: int
    group_id: int
    url: str
    vkey: str
    size: int
    note: str
    old_size: int
    body: bytes


async def add_witness(
    session: AsyncSession, group: Group, url: str, vkey: str, now: datetime
) -> GroupWitness:
    """Have the group's log ask the witness at ``url`` (its submission prefix) whose key is
    ``vkey``; AlreadyExists when the group has a witness of that name."""
    url = url.strip().rstrip("/")
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or len(url) > 500:
        raise InvalidInput("A witness's URL is http(s)://host[/prefix].", field="url")
    try:
        verifier = CosignatureVerifier.from_vkey(vkey)
    except CheckpointError as error:
        raise InvalidInput(f"Not a witness's verifier key: {error}", field="vkey") from None
    existing = await session.scalar(
        select(GroupWitness.id).where(
            GroupWitness.group_id == group.id, GroupWitness.name == verifier.name
        )
    )
    if existing is not None:
        raise AlreadyExists(
            f"The log of {group.slug!r} already asks a witness named {verifier.name}.",
            field="vkey",
        )
    witness = GroupWitness(
        group_id=group.id,
        name=verifier.name,
        url=url,
        vkey=vkey.strip(),
        added_at=now,
        cosigned_size=0,
        failures=0,
    )
    session.add(witness)
    await session.flush()
    return witness


async def group_witnesses(session: AsyncSession, group: Group) -> list[GroupWitness]:
    return list(
        await session.scalars(
            select(GroupWitness).where(GroupWitness.group_id == group.id).order_by(GroupWitness.id)
        )
    )


async def cosignatures_of(session: AsyncSession, group_id: int, size: int) -> list[Cosignature]:
    """The cosignatures kept for the group's checkpoint of ``size`` leaves."""
    return list(
        await session.scalars(
            select(Cosignature)
            .where(Cosignature.group_id == group_id, Cosignature.size == size)
            .order_by(Cosignature.witness_id)
        )
    )


async def requests_due(
    session: AsyncSession,
    ready: Callable[[GroupWitness], bool] = lambda _: True,
    known: KnownRanges | None = None,
) -> list[WitnessRequest]:
    """Every witness that has not cosigned its log's latest checkpoint yet, and is ``ready``
    to be asked again, with the request to send it."""
    latest = (
        select(Checkpoint.group_id, func.max(Checkpoint.size).label("size"))
        .group_by(Checkpoint.group_id)
        .subquery()
    )
    rows = await session.execute(
        select(GroupWitness, Checkpoint)
        .join(latest, latest.c.group_id == GroupWitness.group_id)
        .join(
            Checkpoint,
            (Checkpoint.group_id == latest.c.group_id) & (Checkpoint.size == latest.c.size),
        )
        .where(
            ~exists().where(
                Cosignature.group_id == GroupWitness.group_id,
                Cosignature.witness_id == GroupWitness.id,
                Cosignature.size == latest.c.size,
            )
        )
        .order_by(GroupWitness.id)
    )
    return [
        await request_for(
            session, witness, checkpoint, min(witness.cosigned_size, checkpoint.size), known
        )
        for witness, checkpoint in rows.tuples()
        if ready(witness)
    ]


class KnownRanges:
    """The compact ranges of logs at the sizes this process last proved to their witnesses.

    A witness is asked with a proof from the size it last cosigned, which is the size of a
    checkpoint this process sent it before: with that size's compact range kept, the proof
    needs only the leaves appended since (``consistency_proof_from``), not a read of the
    whole log every round. Without a range kept here (after a restart, or a round another
    server process took), the proof and the new range come from the log's tiles."""

    def __init__(self, per_log: int = 8) -> None:
        self.per_log = per_log
        self._ranges: dict[int, dict[int, CompactRange]] = {}

    def get(self, group_id: int, size: int) -> CompactRange | None:
        return self._ranges.get(group_id, {}).get(size)

    def keep(self, group_id: int, compact: CompactRange) -> None:
        sizes = self._ranges.setdefault(group_id, {})
        sizes[compact.size] = compact
        if len(sizes) > self.per_log:
            del sizes[min(sizes)]


async def request_for(
    session: AsyncSession,
    witness: GroupWitness,
    checkpoint: Checkpoint,
    old_size: int,
    known: KnownRanges | None = None,
) -> WitnessRequest:
    """The request asking ``witness`` to cosign ``checkpoint``, with a proof from
    ``old_size`` (what the witness last cosigned); ValueError when that size is larger.
    With ``known``, the proof is made from the range kept for ``old_size`` when there is
    one, and the checkpoint's range is kept for the next round."""
    if not 0 <= old_size <= checkpoint.size:
        raise ValueError(f"no consistency proof from size {old_size} to {checkpoint.size}")
    proof: list[bytes] = []
    if 0 < old_size < checkpoint.size:
        old = known.get(checkpoint.group_id, old_size) if known is not None else None
        if old is None:
            # Nothing kept for that size: the proof and the new range from the log's tiles.
            def proved(reader: TileReader) -> tuple[list[bytes], CompactRange]:
                return reader.consistency_proof(old_size), reader.compact_range()

            tree = await tree_reader(session, checkpoint.group_id, checkpoint.size, proved)
            proof, grown = proved(tree)
        else:
            hashes = await session.scalars(
                select(Entry.hash)
                .where(
                    Entry.group_id == checkpoint.group_id,
                    Entry.seq > old_size,
                    Entry.seq <= checkpoint.size,
                )
                .order_by(Entry.seq)
            )
            leaf_hashes = [bytes.fromhex(h) for h in hashes]
            proof = consistency_proof_from(
                old, checkpoint.size, lambda index: leaf_hashes[index - old_size]
            )
            grown = old.extend(leaf_hashes)
        if known is not None and grown.root().hex() == checkpoint.root_hash:
            known.keep(checkpoint.group_id, grown)
    return WitnessRequest(
        witness_id=witness.id,
        group_id=checkpoint.group_id,
        url=witness.url,
        vkey=witness.vkey,
        size=checkpoint.size,
        note=checkpoint.note,
        old_size=old_size,
        body=request_body(old_size, proof, checkpoint.note),
    )


async def record_cosignature(
    session: AsyncSession, request: WitnessRequest, cosignature: CosignatureLine, now: datetime
) -> None:
    """Keep a witness's cosignature of the checkpoint it was asked about."""
    witness = await session.get(GroupWitness, request.witness_id)
    if witness is None:
        return
    witness.cosigned_size = max(witness.cosigned_size, request.size)
    witness.cosigned_at = datetime.fromtimestamp(cosignature.timestamp, UTC)
    witness.last_attempt_at = now
    witness.last_error = None
    witness.failures = 0
    exists_already = await session.get(
        Cosignature, (request.group_id, request.size, request.witness_id)
    )
    if exists_already is None:
        session.add(
            Cosignature(
                group_id=request.group_id,
                size=request.size,
                witness_id=request.witness_id,
                line=cosignature.line,
                cosigned_at=datetime.fromtimestamp(cosignature.timestamp, UTC),
            )
        )
    await session.flush()


async def record_failure(
    session: AsyncSession, witness_id: int, error: str, now: datetime, *, size: int | None = None
) -> None:
    """A round that got no cosignature: why, and the size the witness named (a 409)."""
    witness = await session.get(GroupWitness, witness_id)
    if witness is None:
        return
    witness.last_attempt_at = now
    witness.last_error = error[:1000]
    witness.failures += 1
    if size is not None:
        witness.cosigned_size = size
    await session.flush()


async def claim_round(
    session: AsyncSession, witness_id: int, now: datetime, since: datetime
) -> bool:
    """Take this round with the witness, unless another server process took one after
    ``since``: a conditional update, so each witness gets one round per interval however
    many workers run."""
    claimed = await session.execute(
        update(GroupWitness)
        .where(
            GroupWitness.id == witness_id,
            (GroupWitness.last_attempt_at.is_(None)) | (GroupWitness.last_attempt_at <= since),
        )
        .values(last_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]
