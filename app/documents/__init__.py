"""Documents: audit statements, decision records and receipts as PDF/A-3 (WeasyPrint).

``configure`` is called once by ``app.asgi.CommonPursePlugin`` and adds the documents'
route handlers.
"""

from __future__ import annotations

from litestar.config.app import AppConfig

from app.settings import Settings


def configure(app_config: AppConfig, settings: Settings) -> None:
    """Wire the document routes onto the application."""
