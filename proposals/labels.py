"""What pages and documents call statuses, kinds, positions and how a round closed, in the
words of the people who use them (one place, so the page and the PDF never disagree)."""

from __future__ import annotations

STATUS_LABELS = {
    "open": "Open",
    "passed": "Passed",
    "blocked": "Blocked",
    "not_passed": "Not passed",
    "withdrawn": "Withdrawn",
}
KIND_LABELS = {
    "general": "Decision",
    "disbursement": "Payment from a fund",
    "policy": "Spending policy",
}
POSITION_LABELS = {
    "agree": "Agree",
    "concern": "Agree with a concern",
    "stand_aside": "Stand aside",
    "block": "Block",
}
CLOSED_BY = {
    "deadline": "at its deadline",
    "facilitator": "by a facilitator",
    "all_responded": "when every eligible member had responded",
    "amended": "without a decision, because the proposal was amended",
    "withdrawn": "without a decision, because the proposal was withdrawn",
}
