"""The instance's keys, created on first start: the log's signing key, kept in
COMMONPURSE_SIGNING_KEY_FILE, and the witness key it cosigns other logs with
(COMMONPURSE_WITNESS_KEY_FILE), a key of its own under a name of its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from app.db import unit_of_work
from app.settings import Settings
from ledger.checkpoint import SigningKey
from ledger.cosignature import CosigningKey
from ledger.groups import utcnow
from ledger.log import Notary, sign_pending

logger = logging.getLogger("commonpurse.signing")


def load_notary(settings: Settings) -> Notary:
    """The notary that signs checkpoints; its key is named after the instance's host."""
    key = SigningKey.load_or_create(settings.signing_key_file, settings.host)
    return Notary(key=key, host=settings.host, on_append=settings.checkpoint_interval <= 0)


def load_cosigning_key(settings: Settings) -> CosigningKey:
    """The witness key; named ``<host>/witness`` unless COMMONPURSE_WITNESS_NAME says."""
    return CosigningKey.load_or_create(settings.witness_key_path, settings.witness_key_name)


@asynccontextmanager
async def signing_loop(app: Litestar) -> AsyncIterator[None]:
    """Lifespan: sign the logs' new heads in batches, every COMMONPURSE_CHECKPOINT_INTERVAL
    seconds, off the appends' path (nothing to do when each append signs its own)."""
    settings: Settings = app.state.settings
    notary: Notary = app.state.notary
    if notary.on_append:
        yield
        return
    session_maker = app.state.alchemy_config.create_session_maker()

    async def sign() -> None:
        async with unit_of_work(session_maker) as session:
            await sign_pending(session, notary, utcnow())

    async def loop() -> None:
        while True:
            await asyncio.sleep(settings.checkpoint_interval)
            try:
                await sign()
            except Exception:  # keep the loop alive; the next batch signs what is left
                logger.exception("Signing the logs' checkpoints failed")

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # A server that stops leaves every entry it recorded under a signed checkpoint.
        with contextlib.suppress(Exception):
            await sign()
