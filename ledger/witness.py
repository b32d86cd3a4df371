"""A witness's ``add-checkpoint`` (C2SP tlog-witness), the pure part: read the request and
decide whether to cosign, in the order the specification gives:

1. the body: ``old <size>``, at most 63 base64 proof lines, an empty line, a checkpoint
   (anything else: 400);
2. the checkpoint's origin is a log the witness trusts (404 otherwise);
3. it carries a valid signature by a key trusted for that origin, and no matching line
   that fails to verify (403 otherwise);
4. the old size is at most the checkpoint's size (400 otherwise);
5. the old size is the size of the latest checkpoint cosigned for the origin, or 0 (409,
   with that size, otherwise);
6. a checkpoint of size 0 has the empty tree's root (422 otherwise);
7. from old size 0 the proof is empty; from the same size the roots are equal (and the
   proof empty); otherwise the proof is an RFC 6962 consistency proof from the cosigned
   root to the new one (422 otherwise).

Then the witness persists the checkpoint (compare-and-swap on the old size) and answers
its cosignature; that part needs the database (``ledger.witnesses``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    Note,
    Verifier,
    checkpoint_of_note,
    parse_note,
)
from ledger.merkle import EMPTY_ROOT, HASH_SIZE, verify_consistency

MAX_PROOF_LINES = 63
SIZE_MEDIA_TYPE = "text/x.tlog.size"
_OLD_LINE = re.compile(r"old (0|[1-9][0-9]*)")


class WitnessRefusal(Exception):
    """Why the witness does not cosign: the HTTP status the specification gives, a
    sentence, and for a 409 the size of the latest cosigned checkpoint."""

    def __init__(self, status: int, message: str, size: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.size = size


@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed request: the old size, the consistency proof, and the signed checkpoint."""

    old_size: int
    proof: tuple[bytes, ...]
    note: Note
    checkpoint: Checkpoint


@dataclass(frozen=True)
class Cosigned:
    """What the witness last cosigned for a log (size 0 and the empty root if nothing)."""

    size: int
    root: bytes


def request_body(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """The body a log sends: what ``parse_request`` reads."""
    lines = [f"old {old_size}", *(base64.b64encode(node).decode() for node in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode()


def parse_request(body: bytes) -> AddCheckpoint:
    """Read an add-checkpoint body (WitnessRefusal 400 when it is malformed)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WitnessRefusal(400, "The body is not UTF-8 text.") from None
    head, blank, note_text = text.partition("\n\n")
    if not blank:
        raise WitnessRefusal(400, "The body has no empty line before the checkpoint.")
    old_line, *proof_lines = head.split("\n")
    match = _OLD_LINE.fullmatch(old_line)
    if match is None:
        raise WitnessRefusal(400, "The first line is 'old <size>', in decimal.")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise WitnessRefusal(400, f"A proof has at most {MAX_PROOF_LINES} lines.")
    proof = tuple(_proof_hash(line) for line in proof_lines)
    try:
        note = parse_note(note_text)
        checkpoint = checkpoint_of_note(note)
    except CheckpointError as error:
        raise WitnessRefusal(400, f"The checkpoint is malformed: {error}") from None
    old_size = int(match.group(1))
    if old_size >= 1 << 64:
        raise WitnessRefusal(400, "The old size is out of range.")
    return AddCheckpoint(old_size, proof, note, checkpoint)


def _proof_hash(line: str) -> bytes:
    try:
        node = base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError):
        node = b""
    if len(node) != HASH_SIZE or base64.b64encode(node).decode() != line:
        raise WitnessRefusal(400, "Each proof line is one hash of 32 bytes in base64.")
    return node


def check_add_checkpoint(
    request: AddCheckpoint, trusted: Sequence[Verifier] | None, cosigned: Cosigned
) -> Checkpoint:
    """The checkpoint to cosign, or WitnessRefusal with the status the specification gives.

    ``trusted`` are the keys trusted for the checkpoint's origin (None: an unknown origin);
    ``cosigned`` is what the witness last cosigned for it.
    """
    checkpoint = request.checkpoint
    if trusted is None:
        raise WitnessRefusal(404, f"This witness does not witness the log {checkpoint.origin}.")
    _check_signatures(request.note, trusted, checkpoint.origin)
    old, new = request.old_size, checkpoint.size
    if old > new:
        raise WitnessRefusal(400, f"The old size {old} is larger than the checkpoint's {new}.")
    if old != cosigned.size:
        raise WitnessRefusal(
            409,
            f"The latest checkpoint cosigned for {checkpoint.origin} has size "
            f"{cosigned.size}, not {old}.",
            size=cosigned.size,
        )
    if new == 0 and checkpoint.root != EMPTY_ROOT:
        raise WitnessRefusal(422, "A checkpoint of size 0 has the empty tree's root.")
    if old == 0:
        if request.proof:
            raise WitnessRefusal(422, "From size 0 the consistency proof is empty.")
    elif old == new:
        if checkpoint.root != cosigned.root or request.proof:
            raise WitnessRefusal(
                422, f"Another root for size {new} than the one this witness cosigned."
            )
    elif not verify_consistency(old, new, cosigned.root, checkpoint.root, request.proof):
        raise WitnessRefusal(422, f"The consistency proof from size {old} to {new} fails.")
    return checkpoint


def _check_signatures(note: Note, trusted: Sequence[Verifier], origin: str) -> None:
    text = note.text.encode()
    signed = False
    for verifier in trusted:
        for signature in note.signatures:
            if signature.name == verifier.name and signature.key_id == verifier.key_id:
                if not verifier.verify(text, signature.signature):
                    raise WitnessRefusal(
                        403, f"A signature by the key {verifier.name} does not verify."
                    )
                signed = True
    if not signed:
        raise WitnessRefusal(403, f"The checkpoint has no signature by a key trusted for {origin}.")
