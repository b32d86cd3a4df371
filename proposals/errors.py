"""Refusals of the decision process. They subclass the ledger's kinds of error, so the web
shell's single table maps them (invalid input 422, not found 404, conflict 409)."""

from __future__ import annotations

from ledger.errors import Conflict, InvalidInput, NotFound


class InvalidProposal(InvalidInput):
    """A proposal, amendment, response or rule is malformed."""


class ProposalNotFound(NotFound):
    """No such proposal in this group."""


class NotEligible(Conflict):
    """The member may not respond in this round (joined later, removed, or not a member)."""


class RoundClosed(Conflict):
    """The round or the proposal is closed; the action came too late."""


class TooEarly(Conflict):
    """The round cannot close yet: ``min_open_hours`` have not passed and some members
    have not responded."""


class NotAllowed(Conflict):
    """Only the author (or a facilitator) may do this (HTTP 403, like a missing role)."""


class CommentNotFound(NotFound):
    """No such comment in this proposal's discussion."""


class CommentHidden(Conflict):
    """A facilitator hid the comment; it can no longer be edited (nor hidden again)."""
