"""add-checkpoint's rules (C2SP tlog-witness), in the specification's order, without HTTP."""

from __future__ import annotations

import base64

import pytest

from ledger.checkpoint import SigningKey
from ledger.merkle import EMPTY_ROOT, consistency_proof, leaf_hash, root_from_leaf_hashes
from ledger.witness import (
    MAX_PROOF_LINES,
    Cosigned,
    WitnessRefusal,
    check_add_checkpoint,
    parse_request,
    request_body,
)

ORIGIN = "log.example/g/rent"
LOG = SigningKey.generate(ORIGIN)
HASHES = [leaf_hash(str(i).encode()) for i in range(20)]


def root(size: int) -> bytes:
    return root_from_leaf_hashes(HASHES[:size])


def body(old: int, new: int, *, key: SigningKey = LOG, proof: list[bytes] | None = None) -> bytes:
    if proof is None:
        proof = consistency_proof(old, new, HASHES.__getitem__)
    return request_body(old, proof, key.sign_checkpoint(ORIGIN, new, root(new)))


def status(raw: bytes, cosigned: Cosigned, trusted: bool = True) -> int:
    try:
        check_add_checkpoint(parse_request(raw), [LOG.verifier] if trusted else None, cosigned)
    except WitnessRefusal as refusal:
        return refusal.status
    return 200


NOTHING = Cosigned(0, EMPTY_ROOT)


def test_a_first_checkpoint_and_a_consistent_next_one_are_cosigned() -> None:
    assert status(body(0, 5), NOTHING) == 200
    assert status(body(5, 12), Cosigned(5, root(5))) == 200
    assert status(body(12, 12), Cosigned(12, root(12))) == 200
    assert status(request_body(0, [], LOG.sign_checkpoint(ORIGIN, 0, EMPTY_ROOT)), NOTHING) == 200


def test_the_body_round_trips() -> None:
    parsed = parse_request(body(5, 12))
    assert parsed.old_size == 5
    assert list(parsed.proof) == consistency_proof(5, 12, HASHES.__getitem__)
    assert (parsed.checkpoint.origin, parsed.checkpoint.size) == (ORIGIN, 12)


@pytest.mark.parametrize(
    "raw",
    [
        b"old 0\n" + LOG.sign_checkpoint(ORIGIN, 1, root(1)).encode(),  # no empty line
        b"old 01\n\n" + LOG.sign_checkpoint(ORIGIN, 1, root(1)).encode(),
        b"old -1\n\n" + LOG.sign_checkpoint(ORIGIN, 1, root(1)).encode(),
        b"new 0\n\n" + LOG.sign_checkpoint(ORIGIN, 1, root(1)).encode(),
        b"old 0\nnot-a-hash\n\n" + LOG.sign_checkpoint(ORIGIN, 1, root(1)).encode(),
        b"old 0\n\n" + ORIGIN.encode() + b"\n1\n",  # no signatures
        b"\xff",
    ],
)
def test_a_malformed_body_is_a_400(raw: bytes) -> None:
    assert status(raw, NOTHING) == 400


def test_more_than_63_proof_lines_is_a_400() -> None:
    assert (
        status(body(1, 2, proof=[HASHES[0]] * (MAX_PROOF_LINES + 1)), Cosigned(1, root(1))) == 400
    )


def test_an_unknown_origin_is_a_404() -> None:
    assert status(body(0, 5), NOTHING, trusted=False) == 404


def test_no_trusted_signature_or_a_failing_one_is_a_403() -> None:
    assert status(body(0, 5, key=SigningKey.generate(ORIGIN)), NOTHING) == 403
    # The trusted key's name and ID, with a signature that does not verify.
    note = LOG.sign_checkpoint(ORIGIN, 5, root(5))
    head, signature = note.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(signature))
    raw[-1] ^= 1
    forged = f"{head} {base64.b64encode(bytes(raw)).decode()}\n"
    assert status(request_body(0, [], forged), NOTHING) == 403
    # ... even next to a valid one.
    both = note + forged.rsplit("\n\n", 1)[1]
    assert status(request_body(0, [], both), NOTHING) == 403


def test_an_old_size_above_the_checkpoints_is_a_400() -> None:
    raw = request_body(6, [], LOG.sign_checkpoint(ORIGIN, 5, root(5)))
    assert status(raw, Cosigned(6, root(6))) == 400


def test_a_stale_old_size_is_a_409_naming_the_cosigned_size() -> None:
    with pytest.raises(WitnessRefusal) as refused:
        check_add_checkpoint(parse_request(body(3, 12)), [LOG.verifier], Cosigned(5, root(5)))
    assert (refused.value.status, refused.value.size) == (409, 5)


def test_inconsistent_checkpoints_are_a_422() -> None:
    # The same size with another root (C2SP: 422, not 409).
    other = request_body(5, [], LOG.sign_checkpoint(ORIGIN, 5, root(6)))
    assert status(other, Cosigned(5, root(5))) == 422
    # A proof that does not lead from the cosigned root.
    assert status(body(5, 12), Cosigned(5, root(4))) == 422
    assert status(body(5, 12, proof=[HASHES[1]]), Cosigned(5, root(5))) == 422
    # From 0, the proof is empty; a tree of size 0 has the empty root.
    assert status(body(0, 5, proof=[HASHES[1]]), NOTHING) == 422
    empty = request_body(0, [], LOG.sign_checkpoint(ORIGIN, 0, root(3)))
    assert status(empty, NOTHING) == 422
