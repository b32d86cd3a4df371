"""Signed checkpoints: C2SP signed-note and tlog-checkpoint with Ed25519 keys."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from ledger.checkpoint import (
    MAX_SIGNATURES,
    Checkpoint,
    CheckpointError,
    NoteSignature,
    SigningKey,
    Verifier,
    checkpoint_body,
    is_valid_key_name,
    key_id,
    parse_checkpoint,
    parse_note,
    verify_note,
)

ORIGIN = "example.org/g/rent-fund"
ROOT = hashlib.sha256(b"a root").digest()

# -- published vectors ------------------------------------------------------------------------
# The example of the Go note package's documentation (golang.org/x/mod/sumdb/note, note.go):
# a private key, its verifier key and the note it signs. Ed25519 signatures are
# deterministic, so signing the text again must give exactly the published note.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n"
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6"
    "KE6RyyBwJnAM=\n"
)

# A real checkpoint signed by the Go checksum database, quoted in
# github.com/transparency-dev/trillian-tessera internal/parse/checkpoint_test.go (there without
# the final newline a signed note ends with), and sum.golang.org's published verifier key
# (the one built into the go command).
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_CHECKPOINT = (
    "go.sum database tree\n"
    "31700353\n"
    "qINS1GRFhWHwdkUeqLEoP4yEMkTBBzxBkGwGQlVlVcs=\n"
    "\n"
    "— sum.golang.org Az3grnmrIUEDFqHzAElIQCPNoRFRAAdFo47fooyWKMHb89k11GJh5zHIfNCOBmwn/C3YI8oW9/"
    "C8DJ87F61QqspBYwM=\n"
)


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate("example.org")


@pytest.fixture(scope="module")
def other_key() -> SigningKey:
    return SigningKey.generate("example.net")


# -- interoperability -------------------------------------------------------------------------


def test_key_id_and_vkey_match_the_go_note_package_example() -> None:
    signer = SigningKey.from_private_key_string(GO_SKEY)
    assert signer.key_id == 0xC74F20A3
    assert key_id("PeterNeumann", signer.public_key) == 0xC74F20A3
    assert signer.vkey() == GO_VKEY
    assert signer.private_key_string() == GO_SKEY
    assert Verifier.from_vkey(GO_VKEY) == signer.verifier


def test_signing_the_go_example_text_reproduces_the_published_note() -> None:
    assert SigningKey.from_private_key_string(GO_SKEY).sign_note(GO_TEXT) == GO_NOTE


def test_the_published_go_note_verifies_and_a_changed_one_does_not() -> None:
    verifier = Verifier.from_vkey(GO_VKEY)
    note = parse_note(GO_NOTE)
    assert note.text == GO_TEXT
    verifier.check(note)
    with pytest.raises(CheckpointError, match="not valid"):
        verifier.check(parse_note(GO_NOTE.replace("cryptography", "cryptographY")))


def test_note_text_may_hold_empty_lines_and_ends_at_the_last_one() -> None:
    signer = SigningKey.from_private_key_string(GO_SKEY)
    text = "first paragraph\n\nsecond paragraph\n"
    note = parse_note(signer.sign_note(text))
    assert note.text == text
    signer.verifier.check(note)


def test_a_real_go_checksum_database_checkpoint_verifies() -> None:
    checkpoint = verify_note(SUMDB_CHECKPOINT, Verifier.from_vkey(SUMDB_VKEY))
    assert checkpoint.origin == "go.sum database tree"
    assert checkpoint.size == 31700353
    assert base64.b64encode(checkpoint.root) == b"qINS1GRFhWHwdkUeqLEoP4yEMkTBBzxBkGwGQlVlVcs="
    with pytest.raises(CheckpointError):
        verify_note(
            SUMDB_CHECKPOINT.replace("31700353", "31700354"), Verifier.from_vkey(SUMDB_VKEY)
        )


# -- signing and verifying --------------------------------------------------------------------


def test_signed_checkpoint_has_the_c2sp_layout(key: SigningKey) -> None:
    note = key.sign_checkpoint(ORIGIN, 42, ROOT)
    lines = note.split("\n")
    assert lines[:4] == [ORIGIN, "42", base64.b64encode(ROOT).decode(), ""]
    assert lines[4].startswith("\u2014 example.org ")
    assert lines[5:] == [""]  # the note ends with exactly one newline
    blob = base64.b64decode(lines[4].split(" ")[2])
    assert blob[:4] == key.key_id.to_bytes(4, "big")
    assert len(blob) == 4 + 64


def test_sign_then_verify_round_trip(key: SigningKey) -> None:
    note = key.sign_checkpoint(ORIGIN, 42, ROOT)
    checkpoint = verify_note(note, Verifier.from_vkey(key.vkey()))
    assert (checkpoint.origin, checkpoint.size, checkpoint.root) == (ORIGIN, 42, ROOT)
    assert checkpoint.extensions == ()
    assert [s.name for s in checkpoint.signatures] == ["example.org"]
    assert checkpoint.body() + "\n" + checkpoint.signatures[0].line() == note
    assert parse_checkpoint(note) == checkpoint
    assert parse_checkpoint(note.encode()) == checkpoint


def test_empty_tree_checkpoint_round_trips(key: SigningKey) -> None:
    empty_root = hashlib.sha256(b"").digest()
    note = key.sign_checkpoint(ORIGIN, 0, empty_root)
    assert verify_note(note, key.verifier) == parse_checkpoint(note)
    assert parse_checkpoint(note).size == 0


def test_note_signed_by_another_key_is_refused(key: SigningKey, other_key: SigningKey) -> None:
    note = other_key.sign_checkpoint(ORIGIN, 42, ROOT)
    with pytest.raises(CheckpointError, match=r"not signed by key example\.org"):
        verify_note(note, key.verifier)


def test_another_key_under_the_same_name_is_ignored_not_trusted(key: SigningKey) -> None:
    impostor = SigningKey.generate(key.name)
    with pytest.raises(CheckpointError, match="not signed by key"):
        verify_note(impostor.sign_checkpoint(ORIGIN, 42, ROOT), key.verifier)


def test_forged_signature_carrying_the_right_key_id_is_refused(
    key: SigningKey, other_key: SigningKey
) -> None:
    body = checkpoint_body(ORIGIN, 42, ROOT)
    forged = NoteSignature(key.name, key.key_id, bytes(64))
    with pytest.raises(CheckpointError, match="is not valid"):
        verify_note(body + "\n" + forged.line(), key.verifier)
    # A bad signature by our key spoils the note even beside a good one (C2SP: SHOULD reject).
    good = key.sign_checkpoint(ORIGIN, 42, ROOT)
    with pytest.raises(CheckpointError, match="is not valid"):
        verify_note(good + forged.line(), key.verifier)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("\n42\n", "\n43\n"),
        ("example.org/g/rent-fund\n", "example.org/g/food-fund\n"),
        (base64.b64encode(ROOT).decode(), base64.b64encode(bytes(32)).decode()),
    ],
    ids=["size", "origin", "root"],
)
def test_tampered_checkpoint_fails_verification(key: SigningKey, old: str, new: str) -> None:
    note = key.sign_checkpoint(ORIGIN, 42, ROOT)
    assert old in note
    with pytest.raises(CheckpointError, match="is not valid"):
        verify_note(note.replace(old, new), key.verifier)


def test_signatures_by_unknown_keys_are_ignored_and_cosigning_works(
    key: SigningKey, other_key: SigningKey
) -> None:
    note = key.sign_checkpoint(ORIGIN, 42, ROOT)
    cosignature = other_key.sign_note(checkpoint_body(ORIGIN, 42, ROOT)).split("\n\n")[1]
    cosigned = note + cosignature
    assert verify_note(cosigned, key.verifier).size == 42
    assert verify_note(cosigned, other_key.verifier).size == 42
    assert len(parse_checkpoint(cosigned).signatures) == 2


def test_extension_lines_are_parsed_and_kept(key: SigningKey) -> None:
    body = checkpoint_body(ORIGIN, 7, ROOT, ["timestamp 1700000000"])
    checkpoint = verify_note(key.sign_note(body), key.verifier)
    assert checkpoint.extensions == ("timestamp 1700000000",)
    assert checkpoint.body() == body


@given(
    origin=st.text(
        alphabet=st.characters(codec="utf-8", min_codepoint=0x21), min_size=1, max_size=60
    ).filter(is_valid_key_name),
    size=st.integers(0, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
)
def test_any_checkpoint_round_trips(origin: str, size: int, root: bytes) -> None:
    signer = SigningKey.from_private_key_string(GO_SKEY)
    checkpoint = verify_note(signer.sign_checkpoint(origin, size, root), signer.verifier)
    assert (checkpoint.origin, checkpoint.size, checkpoint.root) == (origin, size, root)


# -- strict parsing ---------------------------------------------------------------------------


def _signed(key: SigningKey, body: str) -> str:
    """A note with a valid signature over any text, to test the checkpoint parser alone."""
    return key.sign_note(body)


ROOT_B64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    "body",
    [
        f"{ORIGIN}\n01\n{ROOT_B64}\n",
        f"{ORIGIN}\n00\n{ROOT_B64}\n",
        f"{ORIGIN}\n-1\n{ROOT_B64}\n",
        f"{ORIGIN}\n+1\n{ROOT_B64}\n",
        f"{ORIGIN}\n 1\n{ROOT_B64}\n",
        f"{ORIGIN}\n1.0\n{ROOT_B64}\n",
        f"{ORIGIN}\n\u0661\n{ROOT_B64}\n",  # ARABIC-INDIC DIGIT ONE: not an ASCII digit
        f"{ORIGIN}\n{2**64}\n{ROOT_B64}\n",
        f"{ORIGIN}\n\n{ROOT_B64}\n",
        f"{ORIGIN}\n42\n",
        f"\n42\n{ROOT_B64}\n",
        f"{ORIGIN}\n42\n{ROOT_B64[:-1]}\n",  # bad padding
        f"{ORIGIN}\n42\n{ROOT_B64.replace('=', 'B')}\n",  # 33 bytes
        f"{ORIGIN}\n42\n{ROOT_B64[:-2]}B=\n",  # non-canonical: stray bits in the padding
        f"{ORIGIN}\n42\n{base64.b64encode(ROOT[:31]).decode()}\n",
        f"{ORIGIN}\n42\n{base64.urlsafe_b64encode(bytes([0xFB] * 32)).decode()}\n",
        f"{ORIGIN}\n42\n{ROOT_B64}\n\n",  # an empty line inside the text
        f"{ORIGIN}\n42\n\n{ROOT_B64}\n",
    ],
)
def test_malformed_checkpoint_body_is_refused(key: SigningKey, body: str) -> None:
    note = _signed(key, body)
    with pytest.raises(CheckpointError):
        parse_checkpoint(note)
    with pytest.raises(CheckpointError):
        verify_note(note, key.verifier)


def _mangle(note: str, how: str) -> str:
    body, _, signature = note.partition("\n\n")
    if how == "no blank line":
        return body + "\n" + signature
    if how == "two blank lines":
        return body + "\n\n\n" + signature
    if how == "no final newline":
        return note[:-1]
    if how == "crlf":
        return note.replace("\n", "\r\n")
    if how == "hyphen instead of em dash":
        return note.replace("\u2014 ", "- ")
    if how == "no space after dash":
        return note.replace("\u2014 ", "\u2014")
    if how == "two spaces":
        return note.replace("\u2014 example.org ", "\u2014 example.org  ")
    if how == "plus in key name":
        return note.replace("\u2014 example.org", "\u2014 example+org")
    if how == "bad base64":
        return note[:-3] + "!=\n"
    if how == "signature too short":
        return body + "\n\n\u2014 example.org AAAAAA==\n"
    if how == "trailing line":
        return note + "extra\n"
    if how == "no signatures":
        return body + "\n\n"
    if how == "control character":
        return note.replace("example.org/g", "example.org\x00/g")
    if how == "tab":
        return note.replace("\n42\n", "\n42\t\n")
    raise AssertionError(how)


@pytest.mark.parametrize(
    "how",
    [
        "no blank line",
        "two blank lines",
        "no final newline",
        "crlf",
        "hyphen instead of em dash",
        "no space after dash",
        "two spaces",
        "plus in key name",
        "bad base64",
        "signature too short",
        "trailing line",
        "no signatures",
        "control character",
        "tab",
    ],
)
def test_malformed_signed_note_is_refused(key: SigningKey, how: str) -> None:
    note = _mangle(key.sign_checkpoint(ORIGIN, 42, ROOT), how)
    with pytest.raises(CheckpointError):
        verify_note(note, key.verifier)


def test_note_that_is_not_utf8_is_refused(key: SigningKey) -> None:
    note = key.sign_checkpoint(ORIGIN, 42, ROOT).encode()
    with pytest.raises(CheckpointError, match="UTF-8"):
        parse_checkpoint(note.replace(b"example", b"ex\xffample"))
    with pytest.raises(CheckpointError, match="UTF-8"):
        parse_checkpoint(note.decode().replace("example", "ex\udcffample"))


def test_note_with_too_many_signatures_is_refused(key: SigningKey) -> None:
    note = key.sign_checkpoint(ORIGIN, 42, ROOT)
    line = note.split("\n\n")[1]
    assert len(parse_note(note + line * (MAX_SIGNATURES - 1)).signatures) == MAX_SIGNATURES
    with pytest.raises(CheckpointError, match="more than"):
        parse_note(note + line * MAX_SIGNATURES)


# -- keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        "PeterNeumann",
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong ID
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+AhpjZ2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # type 0x02
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",  # short key
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq_LDE4izWy10TW",  # not std b64
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_malformed_verifier_key_is_refused(vkey: str) -> None:
    with pytest.raises(CheckpointError):
        Verifier.from_vkey(vkey)


def test_verifier_key_tolerates_uppercase_hex_and_surrounding_whitespace() -> None:
    verifier = Verifier.from_vkey(" " + GO_VKEY.replace("c74f20a3", "C74F20A3") + "\n")
    assert verifier.vkey() == GO_VKEY


@pytest.mark.parametrize(
    "skey",
    [
        GO_SKEY.replace("PRIVATE+KEY+", ""),
        GO_SKEY.replace("c74f20a3", "c74f20a4"),  # ID of another key
        GO_SKEY.replace("PeterNeumann", "PaulNeumann"),  # the name is part of the ID
        GO_SKEY[:-4],
    ],
)
def test_malformed_private_key_string_is_refused(skey: str) -> None:
    with pytest.raises(CheckpointError):
        SigningKey.from_private_key_string(skey)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\nb", "tab\there", "nbsp\u00a0here"])
def test_bad_key_names_are_refused(name: str) -> None:
    assert not is_valid_key_name(name)
    with pytest.raises(CheckpointError):
        SigningKey.generate(name)


@pytest.mark.parametrize(
    ("origin", "size", "root"),
    [
        ("", 1, ROOT),
        ("example.org/g/a b", 1, ROOT),
        ("example.org/g/a\n2", 1, ROOT),
        (ORIGIN, -1, ROOT),
        (ORIGIN, True, ROOT),
        (ORIGIN, 1, ROOT[:31]),
        (ORIGIN, 1, ROOT.hex().encode()),
    ],
)
def test_signing_a_bad_checkpoint_is_refused(
    key: SigningKey, origin: str, size: int, root: bytes
) -> None:
    with pytest.raises(CheckpointError):
        key.sign_checkpoint(origin, size, root)


def test_sign_note_refuses_text_without_final_newline(key: SigningKey) -> None:
    with pytest.raises(CheckpointError):
        key.sign_note("no newline")


def test_repr_of_a_signing_key_shows_only_the_public_key(key: SigningKey) -> None:
    assert repr(key) == f"SigningKey({key.vkey()!r})"
    # PRIVATE+KEY+<name>+<key id>+<base64 seed>; the seed's base64 may itself hold a "+".
    seed = key.private_key_string().split("+", 4)[4]
    assert seed not in repr(key)


# -- the key file -----------------------------------------------------------------------------


def test_load_or_create_creates_a_private_file_once_then_loads_it(tmp_path: Path) -> None:
    path = tmp_path / "var" / "keys" / "signing.key"
    first = SigningKey.load_or_create(path, "example.org")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("PRIVATE+KEY+example.org+")
    content = path.read_text()

    second = SigningKey.load_or_create(path, "example.org")
    assert second.vkey() == first.vkey()
    assert path.read_text() == content
    note = first.sign_checkpoint(ORIGIN, 1, ROOT)
    assert verify_note(note, Verifier.from_vkey(second.vkey())).size == 1
    assert [p.name for p in path.parent.iterdir()] == ["signing.key"]  # no temporary left


def test_key_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        SigningKey.load_or_create(tmp_path / "k", "example.org")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600


def test_workers_starting_together_share_one_key(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: SigningKey.load_or_create(path, "example.org"), range(16)))
    assert len({k.vkey() for k in keys}) == 1
    assert SigningKey.load_or_create(path, "example.org").vkey() == keys[0].vkey()


def test_key_file_made_for_another_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    SigningKey.load_or_create(path, "example.org")
    with pytest.raises(CheckpointError, match=r"is for key name 'example\.org'"):
        SigningKey.load_or_create(path, "example.net")


def test_unreadable_key_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    path.write_text("not a key\n")
    with pytest.raises(CheckpointError, match="is not valid"):
        SigningKey.load_or_create(path, "example.org")
    assert path.read_text() == "not a key\n"


def test_key_file_in_pem_form_is_accepted(tmp_path: Path) -> None:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = tmp_path / "signing.pem"
    path.write_bytes(pem)
    loaded = SigningKey.load_or_create(path, "example.org")
    assert loaded.public_key == private.public_key().public_bytes_raw()
    assert isinstance(parse_checkpoint(loaded.sign_checkpoint(ORIGIN, 1, ROOT)), Checkpoint)
