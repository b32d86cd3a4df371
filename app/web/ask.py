"""Asking for support: a form anyone can use without an account, and a private status page.

Public groups take requests; a private group only when it enables the form (and then the
form is all an outsider sees of it). The person gets a private reference to follow their
request; nothing of theirs appears anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.deps import DbSession
from app.i18n import available_languages, choose, language_name, translations
from app.web.templating import page
from ledger.errors import InvalidInput
from ledger.groups import find_group, utcnow
from ledger.models import Group
from proposals import support
from proposals.models import SupportSettings

# A request is text: a few kilobytes at most.
MAX_FORM_BYTES = 16_384
FORM_FIELDS = ("need", "amount", "urgency", "name", "phone", "email", "via_member")
AMOUNT_HELP = "Please write the amount with digits, such as 120 or 120.50, or leave it empty."


@dataclass(frozen=True, slots=True)
class AskContext:
    group: Group
    settings: SupportSettings
    languages: list[str]


async def _open_group(session: AsyncSession, slug: str) -> AskContext:
    group = await find_group(session, slug)
    if group is None:
        raise NotFoundException("There is no such group.")
    settings = await support.settings_of(session, group)
    if not support.ask_is_open(group, settings):
        raise NotFoundException("There is no such group.")
    offered = [code for code in settings.languages.split() if code in available_languages()]
    return AskContext(group, settings, offered or ["en"])


def _language(request: Request[Any, Any, Any], offered: list[str], chosen: str | None) -> str:
    if chosen in offered:
        return str(chosen)
    return choose(request.headers.get("accept-language", ""), offered)


def _form_page(
    request: Request[Any, Any, Any],
    context: AskContext,
    language: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    refusal: str = "",
    status_code: int = 200,
) -> Template:
    translate = translations(language).gettext
    return page(
        request,
        "public/ask.html",
        status_code=status_code,
        group=context.group,
        t=translate,
        language=language,
        languages=[(code, language_name(code)) for code in context.languages],
        values={name: "" for name in (*FORM_FIELDS, "consent")}
        | {"urgency": "normal"}
        | (values or {}),
        errors=errors or {},
        refusal=refusal,
        retention_days=context.settings.retention_days,
        headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"},
    )


class AskPages(Controller):
    path = "/g/{group:str}/ask"
    include_in_schema = False

    @get()
    async def form(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        group: FromPath[str],
        lang: FromQuery[str | None] = None,
    ) -> Template:
        context = await _open_group(db_session, group)
        return _form_page(request, context, _language(request, context.languages, lang))

    @post(request_max_body_size=MAX_FORM_BYTES)
    async def submit(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        group: FromPath[str],
        data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template | Redirect:
        context = await _open_group(db_session, group)
        language = _language(request, context.languages, data.get("language"))
        translate = translations(language).gettext
        values = {name: str(data.get(name, ""))[:5000] for name in FORM_FIELDS}
        values["consent"] = "yes" if data.get("consent") else ""
        if data.get("website"):
            # Only a robot fills the hidden field: refuse it and keep nothing.
            return _form_page(
                request,
                context,
                language,
                values=values,
                status_code=400,
                refusal=translate(
                    "This form could not be sent. If you are a person, please try again."
                ),
            )
        address = support.address_key(
            request.client.host if request.client else "unknown",
            request.app.state.settings.resolved_secret_key(),
        )
        form = support.AskForm(
            need=values["need"],
            amount=values["amount"],
            urgency=values["urgency"],
            name=values["name"],
            phone=values["phone"],
            email=values["email"],
            via_member=values["via_member"],
            language=language,
            consent=bool(values["consent"]),
        )
        try:
            created = await support.ask(
                db_session, context.group, form, address, utcnow(), languages=context.languages
            )
        except support.RateLimited as limited:
            return _form_page(
                request,
                context,
                language,
                values=values,
                status_code=429,
                refusal=translate(str(limited)),
            )
        except InvalidInput as invalid:
            return _form_page(
                request,
                context,
                language,
                values=values,
                status_code=422,
                errors={invalid.field or "need": translate(str(invalid))},
            )
        return Redirect(f"/g/{context.group.slug}/ask/{created.reference}?sent=1", status_code=303)

    @get("/{reference:str}")
    async def status(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        group: FromPath[str],
        reference: FromPath[str],
        sent: FromQuery[bool] = False,
    ) -> Template:
        context = await _open_group(db_session, group)
        try:
            status = await support.status_by_reference(db_session, context.group, reference)
        except support.NotFound as missing:
            raise NotFoundException(str(missing)) from missing
        found = await support.find_by_reference(db_session, context.group, reference)
        language = found.language if found and found.language in context.languages else "en"
        translate = translations(language).gettext
        steps = [
            ("received", translate("Received")),
            ("discussing", translate("Being discussed")),
            ("proposed", translate("Proposed to the group")),
            ("decided", translate("Decided")),
            ("paid", translate("Paid")),
        ]
        order = [key for key, _ in steps]
        current = status.status if status.status in order else "received"
        done = order[: order.index(current) + 1]
        explanations = {
            "received": translate(
                "Your request has arrived. Someone who handles requests will read it soon."
            ),
            "discussing": translate(
                "Someone who handles requests is looking at it and may contact you."
            ),
            "proposed": translate("The group is deciding together whether to help."),
            "decided": translate(
                "The group has decided: it will help, and the money will be paid soon."
            )
            if status.decision == "passed"
            else translate(
                "The group could not agree to help with this request this time. "
                "Someone may contact you about other ways to help."
            ),
            "paid": translate("The money has been paid."),
        }
        return page(
            request,
            "public/ask_status.html",
            group=context.group,
            t=translate,
            language=language,
            status=status,
            steps=steps,
            current=current,
            done=done,
            explanation=explanations[current],
            just_sent=sent,
            headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"},
        )
