"""The ledger's own errors. The web shell maps each to an HTTP status in one table."""

from __future__ import annotations


class LedgerError(Exception):
    """Base class: a rule of the ledger refused an action. ``str(err)`` is for people;
    ``in_log``, for a rule of the log, is how a verifier names the broken rule after the
    entry ("takes the fund 'rent' below zero")."""

    field: str | None = None

    def __init__(
        self, message: str, *, field: str | None = None, in_log: str | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        self.in_log = in_log or message


class InvalidInput(LedgerError):
    """The input is malformed: a bad amount, currency, slug or date (HTTP 422)."""


class NotFound(LedgerError):
    """A group, fund, entry or user does not exist (HTTP 404)."""


class NotYet(NotFound):
    """Not there yet, but soon: the first checkpoint of a log whose entries are being signed
    in the background (HTTP 503 with Retry-After: ask again in a moment)."""


class Conflict(LedgerError):
    """The input is well formed but the ledger's state refuses it (HTTP 409)."""


class InsufficientFunds(Conflict):
    """The entry would take a fund below zero."""


class Unbalanced(Conflict):
    """An entry's postings do not sum to zero in each currency (never from our own rules)."""


class BalanceLimit(Conflict):
    """The entry would take a fund's balance beyond what the ledger keeps."""


class AlreadyReversed(Conflict):
    """An entry can be reversed once."""


class ClosedPeriod(Conflict):
    """An entry dated into a period of a place that is reconciled with the bank already."""


class NotAuthorised(Conflict):
    """A disbursement names a proposal that does not authorise it."""


class IdempotencyMismatch(Conflict):
    """The same Idempotency-Key was used earlier with another request body."""


class AlreadyExists(Conflict):
    """A slug or e-mail address is taken."""


class UnsupportedFile(InvalidInput):
    """An attached file is not of a type receipts may be (PDF, PNG, JPEG, WebP: HTTP 415)."""


class FileTooLarge(InvalidInput):
    """An attached file is larger than the instance accepts (HTTP 413)."""


class Erased(NotFound):
    """What was asked for existed but was erased with a person's data (HTTP 410)."""
