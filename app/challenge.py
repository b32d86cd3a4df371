"""The ask form's challenge: how a request shows there is a person behind it when a group
is flooded, without a third-party CAPTCHA and without refusing anyone.

Each ask page carries a token signed with the instance's secret (nothing is stored): the
group, the time it was issued, a random nonce and a difficulty. The token proves a person
in either of two ways:

- **solved**: the page's own small script (``/static/ask.js``) finds a number ``n`` such
  that SHA-256(token ":" n) starts with ``bits`` zero bits, while the person writes (a
  second or two of a phone's time; 0 bits when the group was not flooded as the page was
  served, and then only the other way counts);
- **waited**: without JavaScript, the token counts once ``WAIT`` has passed since it was
  issued, which writing a request takes anyway.

A token proves one request only (``app.limits.CHALLENGE_SPENT``). During a flood, requests
without proof are held apart for the stewards rather than refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

WAIT = timedelta(seconds=15)
LIFETIME = timedelta(days=1)
BITS = 16  # about 65,000 hashes: a second or two in a phone's browser
_MAC_CHARS = 22  # 128 bits of HMAC-SHA256, base64url


@dataclass(frozen=True, slots=True)
class Challenge:
    group_id: int
    issued: int  # Unix seconds
    bits: int
    token: str

    @property
    def issued_at(self) -> datetime:
        return datetime.fromtimestamp(self.issued, UTC)


def _mac(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), b"ask-challenge\x00" + payload.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode()[:_MAC_CHARS]


def issue(secret: str, group_id: int, now: datetime, *, bits: int) -> str:
    payload = f"{group_id}.{int(now.timestamp())}.{bits}.{secrets.token_urlsafe(12)}"
    return f"{payload}.{_mac(secret, payload)}"


def read(secret: str, token: str, group_id: int) -> Challenge | None:
    """The token's contents when we signed it for this group; None for anything else."""
    if len(token) > 200:
        return None
    payload, _, mac = token.rpartition(".")
    parts = payload.split(".")
    if len(parts) != 4 or not hmac.compare_digest(_mac(secret, payload), mac):
        return None
    group, issued, bits, _nonce = parts
    if not (group.isdigit() and issued.isdigit() and bits.isdigit()) or int(group) != group_id:
        return None
    return Challenge(int(group), int(issued), int(bits), token)


def solves(token: str, proof: str, bits: int) -> bool:
    """Does SHA-256(token ":" proof) start with ``bits`` zero bits?"""
    if bits <= 0 or not proof.isdigit() or len(proof) > 20:
        return False
    digest = int.from_bytes(hashlib.sha256(f"{token}:{proof}".encode()).digest(), "big")
    return digest >> (256 - bits) == 0


def proves_a_person(challenge: Challenge, proof: str, now: datetime) -> bool:
    """Solved, or waited for; and neither from the future nor too old."""
    age = now - challenge.issued_at
    if age < timedelta(seconds=-60) or age > LIFETIME:
        return False
    return solves(challenge.token, proof, challenge.bits) or age >= WAIT


def solve(token: str, bits: int) -> str:
    """What the page's script computes (for tests and for scripts that ask for people)."""
    if bits <= 0:
        raise ValueError("this challenge asks for no work: it counts the time waited")
    n = 0
    while not solves(token, str(n), bits):
        n += 1
    return str(n)
