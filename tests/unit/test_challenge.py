"""The ask form's challenge: signed, bound to its group, solved or waited for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app import challenge

SECRET = "s" * 40
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_a_token_is_read_back_only_for_its_group_and_with_its_signature() -> None:
    token = challenge.issue(SECRET, 3, NOW, bits=8)
    found = challenge.read(SECRET, token, 3)
    assert found is not None
    assert (found.group_id, found.bits, found.issued_at) == (3, 8, NOW)
    assert challenge.read(SECRET, token, 4) is None
    assert challenge.read("t" * 40, token, 3) is None
    payload, _, mac = token.rpartition(".")
    assert challenge.read(SECRET, payload.replace(".8.", ".0.") + "." + mac, 3) is None
    for garbage in ("", "x", "1.2.3", "a.b.c.d.e", "." * 300):
        assert challenge.read(SECRET, garbage, 3) is None


def test_a_solved_challenge_proves_a_person_at_once() -> None:
    found = challenge.read(SECRET, challenge.issue(SECRET, 3, NOW, bits=10), 3)
    assert found is not None
    proof = challenge.solve(found.token, found.bits)
    assert challenge.proves_a_person(found, proof, NOW)
    wrong = next(str(n) for n in range(10_000) if not challenge.solves(found.token, str(n), 10))
    assert not challenge.proves_a_person(found, wrong, NOW)
    assert not challenge.proves_a_person(found, "", NOW)


def test_without_a_solution_the_wait_proves_a_person() -> None:
    found = challenge.read(SECRET, challenge.issue(SECRET, 3, NOW, bits=0), 3)
    assert found is not None
    assert not challenge.proves_a_person(found, "", NOW + challenge.WAIT - timedelta(seconds=1))
    assert challenge.proves_a_person(found, "", NOW + challenge.WAIT)
    assert not challenge.proves_a_person(found, "", NOW + challenge.LIFETIME + timedelta(seconds=1))
    assert not challenge.proves_a_person(found, "", NOW - timedelta(minutes=5))  # from the future
    with pytest.raises(ValueError, match="no work"):
        challenge.solve(found.token, 0)
