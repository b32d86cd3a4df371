"""What a new password must be: long enough, and not one that guessers try first.

NIST SP 800-63B's advice: a minimum length, no composition rules, and a check against lists
of common, expected or compromised passwords, repeats and sequences ("aaaaaaaaaa",
"1234567890") and words of the context (the person's name or e-mail, the service's name).
zxcvbn estimates how many guesses a password takes from exactly those lists and patterns; a
score below 3 (fewer than about 10^8 guesses) is refused with its own advice.
"""

from __future__ import annotations

import re

from zxcvbn import zxcvbn

MIN_LENGTH = 10
MAX_LENGTH = 1000  # Argon2 hashes anything, but not a megabyte on every login
_ENOUGH_GUESSES = 3  # zxcvbn's score: 3 is "safely unguessable" for a slowly hashed password
_CONTEXT = ("common", "purse", "commonpurse", "mutual", "aid")


def weak_password_reason(password: str, *, email: str = "", name: str = "") -> str | None:
    """Why this password is refused, in one or two sentences; None when it may be used."""
    if len(password) < MIN_LENGTH:
        return f"Choose a password of at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Keep the password to {MAX_LENGTH:,} characters or fewer."
    # The words someone guessing would try first: the person's own and this service's.
    words = f"{email} {name}".lower()
    context = [*_CONTEXT, *words.split(), *re.split(r"[\s@._+-]+", words)]
    # zxcvbn's cost grows with the length; what counts for guessing is at the start.
    result = zxcvbn(password[:100], user_inputs=[word for word in context if word])
    if result["score"] >= _ENOUGH_GUESSES:
        return None
    feedback = result["feedback"]
    advice = " ".join(
        part for part in (feedback.get("warning", ""), *feedback.get("suggestions", [])) if part
    )
    return ("This password is too easy to guess. " + (advice or "Add another word or two.")).strip()
