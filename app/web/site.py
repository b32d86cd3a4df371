"""The HTML side: public transparency pages and the members' web app (Jinja2, no JS needed).

``configure`` is called once by ``app.asgi.CommonPursePlugin`` and adds the templates, the
pages' route handlers, the static files, CSRF, the login redirect and the security headers.
Sessions are rows of ``web_sessions`` read by ``app.auth.authenticate`` (see there).
"""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.datastructures import CacheControlHeader
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from app.errors import PAGE_ERROR_HANDLERS
from app.guards import LoginRequired, login_redirect
from app.settings import Settings
from app.web.ask import AskPages
from app.web.auth import JoinPages, LoginPages, PasswordPages
from app.web.giving import DonorPages, GivingAdminPages, GivingPages
from app.web.groups import Feeds, GroupPages, MemberGroupPages
from app.web.ledger import LedgerForms, LedgerPages
from app.web.members import MemberPages
from app.web.proposals import MemberProposalPages, ProposalPages, RulesPages
from app.web.requests import RequestPages
from app.web.security import COOKIE_FREE, csrf_middleware, security_headers
from app.web.statements import StatementPages
from app.web.templating import STATIC, create_environment
from app.web.verification import VerificationKeeper

# Every page controller: each answers errors as a page (``PAGE_ERROR_HANDLERS``).
PAGE_CONTROLLERS = (
    GroupPages,
    MemberGroupPages,
    LedgerPages,
    LedgerForms,
    StatementPages,
    ProposalPages,
    MemberProposalPages,
    RulesPages,
    GivingPages,
    GivingAdminPages,
    DonorPages,
    AskPages,
    RequestPages,
    MemberPages,
    LoginPages,
    PasswordPages,
    JoinPages,
)


def configure(app_config: AppConfig, settings: Settings) -> None:
    """Wire the web pages onto the application."""
    app_config.template_config = TemplateConfig(
        instance=JinjaTemplateEngine.from_environment(create_environment())
    )
    for controller in PAGE_CONTROLLERS:
        controller.exception_handlers = dict(PAGE_ERROR_HANDLERS)
    app_config.route_handlers.extend(
        [
            *PAGE_CONTROLLERS,
            Feeds,
            create_static_files_router(
                path="/static",
                directories=[STATIC],
                name="static",
                cache_control=CacheControlHeader(max_age=86_400, public=True),
                opt={COOKIE_FREE: True},
                include_in_schema=False,
            ),
        ]
    )
    app_config.middleware.append(csrf_middleware(settings))
    app_config.before_send.append(security_headers(settings))
    app_config.exception_handlers[LoginRequired] = login_redirect
    # Its results are kept per group for one run of the app: a restarted app checks afresh.
    app_config.on_startup.append(
        lambda app: app.state.update(verification_keeper=VerificationKeeper(settings))
    )
