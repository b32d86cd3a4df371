"""The instance's signing key: created on first start, kept in COMMONPURSE_SIGNING_KEY_FILE."""

from __future__ import annotations

from app.settings import Settings
from ledger.checkpoint import SigningKey
from ledger.log import Notary


def load_notary(settings: Settings) -> Notary:
    """The notary that signs checkpoints; its key is named after the instance's host."""
    key = SigningKey.load_or_create(settings.signing_key_file, settings.host)
    return Notary(key=key, host=settings.host)
