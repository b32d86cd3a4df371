"""A round's minute is written and read through one type, and its stored bytes never
change: a group's minutes are kept forever."""

from __future__ import annotations

import json

from proposals.minute import Minute, decode, encode

# A minute as the code before ``proposals.minute`` wrote it (a real run: a round passed
# with a concern, non-ASCII text in a title and a reason).
WRITTEN = (
    '{"closed_at": "2026-12-05T06:28:41.165869+00:00", "closed_by": "all_responded", '
    '"eligible": [{"id": 1, "name": "Admin-Rent-Fund"}, {"id": 2, "name": "Steward-Rent-Fund"}, '
    '{"id": 3, "name": "Facilitator-Rent-Fund"}, {"id": 4, "name": "Member-Rent-Fund"}], '
    '"outcome": {"explanation": "Passed: 4 of 4 responses agree or agree with concerns, 2 '
    "needed; 0 of 4 stood aside, the limit is 1; nobody blocked. 4 of 4 eligible members "
    'responded: 3 agree, 1 concern, 0 stand-asides, 0 blocks.", "reason": "passed", '
    '"status": "passed"}, "proposal": 1, "responses": [{"at": '
    '"2026-12-05T06:28:40.978335+00:00", "member": "Admin-Rent-Fund", "member_id": 1, '
    '"position": "concern", "reason": "\\u00c7a co\\u00fbte 300 \\u20ac \\u00ab cher '
    '\\u00bb"}, {"at": "2026-12-05T06:28:41.027321+00:00", "member": "Steward-Rent-Fund", '
    '"member_id": 2, "position": "agree", "reason": ""}, {"at": '
    '"2026-12-05T06:28:41.107373+00:00", "member": "Facilitator-Rent-Fund", "member_id": 3, '
    '"position": "agree", "reason": ""}, {"at": "2026-12-05T06:28:41.165869+00:00", '
    '"member": "Member-Rent-Fund", "member_id": 4, "position": "agree", "reason": ""}], '
    '"round": 1, "tally": {"agree": 3, "block": 0, "concern": 1, "eligible": 4, '
    '"quorum_needed": 2, "responded": 4, "stand_aside": 0}, "version": {"amount": 30000, '
    '"body": "Three months of arrears.", "counterparty": "R-17", "fund": "rent-relief", '
    '"number": 1, "title": "Loyer de mars \\u2014 R-17 \\u2713"}}'
)


def test_a_written_minute_reads_back_and_encodes_to_the_same_bytes() -> None:
    minute = decode(WRITTEN)
    assert isinstance(minute, Minute)
    assert minute.version.title == "Loyer de mars \u2014 R-17 \u2713"
    assert minute.responses[0].reason == "\u00c7a co\u00fbte 300 \u20ac \u00ab cher \u00bb"
    assert minute.tally is not None
    assert minute.tally.quorum_needed == 2
    assert minute.outcome is not None
    assert minute.outcome.status == "passed"
    assert encode(minute) == WRITTEN
    assert minute.to_builtins() == json.loads(WRITTEN)


def test_a_minute_without_a_tally_or_an_outcome_stays_so() -> None:
    """Minutes from before the tally was kept have none; an amendment's has no outcome."""
    old = json.loads(WRITTEN)
    del old["tally"]
    old["outcome"] = None
    old["eligible"][0]["name"] = None  # a person no longer known
    written = json.dumps(old, sort_keys=True, default=str)
    minute = decode(written)
    assert minute.tally is None
    assert minute.outcome is None
    assert minute.eligible[0].name is None
    assert encode(minute) == written
    assert "tally" not in minute.to_builtins()
