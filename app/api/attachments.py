"""Files attached to entries (receipts, proofs of payment) through the API.

A steward attaches a file (multipart, field ``file``); it is cleaned of its metadata
(``ledger.cleaning``), kept by its SHA-256 (``ledger.files``) and named by a leaf of its
own in the group's log (``ledger.attachments``). Anyone who may read the ledger sees that
an entry has receipts and their hashes; the files themselves are for the group's members,
or for everyone when the group publishes its receipts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import anyio
import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import UploadFile
from litestar.di import Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import PermissionDeniedException
from litestar.params import Body, JSONBody, Parameter

from app.api import openapi
from app.auth import provide_caller
from app.deps import CurrentCaller, DbSession, Id
from app.guards import may_read_files, public_or_member, requires
from ledger import attachments
from ledger.cleaning import CleanFile, clean
from ledger.errors import FileTooLarge, InvalidInput
from ledger.files import FileStore
from ledger.queries import attachment_out
from ledger.schemas import AttachmentOut

JSON = "application/json"
# Room in a request for the parts of a form around the file (boundaries, headers, fields).
FORM_ROOM = 64 * 1024
SHA256 = Annotated[str, Parameter(pattern="^[0-9a-f]{64}$", min_length=64, max_length=64)]


@dataclass
class AttachmentUpload:
    """The multipart body: the file, under the field ``file``."""

    file: UploadFile


class ReceiptSettingsIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    published: bool


class ReceiptSettingsOut(msgspec.Struct, kw_only=True):
    # Whether anyone may read the group's receipts (members always may).
    published: bool


def store_of(request: Request[Any, Any, Any]) -> FileStore:
    store: FileStore = request.app.state.files
    return store


async def read_upload(upload: UploadFile | Any, limit: int) -> bytes:
    """The uploaded file's bytes, at most ``limit`` (FileTooLarge beyond, before reading
    more than one byte past it)."""
    if not isinstance(upload, UploadFile):
        raise InvalidInput("Send the file as the form field 'file'.", field="file")
    content = await upload.read(limit + 1)
    if len(content) > limit:
        raise FileTooLarge(
            f"A receipt may be at most {limit // (1024 * 1024) or limit} "
            f"{'MB' if limit >= 1024 * 1024 else 'bytes'}; this file is larger.",
            field="file",
        )
    if not content:
        raise InvalidInput("The file is empty.", field="file")
    return content


async def cleaned(content: bytes) -> CleanFile:
    """``ledger.cleaning.clean`` in a worker thread (decoding an image takes a while)."""
    return await anyio.to_thread.run_sync(clean, content)


async def keep(store: FileStore, file: CleanFile) -> None:
    await anyio.to_thread.run_sync(store.put, file.content)


def attachments_controller(limit: int) -> type[Controller]:
    """The attachments' routes, with the instance's size limit: a body beyond it (the
    announced Content-Length, or the bytes counted as they arrive) is refused with 413
    before the rest is read."""

    class AttachmentController(Controller):
        path = "/api/groups/{group:str}/entries/{seq:int}/attachments"
        tags = ["Receipts"]
        dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

        @post(
            guards=[requires("steward")],
            summary="Attach a receipt to an entry (PDF, PNG, JPEG or WebP)",
            description=(
                "Multipart form with the field `file`. The type is read from the bytes; "
                "images are re-encoded without any metadata (EXIF, GPS, XMP, ICC, text "
                "chunks) and PDFs lose their document information and XMP. The SHA-256 "
                "is of the cleaned bytes, which are what is kept. Appends a leaf of kind "
                "`attachment` to the log; the entry itself never changes. The same file "
                "attached to the same entry again answers 200 with the first attachment."
            ),
            request_max_body_size=limit + FORM_ROOM,
            responses={
                201: openapi.success(AttachmentOut, "The file, as kept and logged."),
                200: openapi.success(AttachmentOut, "The file was attached already."),
                413: openapi.problem(413, "The file is larger than the instance accepts."),
                415: openapi.problem(415, "The file is not a PDF, PNG, JPEG or WebP."),
            },
        )
        async def attach(
            self,
            request: Request[Any, Any, Any],
            db_session: DbSession,
            caller: CurrentCaller,
            seq: Id,
            data: Annotated[AttachmentUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
        ) -> Response[bytes]:
            file = await cleaned(await read_upload(data.file, limit))
            view, new = await attachments.attach(
                db_session,
                caller.group,
                seq,
                file,
                recorded_by=caller.user_id,
                notary=request.app.state.notary,
            )
            if new:
                await keep(store_of(request), file)
            body = msgspec.json.encode(attachment_out(view))
            return Response(body, status_code=201 if new else 200, media_type=JSON)

        @get(guards=[public_or_member], summary="The receipts attached to an entry")
        async def list_attachments(
            self, db_session: DbSession, caller: CurrentCaller, seq: Id
        ) -> list[AttachmentOut]:
            return [
                attachment_out(view)
                for view in await attachments.attachments_of(db_session, caller.group, [seq])
            ]

        @get(
            "/{sha256:str}",
            guards=[public_or_member],
            media_type="application/octet-stream",
            summary="A receipt's file, as kept (cleaned)",
            description=(
                "For the group's members; for everyone when the group publishes its "
                "receipts. 410 once the file was erased with a person's data."
            ),
            responses={410: openapi.problem(410, "The file was erased; its hash stays.")},
        )
        async def read_attachment(
            self,
            request: Request[Any, Any, Any],
            db_session: DbSession,
            caller: CurrentCaller,
            seq: Id,
            sha256: SHA256,
        ) -> Response[bytes]:
            view = await attachments.get_attachment(db_session, caller.group, seq, sha256)
            if not may_read_files(caller):
                raise PermissionDeniedException(
                    f"The receipts of {caller.group.slug!r} are shown to its members; the "
                    "hash of each is public in the ledger."
                )
            store = store_of(request)
            content = await anyio.to_thread.run_sync(attachments.read_file, store, view)
            extension = view.content_type.rsplit("/", 1)[-1]
            return Response(
                content,
                media_type=view.content_type,
                headers={
                    "Content-Disposition": f'inline; filename="{view.sha256}.{extension}"',
                    "X-Content-Type-Options": "nosniff",
                },
            )

    return AttachmentController


class ReceiptSettingsController(Controller):
    """Whether the group's receipts are public (admins decide; members always see them)."""

    path = "/api/groups/{group:str}/receipt-settings"
    tags = ["Receipts"]
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @get(guards=[requires("member")], summary="Whether the group publishes its receipts")
    async def read(self, caller: CurrentCaller) -> ReceiptSettingsOut:
        return ReceiptSettingsOut(published=caller.group.publish_receipts)

    @put(guards=[requires("admin")], summary="Publish the group's receipts, or not (admin)")
    async def change(
        self, db_session: DbSession, caller: CurrentCaller, data: JSONBody[ReceiptSettingsIn]
    ) -> ReceiptSettingsOut:
        await attachments.publish_receipts(db_session, caller.group, data.published)
        return ReceiptSettingsOut(published=caller.group.publish_receipts)
