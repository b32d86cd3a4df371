"""C2SP tlog-cosignature (Ed25519, cosignature/v1): key IDs, vkeys, lines, and vectors from
the specification and from Go's transparency-dev/formats."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from ledger.checkpoint import CheckpointError, SigningKey, parse_note, verify_note
from ledger.cosignature import (
    CosignatureVerifier,
    CosigningKey,
    cosignature_key_id,
    count_cosigners,
    signed_message,
)

# tlog-cosignature's example: a checkpoint with the log's signature and a cosignature.
SPEC_TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_COSIGNATURE = (
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+"
    "mbIUBkBIfZ+qnA=="
)
SPEC_TIME = 1679315147  # the "time" line of the specification's signed message example

# From github.com/transparency-dev/formats, note/note_cosigv1_test.go.
GO_NATIVE_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
GO_ED25519_VKEY = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
GO_COSIGNATURE = (
    "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFi"
    "EBYJXORmnFBOBA=="
)
GO_TIME = 1727964367


def test_the_signed_message_is_the_specifications() -> None:
    assert signed_message(SPEC_TEXT, SPEC_TIME) == (
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )


@pytest.mark.parametrize(
    ("blob", "timestamp"), [(SPEC_COSIGNATURE, SPEC_TIME), (GO_COSIGNATURE, GO_TIME)]
)
def test_published_cosignatures_are_key_id_then_8_byte_time_then_64_byte_signature(
    blob: str, timestamp: int
) -> None:
    raw = base64.b64decode(blob)
    assert len(raw) == 4 + 8 + 64
    assert int.from_bytes(raw[4:12], "big") == timestamp


def test_go_verifier_keys_of_both_types_are_read() -> None:
    native = CosignatureVerifier.from_vkey(GO_NATIVE_VKEY)
    assert (native.name, native.key_id) == ("remora.n621.de", 0xDA77ADE7)
    assert native.vkey() == GO_NATIVE_VKEY
    plain = CosignatureVerifier.from_vkey(GO_ED25519_VKEY)
    # The vkey's ID is the note key's (type 0x01); cosignatures carry the 0x04 ID.
    assert plain.name == "TEST"
    assert plain.key_id == cosignature_key_id("TEST", plain.public_key) != 0x7997405C


@pytest.mark.parametrize(
    "vkey",
    [
        "bananas.sigstore.dev+12344556",
        "rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!",
        "rekor.sigstore.dev+12345678+AwEB",
        GO_NATIVE_VKEY.replace("da77ade7", "00000000"),
        GO_NATIVE_VKEY.replace("+BO", "+Ao"),  # another type byte
    ],
)
def test_malformed_witness_keys_are_refused(vkey: str) -> None:
    with pytest.raises(CheckpointError):
        CosignatureVerifier.from_vkey(vkey)


@pytest.fixture
def witness() -> CosigningKey:
    return CosigningKey.generate("witness.example/w1")


def test_a_cosignature_verifies_and_a_changed_checkpoint_does_not(witness: CosigningKey) -> None:
    log = SigningKey.generate("example.com/behind-the-sofa")
    note = log.sign_note(SPEC_TEXT)
    line = witness.cosign(SPEC_TEXT, SPEC_TIME).line()
    cosigned = note + line
    verifier = CosignatureVerifier.from_vkey(witness.vkey())
    found = verifier.find(parse_note(cosigned))
    assert found is not None
    assert (found.name, found.timestamp, found.line) == ("witness.example/w1", SPEC_TIME, line)
    # The log's own verifier ignores the cosignature (another name), and the note still
    # verifies with the log's key: a cosigned checkpoint is still the log's checkpoint.
    assert verify_note(cosigned, log.verifier).size == 20852163
    tampered = cosigned.replace("20852163", "20852164")
    assert verifier.find(parse_note(tampered)) is None
    # Another time in the signature than the one signed: not a cosignature.
    raw = bytearray(base64.b64decode(line.split()[-1]))
    raw[11] ^= 1
    forged = note + f"— witness.example/w1 {base64.b64encode(bytes(raw)).decode()}\n"
    assert verifier.find(parse_note(forged)) is None


def test_a_witness_key_is_not_a_log_key(witness: CosigningKey) -> None:
    # Type 0x04 in the vkey and in the key ID: a log's verifier refuses it.
    assert base64.b64decode(witness.vkey().split("+", 2)[2])[0] == 0x04
    with pytest.raises(CheckpointError):
        SigningKey.from_private_key_string(witness.private_key_string())


def test_cosignatures_are_counted_once_per_witness(witness: CosigningKey) -> None:
    other = CosigningKey.generate("witness.example/w2")
    note = SigningKey.generate("log").sign_note("log\n1\n" + "A" * 43 + "=\n")
    text = parse_note(note).text
    cosigned = note + witness.cosign(text, 10).line() + witness.cosign(text, 11).line()
    verifiers = [witness.verifier, witness.verifier, other.verifier]
    assert [c.name for c in count_cosigners(parse_note(cosigned), verifiers)] == [witness.name]


def test_a_timestamp_of_zero_is_never_signed(witness: CosigningKey) -> None:
    with pytest.raises(CheckpointError):
        witness.cosign(SPEC_TEXT, 0)


def test_the_witness_key_file_is_created_once_under_its_name(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "witness-key"
    first = CosigningKey.load_or_create(path, "host/witness")
    assert path.stat().st_mode & 0o777 == 0o600
    assert CosigningKey.load_or_create(path, "host/witness").vkey() == first.vkey()
    with pytest.raises(CheckpointError):
        CosigningKey.load_or_create(path, "other/witness")
