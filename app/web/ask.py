"""Asking for support: a form anyone can use without an account, and a private status page.

Public groups take requests; a private group only when it enables the form (and then the
form is all an outsider sees of it). The person gets a private reference to follow their
request; nothing of theirs appears anywhere else.

Limits (``app.limits``): an address may send a few requests an hour. A group that receives
more than its hourly share is flooded: a request then needs a solved or waited-for
challenge (``app.challenge``) to reach the queue; without one it is accepted all the same,
and held apart for the stewards. Nobody with a real need is turned away by someone else's
flood.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from app import challenge
from app.db import commit_so_far, keep_changes
from app.deps import DbSession, settings_of
from app.i18n import available_languages, choose, language_name, translations
from app.jobs import forget_erased_files_after_commit
from app.limits import (
    ASK_FLOOD,
    ASK_HELD,
    ASK_PER_ADDRESS,
    CHALLENGE_SPENT,
    Limiter,
    client_address,
)
from app.presenters.formatting import Formatter, locale_or_default, typed_amount
from app.web.templating import page
from ledger.errors import Conflict, InvalidInput
from ledger.groups import find_group, utcnow
from ledger.models import Group
from proposals import support
from proposals.models import SupportRequest, SupportSettings

# A request is text: a few kilobytes at most.
MAX_FORM_BYTES = 16_384
FORM_FIELDS = ("need", "amount", "urgency", "name", "phone", "email", "via_member")
MAX_PROOF_CHARS = 20
AMOUNT_HELP = "Please write the amount with digits, such as 120 or 120.50, or leave it empty."


def decline_message(message: str, translate: Callable[[str], str]) -> str:
    """A declined request's message as a page shows it: the steward's own words as they are,
    or, when they wrote none, the domain's default sentence in the reader's language."""
    if message == support.DECLINED_WITHOUT_A_MESSAGE:
        return translate(message)
    return message


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


async def _flooded(session: AsyncSession, limiter: Limiter, group: Group, now: datetime) -> bool:
    return await limiter.peek(session, now, ASK_FLOOD, str(group.id)) > ASK_FLOOD.most


def _form_page(
    request: Request[Any, Any, Any],
    context: AskContext,
    language: str,
    token: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    refusal: str = "",
    status_code: int = 200,
) -> Template:
    translate = translations(language).gettext
    settings = settings_of(request)
    found = challenge.read(settings.resolved_secret_key(), token, context.group.id)
    return page(
        request,
        "public/ask.html",
        status_code=status_code,
        group=context.group,
        asks_open=True,
        t=translate,
        language=language,
        languages=[(code, language_name(code)) for code in context.languages],
        values={name: "" for name in (*FORM_FIELDS, "consent")}
        | {"urgency": "normal"}
        | (values or {}),
        errors=errors or {},
        refusal=refusal,
        retention_days=context.settings.retention_days,
        challenge=token,
        challenge_bits=found.bits if found else 0,
        headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"},
    )


def _new_token(request: Request[Any, Any, Any], group: Group, now: datetime, flooded: bool) -> str:
    settings = settings_of(request)
    bits = challenge.BITS if flooded else 0
    return challenge.issue(settings.resolved_secret_key(), group.id, now, bits=bits)


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
        now = utcnow()
        limiter = Limiter.of(settings_of(request))
        flooded = await _flooded(db_session, limiter, context.group, now)
        token = _new_token(request, context.group, now, flooded)
        return _form_page(request, context, _language(request, context.languages, lang), token)

    @post(request_max_body_size=MAX_FORM_BYTES)
    async def submit(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        group: FromPath[str],
        data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template | Redirect:
        context = await _open_group(db_session, group)
        settings = settings_of(request)
        now = utcnow()
        language = _language(request, context.languages, data.get("language"))
        translate = translations(language).gettext
        values = {name: str(data.get(name, ""))[:5000] for name in FORM_FIELDS}
        values["consent"] = "yes" if data.get("consent") else ""
        limiter = Limiter.of(settings)
        address = client_address(request, settings.trusted_networks)
        by_group = str(context.group.id)
        # The form's challenge comes back with it (a new one if it is not ours).
        sent_token = str(data.get("challenge", ""))
        found = challenge.read(settings.resolved_secret_key(), sent_token, context.group.id)
        token = found.token if found else _new_token(request, context.group, now, False)

        def again(status: int, **shown: Any) -> Template:
            return _form_page(
                request, context, language, token, values=values, status_code=status, **shown
            )

        if data.get("website"):
            # Only a robot fills the hidden field: refuse it and keep nothing, but count it.
            await limiter.hit(db_session, now, (ASK_PER_ADDRESS, address), (ASK_FLOOD, by_group))
            keep_changes(request)
            return again(
                400,
                refusal=translate(
                    "This form could not be sent. If you are a person, please try again."
                ),
            )
        form = support.AskForm(
            need=values["need"],
            # As the person wrote it in their language ("60,50 €"), read as "60.50".
            amount=typed_amount(values["amount"], language),
            urgency=values["urgency"],
            name=values["name"],
            phone=values["phone"],
            email=values["email"],
            via_member=values["via_member"],
            language=language,
            consent=bool(values["consent"]),
        )
        try:
            # Checked first, and not counted: a person correcting the form loses no turn.
            support.validate(form, context.group.currency, context.languages)
        except InvalidInput as invalid:
            # The ledger's words for a bad amount are for the API; a person reads these.
            said = AMOUNT_HELP if invalid.field == "amount" else str(invalid)
            return again(422, errors={invalid.field or "need": translate(said)})
        # Counting and deciding are one statement each (``app.limits``).
        from_address, to_group = await limiter.hit(
            db_session, now, (ASK_PER_ADDRESS, address), (ASK_FLOOD, by_group)
        )
        if from_address.exceeded:
            keep_changes(request)  # a refused attempt counts too
            return again(
                429,
                refusal=translate(
                    "You have sent several requests in the last hour. Please wait an "
                    "hour and try again, or ask a member you know to help."
                ),
            )
        held = False
        if to_group.exceeded:
            proof = str(data.get("proof", ""))[:MAX_PROOF_CHARS]
            held = not await _proves_a_person(db_session, limiter, found, proof, now)
        if held:
            (held_count,) = await limiter.hit(db_session, now, (ASK_HELD, by_group))
            if held_count.exceeded:
                keep_changes(request)
                return again(
                    429,
                    refusal=translate(
                        "Very many requests are arriving right now. Please wait a minute "
                        "and send your request again: what you wrote is kept below."
                    ),
                )
        # The counts stand whatever happens next, and no counter stays locked meanwhile.
        await commit_so_far(request)
        created = await support.ask(
            db_session, context.group, form, now, languages=context.languages, held=held
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
        done: FromQuery[str] = "",
    ) -> Template:
        context, found = await _open_request(db_session, group, reference)
        return await _status_page(request, db_session, context, found, just_sent=sent, done=done)

    @post("/{reference:str}/add", request_max_body_size=MAX_FORM_BYTES)
    async def add_information(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        group: FromPath[str],
        reference: FromPath[str],
        data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template | Redirect:
        context, found = await _open_request(db_session, group, reference)
        text = str(data.get("information", ""))[:5000]
        translate = _translate_for(context, found)
        if not text.strip():
            return await _status_page(
                request,
                db_session,
                context,
                found,
                problem=translate("Please write what you want to add."),
                status_code=422,
            )
        return await _act(
            request,
            db_session,
            context,
            found,
            "added",
            support.add_information(db_session, found, text),
            text,
        )

    @post("/{reference:str}/follow", request_max_body_size=MAX_FORM_BYTES)
    async def follow(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        group: FromPath[str],
        reference: FromPath[str],
        data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template | Redirect:
        context, found = await _open_request(db_session, group, reference)
        email = str(data.get("updates_email", ""))[:300]
        return await _act(
            request,
            db_session,
            context,
            found,
            "follows",
            support.follow_by_email(db_session, found, email),
        )

    @post("/{reference:str}/withdraw", request_max_body_size=MAX_FORM_BYTES)
    async def withdraw(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        group: FromPath[str],
        reference: FromPath[str],
        data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template | Redirect:
        context, found = await _open_request(db_session, group, reference)
        if not data.get("confirm"):
            return await _unconfirmed(request, db_session, context, found)
        return await _act(
            request, db_session, context, found, "withdrawn", support.withdraw(db_session, found)
        )

    @post("/{reference:str}/erase", request_max_body_size=MAX_FORM_BYTES)
    async def erase(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        group: FromPath[str],
        reference: FromPath[str],
        data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template | Redirect:
        context, found = await _open_request(db_session, group, reference)
        if not data.get("confirm"):
            return await _unconfirmed(request, db_session, context, found)
        # The receipts' files go once the erasure is committed.
        forget_erased_files_after_commit(request)
        return await _act(
            request,
            db_session,
            context,
            found,
            "erased",
            support.erase_by_person(db_session, found),
        )


async def _open_request(
    session: AsyncSession, slug: str, reference: str
) -> tuple[AskContext, SupportRequest]:
    context = await _open_group(session, slug)
    found = await support.find_by_reference(session, context.group, reference)
    if found is None:
        raise NotFoundException("We could not find a request with this reference.")
    return context, found


def _translate_for(context: AskContext, found: SupportRequest) -> Callable[[str], str]:
    language = found.language if found.language in context.languages else "en"
    return translations(language).gettext


async def _act(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    context: AskContext,
    found: SupportRequest,
    done: str,
    action: Awaitable[None],
    text: str = "",
) -> Template | Redirect:
    """Do what the person asked, then show their page saying it is done (or why not)."""
    translate = _translate_for(context, found)
    try:
        await action
    except InvalidInput as invalid:
        return await _status_page(
            request,
            session,
            context,
            found,
            problem=translate(str(invalid)),
            text=text,
            status_code=422,
        )
    except Conflict:
        # The page was old: the request closed, or the details were erased, meanwhile.
        return await _status_page(
            request,
            session,
            context,
            found,
            problem=translate("This request cannot be changed any more."),
            status_code=409,
        )
    return Redirect(f"/g/{context.group.slug}/ask/{found.reference}?done={done}", status_code=303)


async def _unconfirmed(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    context: AskContext,
    found: SupportRequest,
) -> Template:
    translate = _translate_for(context, found)
    return await _status_page(
        request,
        session,
        context,
        found,
        problem=translate("Please tick the box to confirm, then press the button again."),
        status_code=422,
    )


async def _status_page(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    context: AskContext,
    found: SupportRequest,
    *,
    just_sent: bool = False,
    done: str = "",
    problem: str = "",
    text: str = "",
    status_code: int = 200,
) -> Template:
    status = await support.status_of(session, context.group, found)
    language = found.language if found.language in context.languages else "en"
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
    done_steps = order[: order.index(current) + 1]
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
    confirmations = {
        "added": translate("Thank you: what you added has reached the people who handle requests."),
        "withdrawn": translate(
            "Your request is withdrawn. The people who handle requests can see that you did."
        ),
        "erased": translate(
            "Your details are erased: your name, how to reach you and what you wrote are "
            "gone. The code of your request stays."
        ),
        "follows": translate("Thank you: we will send you an e-mail each time this page changes."),
    }
    return page(
        request,
        "public/ask_status.html",
        status_code=status_code,
        group=context.group,
        asks_open=True,
        t=translate,
        language=language,
        status=status,
        decline_message=decline_message(status.decline_message, translate),
        # The amount asked, the way the person's language writes money ("60,50 €").
        amount_asked=(
            Formatter(locale_or_default(language)).money_text(status.amount, context.group.currency)
            if status.amount
            else ""
        ),
        steps=steps,
        current=current,
        done=done_steps,
        explanation=explanations[current],
        just_sent=just_sent,
        confirmation=confirmations.get(done, ""),
        problem=problem,
        information=text,
        reference=found.reference,
        can_change=status.status in ("received", "discussing", "proposed") and not status.erased,
        follows=await support.follows_by_email(session, found),
        headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"},
    )


async def _proves_a_person(
    session: AsyncSession,
    limiter: Limiter,
    found: challenge.Challenge | None,
    proof: str,
    now: datetime,
) -> bool:
    """A challenge of ours, solved or waited for, and used for no other request."""
    if found is None or not challenge.proves_a_person(found, proof, now):
        return False
    (spent,) = await limiter.hit(session, now, (CHALLENGE_SPENT, found.token))
    return not spent.exceeded
