"""The HTML side: public transparency pages and the members' web app (Jinja2, no JS needed).

``configure`` is called once by ``app.asgi.CommonPursePlugin`` and adds the templates, the
pages' route handlers, sessions, CSRF and the security headers.
"""

from __future__ import annotations

from litestar.config.app import AppConfig

from app.settings import Settings


def configure(app_config: AppConfig, settings: Settings) -> None:
    """Wire the web pages onto the application."""
