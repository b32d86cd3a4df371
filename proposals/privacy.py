"""Keeping a person's details private: pure rules, no database.

1. **Sealing.** A request's details and the stewards' notes are stored sealed with a key of
   the request's own: AES-256-GCM, a random 96-bit nonce per value, and the request's id
   (and what the value is) as associated data, so a sealed value moved to another request
   or field does not open. Erasure deletes the key; every copy of the sealed values that
   survives anywhere (a table file, a write-ahead log, a backup taken after the erasure)
   is unreadable from then on. Stored as ``nonce || ciphertext || tag``.
2. **Public text.** What a steward writes for all members to read (a proposal's title,
   body and counterparty, in its first version and in every amendment) must not name the
   person. Compared case- and accent-insensitively (casefold, NFKD without combining
   marks), the checks are, in order:
   - every part of the name of 3 letters or more, as a word (parts of 5 letters or more
     also at the start of a word: "Quintanillas");
   - the e-mail's local part, whole, and its parts split at dots, dashes, underscores and
     plus signs, 3 characters or more, as words;
   - any 4 digits in a row of the phone number, whatever separates them in the text.
   The refusal names the field and the word that matched.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.errors import InvalidInput

NONCE_BYTES = 12
KEY_BYTES = 32
MIN_PART = 3
PREFIX_PART = 5
PHONE_RUN = 4


@dataclass(frozen=True, slots=True)
class Details:
    """What the person wrote on the ask form."""

    need: str
    name: str = ""
    phone: str = ""
    email: str = ""
    via_member: str = ""
    # Where to tell the person of each change, if they asked (from their status page).
    updates_email: str = ""

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Details:
        return cls(**json.loads(data.decode()))


# --- sealing -----------------------------------------------------------------------------


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def _associated(request_id: int, purpose: str) -> bytes:
    return f"commonpurse/request/{request_id}/{purpose}".encode()


def seal(key: bytes, request_id: int, purpose: str, plaintext: bytes) -> bytes:
    """``purpose``: "details" or "note"."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, _associated(request_id, purpose))


def unseal(key: bytes, request_id: int, purpose: str, sealed: bytes) -> bytes:
    """Raises ``cryptography.exceptions.InvalidTag`` for a value sealed otherwise."""
    nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    return AESGCM(key).decrypt(nonce, ciphertext, _associated(request_id, purpose))


# --- public text -------------------------------------------------------------------------


def fold(text: str) -> str:
    """Case- and accent-insensitive form: "Xiména" and "XIMENA" both become "ximena"."""

    def strip_marks(value: str) -> str:
        decomposed = unicodedata.normalize("NFKD", value)
        return "".join(ch for ch in decomposed if not unicodedata.combining(ch))

    return strip_marks(strip_marks(text).casefold())


_WORD = re.compile(r"[^\W_]+")  # letters and digits
_LETTERS = re.compile(r"[^\W\d_]+")
_EMAIL_SEPARATORS = re.compile(r"[.\-_+]+")
# Digits with anything but letters between them: "699 818 272", "6-9-9.8", "(699)818".
_DIGIT_RUN = re.compile(r"\d(?:[^\w]{0,3}\d)*")


@dataclass(frozen=True, slots=True)
class PersonalWords:
    """The parts of a person's details that public text must not contain (folded)."""

    words: frozenset[str]
    prefixes: frozenset[str]
    phrases: frozenset[str]
    phone_runs: frozenset[str]

    @classmethod
    def of(cls, details: Details) -> PersonalWords:
        name_parts = {p for p in _LETTERS.findall(fold(details.name)) if len(p) >= MIN_PART}
        local = fold(details.email).partition("@")[0]
        email_parts = {p for p in _EMAIL_SEPARATORS.split(local) if len(p) >= MIN_PART}
        phone = "".join(str(unicodedata.digit(ch)) for ch in fold(details.phone) if ch.isdigit())
        return cls(
            words=frozenset(name_parts | email_parts),
            prefixes=frozenset(p for p in name_parts if len(p) >= PREFIX_PART),
            phrases=frozenset({local} if len(local) >= MIN_PART else set()),
            phone_runs=frozenset(
                phone[i : i + PHONE_RUN] for i in range(len(phone) - PHONE_RUN + 1)
            ),
        )

    def found_in(self, text: str) -> str | None:
        """The first personal word the text contains, as it appears folded; else None."""
        folded = fold(text)
        for phrase in sorted(self.phrases):
            if phrase in folded:
                return phrase
        words: list[str] = _WORD.findall(folded)
        for word in words:
            if word in self.words:
                return word
            for prefix in self.prefixes:
                if word.startswith(prefix):
                    return prefix
        for match in _DIGIT_RUN.finditer(folded):
            digits = "".join(str(unicodedata.digit(ch)) for ch in match.group() if ch.isdigit())
            for i in range(len(digits) - PHONE_RUN + 1):
                if digits[i : i + PHONE_RUN] in self.phone_runs:
                    return digits[i : i + PHONE_RUN]
        return None


def refuse_personal_data(details: Details | None, texts: Mapping[str, str | None]) -> None:
    """Raise InvalidInput naming the field, and the word, of the first text that contains
    part of the person's name, e-mail or phone."""
    if details is None:
        return
    personal = PersonalWords.of(details)
    for field, text in texts.items():
        found = personal.found_in(text or "")
        if found is not None:
            raise InvalidInput(
                f"Write this without the person's name, phone or e-mail: “{found}” is part "
                "of them. The proposal is seen by every member and its record is kept.",
                field=field,
            )
