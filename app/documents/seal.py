"""The integrity seal every document carries: the latest signed checkpoint of the group's log,
with the cosignatures of the witnesses that vouched for it.

The note is printed verbatim (and as a QR code) with its root hash in hex, and attached as a
file, so a reader can check the signature with the instance's published key and compare the
root with one they compute themselves from the exported leaves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from app.documents.pdf import PdfAttachment, qr_svg
from ledger import log, witnesses
from ledger.checkpoint import parse_checkpoint
from ledger.errors import NotFound
from ledger.models import Group

CHECKPOINT_FILE = "checkpoint.txt"
KEY_PATH = "/.well-known/commonpurse-key"
NOTE_WIDTH_PT = 495.0
"""Width of the note's box inside the page margins, less its padding and border."""
MONO_ADVANCE_EM = 0.602
"""Advance of a DejaVu Sans Mono character, in em."""


@dataclass(frozen=True, slots=True)
class Links:
    """Where an outsider fetches what they check a document against."""

    base_url: str
    group: str

    @property
    def key(self) -> str:
        return f"{self.base_url}{KEY_PATH}"

    @property
    def checkpoint(self) -> str:
        return f"{self.base_url}/api/groups/{self.group}/checkpoint"

    @property
    def leaves(self) -> str:
        return f"{self.base_url}/api/groups/{self.group}/export.jsonl"

    @property
    def bundle(self) -> str:
        return f"{self.base_url}/api/groups/{self.group}/export.zip"

    def proof(self, seq: int, size: int) -> str:
        return f"{self.base_url}/api/groups/{self.group}/entries/{seq}/proof?size={size}"


@dataclass(frozen=True, slots=True)
class Seal:
    """A signed checkpoint, ready to print."""

    note: str
    origin: str
    size: int
    root_hex: str
    root_base64: str
    signers: tuple[str, ...]
    signed_at: datetime
    qr: Markup
    # The witnesses that cosigned this checkpoint, each with when: "name (time UTC)".
    witnesses: tuple[str, ...] = ()

    @property
    def note_font_pt(self) -> float:
        """A font size that prints the note's longest line (its signature) on one line, so
        the note reads, and copies, verbatim (7.5 pt, smaller only for long host names)."""
        longest = max(len(line) for line in self.note.splitlines())
        size = NOTE_WIDTH_PT / (MONO_ADVANCE_EM * max(longest, 1))
        return max(5.0, min(7.5, int(size * 10) / 10))

    def attachment(self) -> PdfAttachment:
        return PdfAttachment(
            name=CHECKPOINT_FILE,
            content=self.note.encode("utf-8"),
            description=(
                f"Signed checkpoint of the log of {self.origin} at {self.size} entries "
                "(C2SP tlog-checkpoint signed note)"
            ),
            relationship="Supplement",
        )


async def latest_seal(session: AsyncSession, group: Group) -> Seal | None:
    """The seal of the group's latest checkpoint; None while the log is empty."""
    try:
        checkpoint = await log.latest_checkpoint(session, group)
    except NotFound:
        return None
    parsed = parse_checkpoint(checkpoint.note)
    names = {w.id: w.name for w in await witnesses.group_witnesses(session, group)}
    cosignatures = await witnesses.cosignatures_of(session, group.id, checkpoint.size)
    note = checkpoint.note + "".join(c.line for c in cosignatures)
    return Seal(
        note=note,
        origin=parsed.origin,
        size=parsed.size,
        root_hex=parsed.root.hex(),
        root_base64=log.root_base64(parsed.root.hex()),
        signers=tuple(f"{s.name}+{s.key_id:08x}" for s in parsed.signatures),
        signed_at=checkpoint.signed_at,
        qr=qr_svg(note),
        witnesses=tuple(
            f"{names.get(c.witness_id, '?')} ({c.cosigned_at:%Y-%m-%d %H:%M:%S} UTC)"
            for c in cosignatures
        ),
    )
