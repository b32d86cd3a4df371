"""Decisions in the log: what a decision leaf says, and the rule that a payment is
authorised only by a decision leaf earlier in the log.

Closing a round appends a decision leaf (kind ``decision``, leaf version 3) to the group's
log: the proposal (number and version), the round, its outcome, the tally's counts, the
rules that applied, a place for a tier (null until groups have tiers), the SHA-256 of the
round's minute, what it authorises to pay (fund, amount, counterparty) or the policy terms
it adopts or ends, and names only where the group publishes them. A payment written since
names the decision leaf it is made under (``decided_in``, its seq).

``DecisionBook`` is the rule, pure, replayed by both verifiers (the database's and the
bundle's) next to ``ledger.rules.Books``: a payment that names a decision leaf must come
after it, and the decision must be of its proposal or policy, passed, still in force, for
its fund and counterparty, with room for its amount. A payment written before decision
leaves existed (no ``decided_in``) is counted as authorised by the database record only,
unless the log holds a decision of its proposal or policy already: then it had to name it.

The proposals package builds a ``DecisionLeaf`` from a closed round (the ledger knows no
proposals); ``ledger.service.record_decision`` appends it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.canonical import LeafDecisionDoc, LeafDoc
from ledger.errors import Conflict, NotAuthorised
from ledger.money import format_amount
from ledger.rules import DECISION, HOLDING_ROOT, REVERSAL, Leg

PASSED = "passed"
DISBURSEMENT = "disbursement"
# How many seqs of payments authorised by the database record only a report lists.
UNLOGGED_LISTED = 20


# --- writing --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """The terms a policy proposal adopts, or (``end``) the policy it ends."""

    fund: str | None = None
    currency: str | None = None
    max_per_payment: int | None = None
    max_per_month: int | None = None
    purpose: str | None = None
    payers: tuple[int, ...] = ()
    ends_on: date | None = None
    replaces: int | None = None
    end: bool = False
    reimbursements: bool = False  # it may pay members' claims


@dataclass(frozen=True, slots=True)
class DecisionLeaf:
    """A closed round as its decision leaf states it (plain values, no personal data unless
    ``names`` holds the names the group publishes)."""

    proposal: int
    version: int
    round: int
    outcome: str  # passed, blocked, not_passed; or amended, withdrawn (closed undecided)
    closed_by: str
    tally: Mapping[str, int]  # agree, concern, stand_aside, block, responded, eligible, ...
    rules: Mapping[str, Any]  # the round's rules as ``DecisionRules.to_json`` writes them
    minute_sha256: str
    money: tuple[str, int, str, str | None] | None = None  # fund, amount, currency, to whom
    policy: PolicyDecision | None = None
    names: Sequence[tuple[str, str]] | None = None  # (member, position), when published
    tier: str | None = None


TALLY_KEYS = ("agree", "concern", "stand_aside", "block", "responded", "eligible", "quorum_needed")


def _text(value: Any) -> Any:
    """A rule's value as canonical text (booleans as true/false, None kept as null)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): _text(item) for key, item in value.items()}
    raise TypeError(f"a rule's value is text, a number, a boolean or an object, not {value!r}")


def decision_body(leaf: DecisionLeaf) -> dict[str, Any]:
    """The ``decision`` part of the leaf (``ledger.canonical.LeafDecisionDoc``)."""
    body: dict[str, Any] = {
        "closed_by": leaf.closed_by,
        "minute": leaf.minute_sha256,
        "outcome": leaf.outcome,
        "round": str(leaf.round),
        "rules": _text(dict(leaf.rules)),
        "tally": {key: str(leaf.tally[key]) for key in TALLY_KEYS},
        "tier": leaf.tier,
    }
    if leaf.money is not None:
        fund, amount, currency, counterparty = leaf.money
        money = {"fund": fund, "amount": str(amount), "currency": currency}
        if counterparty is not None:
            money["counterparty"] = counterparty
        body["money"] = money
    if leaf.policy is not None:
        terms = leaf.policy
        policy: dict[str, Any] = {}
        if terms.end:
            policy["end"] = "true"
        if terms.reimbursements:  # absent otherwise: such leaves keep version "4"
            policy["reimbursements"] = "true"
        for name in ("fund", "currency", "purpose"):
            if getattr(terms, name) is not None:
                policy[name] = getattr(terms, name)
        for name in ("max_per_payment", "max_per_month", "replaces"):
            if getattr(terms, name) is not None:
                policy[name] = str(getattr(terms, name))
        if terms.ends_on is not None:
            policy["ends_on"] = terms.ends_on.isoformat()
        if terms.payers:
            policy["payers"] = [str(payer) for payer in terms.payers]
        body["policy"] = policy
    if leaf.names is not None:
        body["names"] = [{"member": member, "position": pos} for member, pos in leaf.names]
    return body


# --- checking -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Decided:
    """A decision leaf as the rule reads it."""

    seq: int
    proposal: int
    version: int
    outcome: str
    fund: str | None = None
    amount: int | None = None
    counterparty: str | None = None
    # A policy it adopts (its limits) or the policy it ends or amends.
    max_per_payment: int | None = None
    max_per_month: int | None = None
    ends_on: str | None = None
    replaces: int | None = None


def _number(text: str | None) -> int | None:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit() and str(int(text)) == text):
        raise ValueError(text)
    return int(text)


_MISSING = object()


class DecisionBook:
    """The decisions of the log so far and what was paid under them: what the rule that
    payments follow decisions reads. Both verifiers feed it every entry in log order.

    Changes can be undone to a ``mark`` (the bundle's batched check adds a whole batch and
    takes it back when some entry breaks a rule)."""

    def __init__(self) -> None:
        self.decisions: dict[int, _Decided] = {}  # decision leaves by seq
        self.latest: dict[int, int] = {}  # proposal number -> its latest decision's seq
        self.ended: dict[int, int] = {}  # policy number -> the passed decision ending it
        self.paid: dict[int, int] = {}  # proposal number -> paid under its decision
        self.used: dict[tuple[int, str], int] = {}  # (policy, "YYYY-MM") -> paid that month
        # Payments made under a logged decision, by seq, so a reversal frees their room.
        self.payments: dict[int, tuple[bool, int, int, str]] = {}
        self.unlogged = 0  # payments authorised by the database record only
        self.unlogged_seqs: list[int] = []  # the first of them
        self._undo: list[tuple[dict[Any, Any], Any, Any]] | None = None

    # Changes go through ``_set`` so that a batch can be taken back.
    def _set(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        if self._undo is not None:
            self._undo.append((table, key, table.get(key, _MISSING)))
        table[key] = value

    def _pop(self, table: dict[Any, Any], key: Any) -> Any:
        value = table.pop(key, _MISSING)
        if self._undo is not None and value is not _MISSING:
            self._undo.append((table, key, value))
        return value

    def mark(self) -> None:
        self._undo = []
        self._unlogged_mark = (self.unlogged, len(self.unlogged_seqs))

    def keep(self) -> None:
        self._undo = None

    def undo(self) -> None:
        assert self._undo is not None
        for table, key, value in reversed(self._undo):
            if value is _MISSING:
                table.pop(key, None)
            else:
                table[key] = value
        self.unlogged, listed = self._unlogged_mark
        del self.unlogged_seqs[listed:]
        self._undo = None

    # --- the entries ---

    def decision(self, seq: int, proposal: int, version: int, body: LeafDecisionDoc) -> None:
        """A decision leaf joins the log."""
        money, policy = body.money, body.policy
        try:
            decided = _Decided(
                seq=seq,
                proposal=proposal,
                version=version,
                outcome=body.outcome,
                fund=money.fund if money else (policy.fund if policy else None),
                amount=_number(money.amount) if money else None,
                counterparty=money.counterparty if money else None,
                max_per_payment=_number(policy.max_per_payment) if policy else None,
                max_per_month=_number(policy.max_per_month) if policy else None,
                ends_on=policy.ends_on if policy else None,
                replaces=_number(policy.replaces) if policy else None,
            )
        except ValueError as error:
            raise Conflict(
                "A decision states an amount that is not a whole number.",
                in_log=f"is a decision whose amount or number {error} is not a whole number",
            ) from error
        self._set(self.decisions, seq, decided)
        self._set(self.latest, proposal, seq)
        if (
            decided.outcome == PASSED
            and decided.replaces is not None
            and decided.replaces not in self.ended
        ):
            self._set(self.ended, decided.replaces, seq)

    def payment(
        self,
        seq: int,
        *,
        proposal: tuple[int, int] | None,
        policy: tuple[int, int] | None,
        decided_in: int | None,
        fund: str,
        amount: int,
        currency: str,
        counterparty: str | None,
        occurred_on: str,
        recorded_on: str,
    ) -> None:
        """A payment joins the log, if a decision earlier in the log authorises it."""
        named = proposal or policy
        if decided_in is None:
            # Written before decision leaves: authorised by the database record only, unless
            # its decision is in the log already (then it had to name it).
            if named is not None and named[0] in self.latest:
                what = "proposal" if proposal else "policy"
                raise self._refused(
                    f"is paid under {what} {named[0]} without naming its decision "
                    f"(entry {self.latest[named[0]]})"
                )
            self.unlogged += 1
            if len(self.unlogged_seqs) < UNLOGGED_LISTED:
                self.unlogged_seqs.append(seq)
            return
        if named is None:
            raise self._refused(f"names entry {decided_in} as its decision but no proposal")
        if decided_in >= seq:
            raise self._refused(
                f"is paid under entry {decided_in}, which comes later in the log; a payment "
                "follows its decision"
            )
        decided = self.decisions.get(decided_in)
        what = "proposal" if proposal else "policy"
        if decided is None:
            raise self._refused(f"is paid under entry {decided_in}, which is not a decision")
        if decided.proposal != named[0] or decided.version != named[1]:
            raise self._refused(
                f"is paid under {what} {named[0]} version {named[1]}, but entry {decided_in} "
                f"decided proposal {decided.proposal} version {decided.version}"
            )
        latest = self.latest[decided.proposal]
        if latest != decided_in:
            raise self._refused(
                f"is paid under the decision in entry {decided_in}, which entry {latest} "
                "decided again"
            )
        if decided.outcome != PASSED:
            raise self._refused(
                f"is paid under {what} {named[0]}, which did not pass "
                f"(entry {decided_in}: {decided.outcome.replace('_', ' ')})"
            )
        if proposal is not None:
            self._under_proposal(seq, decided, fund, amount, currency, counterparty)
        else:
            self._under_policy(seq, decided, fund, amount, currency, occurred_on, recorded_on)

    def _under_proposal(
        self,
        seq: int,
        decided: _Decided,
        fund: str,
        amount: int,
        currency: str,
        counterparty: str | None,
    ) -> None:
        number = decided.proposal
        if decided.amount is None or decided.fund is None:
            raise self._refused(
                f"is paid under proposal {number}, whose decision (entry {decided.seq}) "
                "authorises no payment"
            )
        if decided.fund != fund:
            raise self._refused(
                f"is paid from the fund {fund!r}; proposal {number} (entry {decided.seq}) "
                f"authorised the fund {decided.fund!r}"
            )
        if (counterparty or None) != decided.counterparty:
            raise self._refused(
                f"pays {counterparty or 'nobody named'}; proposal {number} (entry "
                f"{decided.seq}) decided to pay {decided.counterparty or 'nobody named'}"
            )
        paid = self.paid.get(number, 0)
        if amount > decided.amount - paid:
            left = format_amount(max(decided.amount - paid, 0), currency)
            raise self._refused(
                f"pays {format_amount(amount, currency)} {currency} under proposal {number}, "
                f"which had {left} {currency} left of what entry {decided.seq} authorised"
            )
        self._set(self.paid, number, paid + amount)
        self._set(self.payments, seq, (True, number, amount, ""))

    def _under_policy(
        self,
        seq: int,
        decided: _Decided,
        fund: str,
        amount: int,
        currency: str,
        occurred_on: str,
        recorded_on: str,
    ) -> None:
        number = decided.proposal
        if decided.max_per_payment is None or decided.max_per_month is None:
            raise self._refused(
                f"is paid under policy {number}, but entry {decided.seq} adopts no policy terms"
            )
        ended = self.ended.get(number)
        if ended is not None:
            raise self._refused(f"is paid under policy {number}, which entry {ended} ended")
        if decided.ends_on is not None and max(occurred_on, recorded_on) > decided.ends_on:
            raise self._refused(
                f"is paid under policy {number} after its last day, {decided.ends_on}"
            )
        if decided.fund != fund:
            raise self._refused(
                f"is paid from the fund {fund!r}; policy {number} (entry {decided.seq}) pays "
                f"from {decided.fund!r}"
            )
        if amount > decided.max_per_payment:
            raise self._refused(
                f"pays {format_amount(amount, currency)} {currency} under policy {number}, "
                f"whose most per payment is {format_amount(decided.max_per_payment, currency)}"
            )
        month = occurred_on[:7]
        used = self.used.get((number, month), 0)
        if used + amount > decided.max_per_month:
            left = format_amount(max(decided.max_per_month - used, 0), currency)
            raise self._refused(
                f"pays {format_amount(amount, currency)} {currency} under policy {number}, "
                f"which had {left} {currency} left for {month}"
            )
        self._set(self.used, (number, month), used + amount)
        self._set(self.payments, seq, (False, number, amount, month))

    def reversal(self, reverses: int) -> None:
        """A payment reversed frees what it used of its decision."""
        found = self._pop(self.payments, reverses)
        if found is _MISSING:
            return
        under_proposal, number, amount, month = found
        if under_proposal:
            self._set(self.paid, number, self.paid[number] - amount)
        else:
            self._set(self.used, (number, month), self.used[(number, month)] - amount)

    def leaf(self, seq: int, document: LeafDoc, legs: Sequence[Leg]) -> None:
        """Any leaf of the log, as a verifier reads it (after ``Books.record`` took it)."""
        kind = document.kind
        decided_in = None
        if document.decided_in is not None:
            try:
                decided_in = _number(document.decided_in)
            except ValueError:
                raise self._refused(
                    f"names {document.decided_in!r} as its decision, which is not an entry"
                ) from None
        if kind == DECISION or document.decision is not None:
            if kind != DECISION or document.decision is None or document.proposal is None:
                raise self._refused("is not a whole decision: a decision leaf states one")
            if decided_in is not None:
                raise self._refused("is a decision that names a decision")
            try:
                number = _number(document.proposal.number)
                version = _number(document.proposal.version)
            except ValueError:
                raise self._refused("is a decision of a proposal that is not a number") from None
            assert number is not None
            assert version is not None
            self.decision(seq, number, version, document.decision)
            return
        if kind == REVERSAL and document.reverses is not None:
            reverses = _number(document.reverses)
            if reverses is not None:
                self.reversal(reverses)
        if kind != DISBURSEMENT:
            if decided_in is not None:
                raise self._refused("names a decision but is not a payment")
            return
        holding = [leg for leg in legs if leg.account.startswith(HOLDING_ROOT)]
        if len(holding) != 1:
            raise self._refused("is a payment that does not take money from one fund")
        try:
            proposal = _pair(document.proposal)
            policy = _pair(document.policy)
        except ValueError:
            raise self._refused("names a proposal or policy that is not a number") from None
        self.payment(
            seq,
            proposal=proposal,
            policy=policy,
            decided_in=decided_in,
            fund=holding[0].fund,
            amount=-holding[0].amount,
            currency=holding[0].currency,
            counterparty=document.counterparty,
            occurred_on=document.occurred_on,
            recorded_on=document.recorded_at[:10],
        )

    @staticmethod
    def _refused(in_log: str) -> NotAuthorised:
        return NotAuthorised("The payment is not authorised by a decision.", in_log=in_log)


def _pair(named: Any) -> tuple[int, int] | None:
    if named is None:
        return None
    number, version = _number(named.number), _number(named.version)
    assert number is not None
    assert version is not None
    return number, version
