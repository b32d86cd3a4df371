"""Signed checkpoints of a group's log: C2SP ``tlog-checkpoint`` in a C2SP ``signed-note``.

A checkpoint body is three lines, ``<origin>``, ``<tree size>`` and ``<base64 root hash>``; the
signed note adds a blank line and one line per signature, ``— <key name> <base64(key id ||
Ed25519 signature)>``. The formats are those of golang.org/x/mod/sumdb/note and
transparency-dev, so their tools can check our checkpoints with our ``vkey``.

Pure except ``SigningKey.load_or_create``, which reads (or once writes) the key file.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import load_pem_private_key

ALG_ED25519 = 0x01
"""The C2SP signed-note signature type byte for Ed25519."""

HASH_SIZE = 32
MAX_SIGNATURES = 100
"""More signature lines than this and a note is refused (C2SP asks to accept at least 16)."""

_SIGNATURE_PREFIX = "\u2014 "  # em dash, space
_PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"
_TREE_SIZE = re.compile(r"0|[1-9][0-9]*")
_KEY_ID_HEX = re.compile(r"[0-9a-fA-F]{8}")


class CheckpointError(ValueError):
    """A note, checkpoint or key is malformed, or a signature is missing or wrong."""


# -- small helpers ----------------------------------------------------------------------------


def key_id(name: str, public_key: bytes) -> int:
    """C2SP key ID of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def is_valid_key_name(name: str) -> bool:
    """A key name is non-empty, without Unicode spaces or '+' (C2SP signed-note)."""
    return (
        bool(name)
        and "+" not in name
        and not any(c.isspace() for c in name)
        and not _has_control_characters(name)
    )


def _has_control_characters(text: str) -> bool:
    return any(c < " " and c != "\n" for c in text)


def _b64decode_strict(text: str, what: str) -> bytes:
    """Standard base64, padded, and canonical: one encoding per value, so notes are rigid."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointError(f"the {what} is not valid base64") from exc
    if base64.b64encode(raw).decode() != text:
        raise CheckpointError(f"the {what} is not canonical base64")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# -- notes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key's name and ID, and the signature bytes without the ID."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        """The signature line, newline included."""
        blob = self.key_id.to_bytes(4, "big") + self.signature
        return f"{_SIGNATURE_PREFIX}{self.name} {_b64(blob)}\n"


@dataclass(frozen=True)
class Note:
    """A parsed signed note: its text (final newline included) and its signature lines."""

    text: str
    signatures: tuple[NoteSignature, ...]


def parse_note(note: str | bytes) -> Note:
    """Split a signed note into text and signatures; CheckpointError if malformed.

    Signatures are not checked here (see ``Verifier.check``).
    """
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CheckpointError("the note is not valid UTF-8") from exc
    try:
        note.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate in a str
        raise CheckpointError("the note is not valid UTF-8") from exc
    if _has_control_characters(note):
        raise CheckpointError("the note contains control characters other than newline")
    # The text is separated from the signatures by the *last* blank line.
    split = note.rfind("\n\n")
    if split < 0:
        raise CheckpointError("the note has no blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith("\n"):
        raise CheckpointError("the note has no signature lines or does not end in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(f"the note has more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(_parse_signature_line(line) for line in lines))


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise CheckpointError(f"not a signature line (expected '— <name> <signature>'): {line!r}")
    name, space, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    if not space or not is_valid_key_name(name):
        raise CheckpointError(f"bad key name in signature line: {line!r}")
    blob = _b64decode_strict(encoded, "signature")
    if len(blob) < 5:
        raise CheckpointError(f"signature too short in signature line: {line!r}")
    return NoteSignature(name, int.from_bytes(blob[:4], "big"), blob[4:])


# -- checkpoints ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: who (origin), how many leaves (size) and the root hash."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()
    signatures: tuple[NoteSignature, ...] = ()

    def body(self) -> str:
        """The note text that is signed."""
        return checkpoint_body(self.origin, self.size, self.root, self.extensions)


def checkpoint_body(origin: str, size: int, root: bytes, extensions: Sequence[str] = ()) -> str:
    """``<origin>\\n<size>\\n<base64 root>\\n`` (plus any extension lines); checks each part.

    The origin must also follow C2SP's advice (no spaces, no '+'), since we write it.
    """
    if not is_valid_key_name(origin):
        raise CheckpointError(f"bad checkpoint origin {origin!r}: non-empty, no spaces or '+'")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise CheckpointError(f"bad tree size {size!r}")
    if not isinstance(root, bytes) or len(root) != HASH_SIZE:
        raise CheckpointError("the root hash must be 32 bytes")
    for line in extensions:
        if not line or "\n" in line or _has_control_characters(line):
            raise CheckpointError(f"bad checkpoint extension line {line!r}")
    return "".join(f"{line}\n" for line in (origin, str(size), _b64(root), *extensions))


def parse_checkpoint(note: str | bytes) -> Checkpoint:
    """Parse a signed checkpoint strictly, *without* checking signatures."""
    parsed = parse_note(note)
    return checkpoint_of_note(parsed)


def verify_note(note: str | bytes, verifier: Verifier) -> Checkpoint:
    """Parse a signed checkpoint and check it carries a valid signature by ``verifier``.

    CheckpointError when it is malformed, has no signature by that key, or that key's
    signature does not verify. Signatures by other keys are ignored (C2SP signed-note).
    """
    parsed = parse_note(note)
    verifier.check(parsed)
    return checkpoint_of_note(parsed)


def checkpoint_of_note(note: Note) -> Checkpoint:
    lines = note.text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("a checkpoint has at least three lines: origin, size, root hash")
    if any(not line for line in lines):
        raise CheckpointError("a checkpoint has no empty lines before its signatures")
    origin, size_text, root_text, *extensions = lines
    if not _TREE_SIZE.fullmatch(size_text):
        raise CheckpointError(
            f"bad tree size {size_text!r}: use a decimal number without leading zeros"
        )
    size = int(size_text)
    if size >= 1 << 64:
        raise CheckpointError(f"tree size {size_text} is out of range")
    root = _b64decode_strict(root_text, "root hash")
    if len(root) != HASH_SIZE:
        raise CheckpointError("the root hash is not 32 bytes")
    return Checkpoint(origin, size, root, tuple(extensions), note.signatures)


# -- keys -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verifier:
    """An Ed25519 public key under a name, as published in the C2SP ``vkey`` form."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise CheckpointError(f"bad key name {self.name!r}: non-empty, no spaces or '+'")
        if not isinstance(self.public_key, bytes) or len(self.public_key) != 32:
            raise CheckpointError("an Ed25519 public key is 32 bytes")

    @property
    def key_id(self) -> int:
        """The 32-bit key ID (``vkey`` shows it as 8 hex digits)."""
        return key_id(self.name, self.public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        """Parse ``<name>+<hex key id>+<base64(0x01 || public key)>``."""
        name, _, rest = vkey.strip().partition("+")
        id_hex, _, key_b64 = rest.partition("+")
        if not _KEY_ID_HEX.fullmatch(id_hex):
            raise CheckpointError("a verifier key is <name>+<8 hex digits>+<base64 key>")
        key = _b64decode_strict(key_b64, "verifier key")
        if len(key) != 33 or key[0] != ALG_ED25519:
            raise CheckpointError("the verifier key is not an Ed25519 key (type 0x01, 32 bytes)")
        verifier = cls(name, key[1:])
        if verifier.key_id != int(id_hex, 16):
            raise CheckpointError("the verifier key's ID does not match its name and key")
        return verifier

    def vkey(self) -> str:
        """The verifier key string, ``<name>+<key id>+<base64(0x01 || public key)>``."""
        return f"{self.name}+{self.key_id:08x}+{_b64(bytes([ALG_ED25519]) + self.public_key)}"

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``text``."""
        if len(signature) != 64:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
        except InvalidSignature:
            return False
        return True

    def check(self, note: Note) -> None:
        """Raise CheckpointError unless ``note`` has a signature by this key and all verify."""
        own_id = self.key_id
        mine = [s for s in note.signatures if s.name == self.name and s.key_id == own_id]
        if not mine:
            raise CheckpointError(f"the note is not signed by key {self.name}+{own_id:08x}")
        text = note.text.encode()
        for signature in mine:
            if not self.verify(text, signature.signature):
                raise CheckpointError(
                    f"the note's signature by key {self.name}+{own_id:08x} is not valid"
                )


class SigningKey:
    """An Ed25519 private key under a name: signs notes and checkpoints."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.verifier = Verifier(name, private_key.public_key().public_bytes_raw())

    def __repr__(self) -> str:  # never print the private key
        return f"SigningKey({self.verifier.vkey()!r})"

    @property
    def name(self) -> str:
        return self.verifier.name

    @property
    def public_key(self) -> bytes:
        return self.verifier.public_key

    @property
    def key_id(self) -> int:
        return self.verifier.key_id

    def vkey(self) -> str:
        """The public verifier key string, for ``/.well-known/commonpurse-key``."""
        return self.verifier.vkey()

    @classmethod
    def generate(cls, name: str) -> SigningKey:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_private_key_string(cls, skey: str) -> SigningKey:
        """Parse ``PRIVATE+KEY+<name>+<key id>+<base64(0x01 || seed)>`` (Go's note form)."""
        skey = skey.strip()
        if not skey.startswith(_PRIVATE_KEY_PREFIX):
            raise CheckpointError("a private key string starts with PRIVATE+KEY+")
        name, _, rest = skey[len(_PRIVATE_KEY_PREFIX) :].partition("+")
        id_hex, _, seed_b64 = rest.partition("+")
        if not _KEY_ID_HEX.fullmatch(id_hex):
            raise CheckpointError("a private key string is PRIVATE+KEY+<name>+<id>+<key>")
        seed = _b64decode_strict(seed_b64, "private key")
        if len(seed) != 33 or seed[0] != ALG_ED25519:
            raise CheckpointError("the private key is not an Ed25519 key (type 0x01, 32 bytes)")
        key = cls(name, Ed25519PrivateKey.from_private_bytes(seed[1:]))
        if key.key_id != int(id_hex, 16):
            raise CheckpointError("the private key's ID does not match its name and key")
        return key

    def private_key_string(self) -> str:
        """The secret ``PRIVATE+KEY+...`` string (what ``load_or_create`` writes)."""
        seed = bytes([ALG_ED25519]) + self._private_key.private_bytes_raw()
        return f"{_PRIVATE_KEY_PREFIX}{self.name}+{self.key_id:08x}+{_b64(seed)}"

    @classmethod
    def load_or_create(cls, path: Path, name: str) -> SigningKey:
        """Load the key at ``path``, creating it (mode 0600, parents too) if it is missing.

        The file holds the ``PRIVATE+KEY+...`` string; a PKCS#8 PEM Ed25519 key (as from
        ``openssl genpkey -algorithm ed25519``) is accepted too. CheckpointError if the file
        is unreadable as a key or was made for another key name.
        """
        path = Path(path)
        if not path.exists():
            create_key_file(path, cls.generate(name).private_key_string())
        try:
            content = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"cannot read the signing key file {path}: {exc}") from exc
        if content.lstrip().startswith("-----BEGIN"):
            return cls(name, _load_pem(content, path))
        try:
            key = cls.from_private_key_string(content)
        except CheckpointError as exc:
            raise CheckpointError(f"the signing key file {path} is not valid: {exc}") from exc
        if key.name != name:
            # The name is part of the key ID, so quietly renaming would change the published
            # verifier key; make the operator choose.
            raise CheckpointError(
                f"the signing key file {path} is for key name {key.name!r}, not {name!r}"
            )
        return key

    def sign_note(self, text: str) -> str:
        """The signed note: ``text``, a blank line and this key's signature line."""
        if not text.endswith("\n") or _has_control_characters(text):
            raise CheckpointError("a note text ends in a newline and has no control characters")
        signature = self._private_key.sign(text.encode())
        line = NoteSignature(self.name, self.key_id, signature).line()
        return f"{text}\n{line}"

    def sign_checkpoint(self, origin: str, size: int, root: bytes) -> str:
        """The whole signed checkpoint note for a tree of ``size`` leaves with ``root``."""
        return self.sign_note(checkpoint_body(origin, size, root))


def _load_pem(content: str, path: Path) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(content.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"the signing key file {path} is not a readable key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"the signing key file {path} is not an Ed25519 key")
    return key


def create_key_file(path: Path, secret: str) -> None:
    """Write ``secret`` to ``path`` with mode 0600, never replacing an existing file.

    Several workers may start at once: each writes a private temporary file, then links it
    into place, which fails if another got there first; everyone then reads the winner.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secret + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another worker's key won: use it
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
