"""The read side's own logic: who sees names, how a statement names a decision, and how a
round and a minute read, whichever medium (page or PDF) shows them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.presenters.ledger import DecisionLine, decision_line
from app.presenters.proposals import MinuteView, RoundView, Tally
from ledger.models import Group
from proposals import queries, rules, service
from proposals.queries import Decision

GROUP = cast("Group", object())
NO_SESSION = cast("AsyncSession", object())


@pytest.fixture
def public_names(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The group's ``public_names`` as ``service.get_rules`` would read it."""
    setting = [False]

    async def get_rules(session: Any, group: Any) -> tuple[rules.DecisionRules, bool]:
        return rules.DecisionRules(), setting[0]

    monkeypatch.setattr(service, "get_rules", get_rules)
    return setting


async def test_members_always_see_names(public_names: list[bool]) -> None:
    assert await queries.names_visible(NO_SESSION, GROUP, member=True)


async def test_others_see_names_only_when_the_group_makes_them_public(
    public_names: list[bool],
) -> None:
    assert not await queries.names_visible(NO_SESSION, GROUP, member=False)
    public_names[0] = True
    assert await queries.names_visible(NO_SESSION, GROUP, member=False)


def test_a_statement_line_names_the_outcome_and_the_utc_day() -> None:
    decision = Decision(
        number=7,
        round=2,
        title="Rent for R-17",
        status="not_passed",
        explanation="Too few responses.",
        decided_at=datetime(2024, 2, 12, 23, 30, tzinfo=UTC),
        fund="rent-relief",
        amount="300.00",
        currency="EUR",
    )
    assert decision_line(decision) == DecisionLine(
        7, "Rent for R-17", "Not passed", date(2024, 2, 12), "300.00 EUR", "rent-relief",
        "Too few responses.", 2,
    )  # fmt: skip
    withdrawn = Decision(**{**_fields(decision), "status": "withdrawn", "amount": None})
    assert decision_line(withdrawn).amount is None


def _fields(decision: Decision) -> dict[str, Any]:
    return {name: getattr(decision, name) for name in Decision.__dataclass_fields__}


def _round(**fields: Any) -> RoundView:
    moment = datetime(2024, 3, 1, tzinfo=UTC)
    values: dict[str, Any] = {
        "number": 1,
        "version": 1,
        "opened_at": moment,
        "closes_at": moment,
        "closed_at": moment,
        "closed_by": "at its deadline",
        "outcome": "passed",
        "outcome_label": "Passed",
        "explanation": "Passed: everyone agrees.",
        "tally": Tally(1, 0, 0, 0, 1, 1, 1),
        "responses": [],
        "minute": None,
    }
    return RoundView(**{**values, **fields})


def test_a_round_says_where_it_stands_and_why() -> None:
    decided = _round()
    assert (decided.state_label, decided.full_explanation) == ("Passed", "Passed: everyone agrees.")
    amended = _round(outcome=None, outcome_label="", explanation="", closed_by="when amended")
    assert (amended.state_label, amended.full_explanation) == (
        "Closed without a decision",
        "when amended",
    )
    running = _round(closed_at=None, outcome=None, outcome_label="", explanation="Not passed: …")
    assert running.is_open
    assert (running.state_label, running.full_explanation) == (
        "Open",
        "If it closed now: Not passed: …",
    )


def test_a_minute_names_who_it_knows() -> None:
    minute = MinuteView(
        version=1, title="t", amount="", fund=None, counterparty=None, eligible=2,
        names=["Ana", None],
    )  # fmt: skip
    assert minute.eligible_names == ["Ana"]
    assert minute.names_or("a member") == ["Ana", "a member"]
