"""Witness cosignatures of checkpoints: C2SP ``tlog-cosignature``, the Ed25519 type.

A cosignature is a signed-note signature line ``— <witness name> base64(key ID ||
timestamp || signature)``: the key ID is SHA-256(name || "\\n" || 0x04 || public key)[:4]
(type 0x04, so a cosigner's key can never pass for a log's 0x01 key), the timestamp is 8
bytes, big-endian POSIX seconds, and the Ed25519 signature covers

    cosignature/v1
    time <timestamp>
    <the checkpoint's whole note text>

A cosignature says: at that time, this was the largest tree of that log the witness had
seen, consistent with every earlier one it cosigned.

Pure except ``CosigningKey.load_or_create``, which reads (or once writes) the key file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ledger.checkpoint import (
    ALG_ED25519,
    CheckpointError,
    Note,
    NoteSignature,
    create_key_file,
    is_valid_key_name,
)
from ledger.checkpoint import key_id as note_key_id

ALG_COSIGNATURE_V1 = 0x04
"""The C2SP signature type byte of Ed25519 cosignatures (``cosignature/v1``)."""

MAX_TIMESTAMP = 2**63 - 1
_PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"
_KEY_ID_HEX = re.compile(r"[0-9a-fA-F]{8}")


def cosignature_key_id(name: str, public_key: bytes) -> int:
    digest = hashlib.sha256(
        name.encode() + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public_key
    ).digest()
    return int.from_bytes(digest[:4], "big")


def signed_message(note_text: str, timestamp: int) -> bytes:
    """What an Ed25519 cosignature signs: the header, the time line and the note's text."""
    return f"cosignature/v1\ntime {timestamp}\n{note_text}".encode()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _b64decode(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointError(f"the {what} is not valid base64") from exc
    if _b64(raw) != text:
        raise CheckpointError(f"the {what} is not canonical base64")
    return raw


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: who, when (POSIX seconds) and its signature line."""

    name: str
    timestamp: int
    line: str


@dataclass(frozen=True)
class CosignatureVerifier:
    """A witness's public key under its name (``<name>+<key id>+<base64(0x04 || key)>``)."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise CheckpointError(f"bad key name {self.name!r}: non-empty, no spaces or '+'")
        if not isinstance(self.public_key, bytes) or len(self.public_key) != 32:
            raise CheckpointError("an Ed25519 public key is 32 bytes")

    @property
    def key_id(self) -> int:
        return cosignature_key_id(self.name, self.public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        """Parse a witness's vkey: type 0x04 (C2SP tlog-cosignature), or a plain Ed25519
        note key, type 0x01, as Go's ``NewVerifierForCosignatureV1`` takes too. Either way
        its cosignatures carry the 0x04 key ID."""
        name, _, rest = vkey.strip().partition("+")
        id_hex, _, key_b64 = rest.partition("+")
        if not _KEY_ID_HEX.fullmatch(id_hex):
            raise CheckpointError("a verifier key is <name>+<8 hex digits>+<base64 key>")
        key = _b64decode(key_b64, "verifier key")
        if len(key) != 33 or key[0] not in (ALG_COSIGNATURE_V1, ALG_ED25519):
            raise CheckpointError(
                "the verifier key is not a witness's Ed25519 key (type 0x04 or 0x01, 32 bytes)"
            )
        verifier = cls(name, key[1:])
        expected = verifier.key_id if key[0] == ALG_COSIGNATURE_V1 else note_key_id(name, key[1:])
        if expected != int(id_hex, 16):
            raise CheckpointError("the verifier key's ID does not match its name and key")
        return verifier

    def vkey(self) -> str:
        key = bytes([ALG_COSIGNATURE_V1]) + self.public_key
        return f"{self.name}+{self.key_id:08x}+{_b64(key)}"

    def verify_signature(self, note_text: str, signature: NoteSignature) -> int | None:
        """The timestamp of this key's valid cosignature, or None (another key, or not
        valid: a matching line that fails is a forgery, never a cosignature)."""
        if signature.name != self.name or signature.key_id != self.key_id:
            return None
        blob = signature.signature
        if len(blob) != 8 + 64:
            return None
        timestamp = int.from_bytes(blob[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            return None
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                blob[8:], signed_message(note_text, timestamp)
            )
        except InvalidSignature:
            return None
        return timestamp

    def find(self, note: Note) -> Cosignature | None:
        """This witness's valid cosignature on ``note``, if it carries one."""
        for signature in note.signatures:
            timestamp = self.verify_signature(note.text, signature)
            if timestamp is not None:
                return Cosignature(self.name, timestamp, signature.line())
        return None


def count_cosigners(note: Note, witnesses: list[CosignatureVerifier]) -> list[Cosignature]:
    """The valid cosignatures on ``note`` by distinct ``witnesses`` (one per witness)."""
    found: list[Cosignature] = []
    seen: set[tuple[str, bytes]] = set()
    for witness in witnesses:
        if (witness.name, witness.public_key) in seen:
            continue
        seen.add((witness.name, witness.public_key))
        cosignature = witness.find(note)
        if cosignature is not None:
            found.append(cosignature)
    return found


class CosigningKey:
    """A witness's Ed25519 key: cosigns checkpoints. Never the key a log signs with."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.verifier = CosignatureVerifier(name, private_key.public_key().public_bytes_raw())

    def __repr__(self) -> str:  # never print the private key
        return f"CosigningKey({self.verifier.vkey()!r})"

    @property
    def name(self) -> str:
        return self.verifier.name

    def vkey(self) -> str:
        return self.verifier.vkey()

    @classmethod
    def generate(cls, name: str) -> CosigningKey:
        return cls(name, Ed25519PrivateKey.generate())

    def cosign(self, note_text: str, timestamp: int) -> NoteSignature:
        """The cosignature of a checkpoint whose note text is ``note_text`` (final newline
        included, no signatures), made at ``timestamp`` (POSIX seconds, not zero)."""
        if not 0 < timestamp <= MAX_TIMESTAMP:
            raise CheckpointError(f"a cosignature's timestamp is 1 to 2**63-1, not {timestamp}")
        signature = self._private_key.sign(signed_message(note_text, timestamp))
        blob = timestamp.to_bytes(8, "big") + signature
        return NoteSignature(self.name, self.verifier.key_id, blob)

    def private_key_string(self) -> str:
        seed = bytes([ALG_COSIGNATURE_V1]) + self._private_key.private_bytes_raw()
        return f"{_PRIVATE_KEY_PREFIX}{self.name}+{self.verifier.key_id:08x}+{_b64(seed)}"

    @classmethod
    def from_private_key_string(cls, skey: str) -> CosigningKey:
        skey = skey.strip()
        if not skey.startswith(_PRIVATE_KEY_PREFIX):
            raise CheckpointError("a private key string starts with PRIVATE+KEY+")
        name, _, rest = skey[len(_PRIVATE_KEY_PREFIX) :].partition("+")
        id_hex, _, seed_b64 = rest.partition("+")
        if not _KEY_ID_HEX.fullmatch(id_hex):
            raise CheckpointError("a private key string is PRIVATE+KEY+<name>+<id>+<key>")
        seed = _b64decode(seed_b64, "private key")
        if len(seed) != 33 or seed[0] != ALG_COSIGNATURE_V1:
            raise CheckpointError("the private key is not a cosignature key (type 0x04)")
        key = cls(name, Ed25519PrivateKey.from_private_bytes(seed[1:]))
        if key.verifier.key_id != int(id_hex, 16):
            raise CheckpointError("the private key's ID does not match its name and key")
        return key

    @classmethod
    def load_or_create(cls, path: Path, name: str) -> CosigningKey:
        """The witness key at ``path``, created (mode 0600) if it is missing; CheckpointError
        if the file is not such a key or was made for another name."""
        path = Path(path)
        if not path.exists():
            create_key_file(path, cls.generate(name).private_key_string())
        try:
            key = cls.from_private_key_string(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, CheckpointError) as exc:
            raise CheckpointError(f"the witness key file {path} is not valid: {exc}") from exc
        if key.name != name:
            raise CheckpointError(
                f"the witness key file {path} is for the name {key.name!r}, not {name!r}"
            )
        return key
