"""Files attached to entries (receipts, proofs of payment): attaching one appends a leaf of
its own to the group's log, naming the entry and the file's SHA-256, type and size; the
money entry never changes. The files themselves live in a ``ledger.files`` store.

Who may read a file is the web shell's to decide (members; everyone when the group
publishes receipts); that a file exists, and its hash, is public like the log.

Erasing a person's data erases the files of their receipts: ``erase_files`` records the
erasure in the request's transaction, and ``forget_erased_files`` removes the files from
the store once that is committed (and again every hour, for any it missed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger import rules
from ledger.canonical import ATTACHMENT, attachment_leaf_document
from ledger.cleaning import CleanFile
from ledger.errors import Conflict, Erased, NotFound
from ledger.files import FileStore, sha256_of
from ledger.groups import utcnow
from ledger.log import Notary, add_leaf
from ledger.models import Attachment, AttachmentErasure, Group
from ledger.service import find_entry, lock_log


@dataclass(frozen=True, slots=True)
class AttachmentView:
    """A file attached to an entry, as the API, the pages and the statement show it."""

    entry: int  # the entry it is attached to
    seq: int  # its own leaf in the log
    sha256: str
    content_type: str
    size: int
    recorded_at: datetime
    erased_at: datetime | None


def attachment_view(attachment: Attachment, erased_at: datetime | None) -> AttachmentView:
    return AttachmentView(
        entry=attachment.entry_seq,
        seq=attachment.seq,
        sha256=attachment.sha256,
        content_type=attachment.content_type,
        size=attachment.size,
        recorded_at=attachment.recorded_at,
        erased_at=erased_at,
    )


async def attach(
    session: AsyncSession,
    group: Group,
    entry_seq: int,
    file: CleanFile,
    *,
    recorded_by: int | None,
    notary: Notary | None = None,
    now: datetime | None = None,
) -> tuple[AttachmentView, bool]:
    """Append the leaf of ``file`` (cleaned: ``ledger.cleaning``) attached to entry
    ``entry_seq``; the caller keeps the file's bytes in its store. Returns the attachment
    and whether it is new: the same file attached to the same entry again is the first
    attachment (no second leaf), unless that file was erased since."""
    now = now or utcnow()
    log = await lock_log(session, group)
    entry = await find_entry(session, group, entry_seq)
    # Files are attached to money entries: not to another file, nor to a decision.
    if entry is None or entry.kind in (ATTACHMENT, rules.DECISION):
        raise NotFound(f"Group {group.slug!r} has no entry {entry_seq} to attach a file to.")
    sha256 = leaf_sha256(file)
    for existing in await attachments_of(session, group, [entry_seq]):
        if existing.sha256 == sha256 and existing.erased_at is None:
            return existing, False
    seq = log.size + 1
    # The rule of the log, as both verifiers apply it to this leaf.
    rules.Books((), first=seq).attach(entry_seq)
    document = attachment_leaf_document(
        group=group.slug,
        seq=seq,
        occurred_on=now.date(),
        recorded_at=now,
        entry=entry_seq,
        sha256=sha256,
        content_type=file.content_type,
        size=len(file.content),
        prev=log.head_hash,
    )
    add_leaf(
        session, group, log, ATTACHMENT, document, recorded_by=recorded_by, notary=notary, now=now
    )
    attachment = Attachment(
        group_id=group.id,
        seq=seq,
        entry_seq=entry_seq,
        sha256=sha256,
        content_type=file.content_type,
        size=len(file.content),
        recorded_by=recorded_by,
        recorded_at=now,
    )
    session.add(attachment)
    await session.flush()
    return attachment_view(attachment, None), True


def leaf_sha256(file: CleanFile) -> str:
    """The hash the log states for a file: of its cleaned bytes, as they are kept."""
    return sha256_of(file.content)


async def attachments_of(
    session: AsyncSession, group: Group, entry_seqs: Sequence[int]
) -> list[AttachmentView]:
    """The files attached to these entries, in log order."""
    if not entry_seqs:
        return []
    rows = await session.execute(
        select(Attachment, AttachmentErasure.erased_at)
        .outerjoin(AttachmentErasure, AttachmentErasure.attachment_id == Attachment.id)
        .where(Attachment.group_id == group.id, Attachment.entry_seq.in_(list(entry_seqs)))
        .order_by(Attachment.seq)
    )
    return [attachment_view(attachment, erased_at) for attachment, erased_at in rows]


async def by_entry(
    session: AsyncSession, group: Group, entry_seqs: Sequence[int]
) -> dict[int, list[AttachmentView]]:
    """``attachments_of``, by the entry they are attached to."""
    found: dict[int, list[AttachmentView]] = {}
    for view in await attachments_of(session, group, entry_seqs):
        found.setdefault(view.entry, []).append(view)
    return found


async def get_attachment(
    session: AsyncSession, group: Group, entry_seq: int, sha256: str
) -> AttachmentView:
    """The file ``sha256`` attached to entry ``entry_seq`` (its latest attachment)."""
    views = [v for v in await attachments_of(session, group, [entry_seq]) if v.sha256 == sha256]
    if not views:
        raise NotFound(f"Entry {entry_seq} of {group.slug!r} has no file {sha256}.")
    return views[-1]


def read_file(store: FileStore, view: AttachmentView) -> bytes:
    """The stored bytes of an attachment; Erased (with the day) when they were erased."""
    if view.erased_at is not None:
        raise Erased(
            f"This file was erased on {view.erased_at.date().isoformat()} with the data of "
            "the person it concerned; its hash stays in the log."
        )
    try:
        return store.get(view.sha256)
    except FileNotFoundError:
        raise Conflict(
            f"The file {view.sha256} is not in this instance's store; restore it from a "
            "backup of the files."
        ) from None


# --- who reads the files ------------------------------------------------------------------


async def publish_receipts(session: AsyncSession, group: Group, published: bool) -> None:
    """Whether everyone may read the group's receipts' files (members always may; that a
    receipt exists, and its hash, is public anyway). The API and the rules page set it."""
    group.publish_receipts = published
    await session.flush()


# --- erasure --------------------------------------------------------------------------------


async def erase_files(
    session: AsyncSession, group: Group, entry_seqs: Sequence[int], now: datetime | None = None
) -> list[str]:
    """Record the erasure of the files attached to these entries (every attachment of the
    same bytes, which are the same person's data): their hashes. The files leave the store
    with ``forget_erased_files`` once this is committed."""
    hashes = {view.sha256 for view in await attachments_of(session, group, entry_seqs)}
    return await erase_hashes(session, hashes, now)


async def erase_hashes(
    session: AsyncSession, hashes: Iterable[str], now: datetime | None = None
) -> list[str]:
    """Record the erasure of every attachment of these files (a person's data, wherever it
    was attached); their hashes, sorted. Leaves and hashes stay."""
    now = now or utcnow()
    hashes = set(hashes)
    if not hashes:
        return []
    pending = await session.scalars(
        select(Attachment.id).where(
            Attachment.sha256.in_(sorted(hashes)),
            ~exists().where(AttachmentErasure.attachment_id == Attachment.id),
        )
    )
    for attachment_id in list(pending):
        session.add(AttachmentErasure(attachment_id=attachment_id, erased_at=now))
    await session.flush()
    return sorted(hashes)


def _erasure() -> Select[int]:
    """The erasure of the attachment of the query it is used in (correlated)."""
    return select(AttachmentErasure.attachment_id).where(
        AttachmentErasure.attachment_id == Attachment.id
    )


def kept_hashes() -> Select[str]:
    """The files some attachment still keeps (not erased): a subquery for whoever else
    decides whether a file may leave the store."""
    return select(Attachment.sha256).where(~exists(_erasure()))


async def erased_hashes(session: AsyncSession) -> list[str]:
    """The files whose every attachment was erased: none of them may stay in the store."""
    rows = await session.scalars(
        select(Attachment.sha256)
        .where(exists(_erasure()), Attachment.sha256.not_in(kept_hashes()))
        .distinct()
    )
    return sorted(rows)


async def forget_erased_files(session: AsyncSession, store: FileStore) -> int:
    """Remove from the store every file that was erased; how many were still there."""
    return sum(store.delete(sha256) for sha256 in await erased_hashes(session))
