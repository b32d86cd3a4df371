"""The instance's keys, created on first start: the log's signing key, kept in
COMMONPURSE_SIGNING_KEY_FILE, and the witness key it cosigns other logs with
(COMMONPURSE_WITNESS_KEY_FILE), a key of its own under a name of its own."""

from __future__ import annotations

from app.settings import Settings
from ledger.checkpoint import SigningKey
from ledger.cosignature import CosigningKey
from ledger.log import Notary


def load_notary(settings: Settings) -> Notary:
    """The notary that signs checkpoints; its key is named after the instance's host."""
    key = SigningKey.load_or_create(settings.signing_key_file, settings.host)
    return Notary(key=key, host=settings.host)


def load_cosigning_key(settings: Settings) -> CosigningKey:
    """The witness key; named ``<host>/witness`` unless COMMONPURSE_WITNESS_NAME says."""
    return CosigningKey.load_or_create(settings.witness_key_path, settings.witness_key_name)
