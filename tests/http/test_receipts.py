"""Receipts attached to entries: cleaned of metadata, kept once by their hash, named by a
leaf of their own in the log, shown to members (everyone sees that they exist)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from pathlib import Path

from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession

from app.asgi import create_app
from app.settings import Settings
from tests.support.clients import record_entry
from tests.support.people import World, build_world
from tests.support.receipts import (
    GPS_IFD,
    SECRET,
    attach,
    leaf_documents,
    pdf_with_author,
    photo_with_gps,
    png_with_text,
)

Client = AsyncTestClient[Litestar]


async def donation(client: Client, world: World, amount: str = "50.00") -> int:
    entry = await record_entry(
        client, world, {"kind": "donation", "fund": "rent-relief", "amount": amount}
    )
    return int(entry["seq"])


def stored_files(settings: Settings) -> list[Path]:
    root = settings.attachments_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def leaves(client: Client, world: World) -> list[dict[str, object]]:
    exported = await client.get(f"/api/groups/{world.slug}/export.jsonl")
    assert exported.status_code == 200
    return leaf_documents(exported.content)


async def verified(client: Client, world: World) -> dict[str, object]:
    report = (await client.get(f"/api/groups/{world.slug}/verify")).json()
    assert report["ok"], report
    return dict(report)


async def test_a_phone_photo_is_kept_without_exif_or_gps_and_its_leaf_names_only_the_hash(
    client: Client, world: World, settings: Settings
) -> None:
    seq = await donation(client, world)
    original = photo_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the test's premise

    attached = await attach(client, world, seq, original)

    assert attached.status_code == 201, attached.text
    body = attached.json()
    assert body["content_type"] == "image/jpeg"
    assert body["entry"] == seq
    assert body["seq"] == seq + 1
    kept = await client.get(
        f"/api/groups/{world.slug}/entries/{seq}/attachments/{body['sha256']}",
        headers=world.member.headers,
    )
    assert kept.status_code == 200
    assert kept.headers["content-type"] == "image/jpeg"
    assert hashlib.sha256(kept.content).hexdigest() == body["sha256"]
    assert body["size"] == len(kept.content)
    photo = Image.open(io.BytesIO(kept.content))
    assert photo.size == (64, 48)
    assert not photo.getexif()
    assert "exif" not in photo.info
    assert SECRET.encode() not in kept.content
    assert b"PhoneMaker" not in kept.content
    assert [f.name for f in stored_files(settings)] == [body["sha256"]]
    # The log holds a leaf of its own, naming the entry and the file, never its name.
    leaf = (await leaves(client, world))[-1]
    assert leaf["kind"] == "attachment"
    assert leaf["v"] == "3"
    assert leaf["postings"] == []
    assert leaf["attachment"] == {
        "entry": str(seq),
        "sha256": body["sha256"],
        "size": str(body["size"]),
        "type": "image/jpeg",
    }
    assert SECRET not in str(leaf)
    assert "receipt" not in str(leaf)
    # The money entry is as it was; the ledger lists it with its receipt.
    entry = (await client.get(f"/api/groups/{world.slug}/entries/{seq}")).json()
    assert entry["kind"] == "donation"
    assert [a["sha256"] for a in entry["attachments"]] == [body["sha256"]]
    listed = (await client.get(f"/api/groups/{world.slug}/entries")).json()["entries"]
    assert [e["seq"] for e in listed] == [seq]
    report = await verified(client, world)
    assert report["entries"] == seq + 1


async def test_a_png_loses_its_text_chunks(client: Client, world: World) -> None:
    seq = await donation(client, world)
    attached = await attach(client, world, seq, png_with_text(), content_type="image/png")
    assert attached.status_code == 201, attached.text
    assert attached.json()["content_type"] == "image/png"
    kept = await client.get(
        f"/api/groups/{world.slug}/entries/{seq}/attachments/{attached.json()['sha256']}",
        headers=world.member.headers,
    )
    image = Image.open(io.BytesIO(kept.content))
    assert image.mode == "RGBA"
    assert image.getpixel((0, 0)) == (0, 128, 0, 200)
    assert not getattr(image, "text", {})
    assert SECRET.encode() not in kept.content
    for chunk in (b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"iCCP"):
        assert chunk not in kept.content


async def test_a_pdf_keeps_its_pages_and_loses_its_author_and_xmp(
    client: Client, world: World
) -> None:
    seq = await donation(client, world)
    # Sent as an image by its name and header: the type is read from the bytes.
    attached = await attach(client, world, seq, pdf_with_author(pages=2), name="photo.png")
    assert attached.status_code == 201, attached.text
    assert attached.json()["content_type"] == "application/pdf"
    kept = await client.get(
        f"/api/groups/{world.slug}/entries/{seq}/attachments/{attached.json()['sha256']}",
        headers=world.member.headers,
    )
    assert kept.headers["content-type"] == "application/pdf"
    pdf = PdfReader(io.BytesIO(kept.content))
    assert len(pdf.pages) == 2
    assert not pdf.metadata
    assert pdf.xmp_metadata is None
    assert SECRET.encode() not in kept.content


async def test_a_file_over_the_limit_is_refused_with_413_and_nothing_is_kept(
    world: World, settings: Settings
) -> None:
    small = replace(settings, max_attachment_bytes=4_000)
    async with AsyncTestClient(app=create_app(small), base_url=small.base_url) as client:
        seq = await donation(client, world)
        size = (await verified(client, world))["entries"]
        # Announced beyond the limit: refused before the body is read.
        too_big = await attach(client, world, seq, b"\xff\xd8\xff" + b"\0" * 200_000)
        assert too_big.status_code == 413, too_big.text
        assert too_big.headers["content-type"].startswith("application/problem+json")
        # Within the room a form may take, but the file itself is over the limit.
        over = await attach(client, world, seq, photo_with_gps() + b"\0" * 5_000)
        assert over.status_code == 413, over.text
        assert "at most" in over.json()["detail"]
        assert stored_files(small) == []
        assert (await verified(client, world))["entries"] == size


async def test_a_file_of_another_type_is_refused_and_nothing_is_kept(
    client: Client, world: World, settings: Settings
) -> None:
    seq = await donation(client, world)
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, "GIF")
    for content in (gif.getvalue(), b"<html>not a receipt</html>", b"%PDF-1.7 broken"):
        refused = await attach(client, world, seq, content, name="receipt.jpg")
        assert refused.status_code in (415, 422), refused.text
        assert refused.json()["errors"][0]["field"] == "file"
    assert (await attach(client, world, seq, gif.getvalue())).status_code == 415
    assert stored_files(settings) == []
    assert (await verified(client, world))["entries"] == seq
    missing = await attach(client, world, seq, b"")
    assert missing.status_code == 422


async def test_the_same_file_is_kept_once_and_attached_once_per_entry(
    client: Client, world: World, settings: Settings
) -> None:
    first, second = await donation(client, world), await donation(client, world, "7.00")
    photo = photo_with_gps()
    once = await attach(client, world, first, photo)
    again = await attach(client, world, first, photo)
    assert (once.status_code, again.status_code) == (201, 200)
    assert again.json() == once.json()
    elsewhere = await attach(client, world, second, photo)
    assert elsewhere.status_code == 201
    assert elsewhere.json()["sha256"] == once.json()["sha256"]
    assert len(stored_files(settings)) == 1
    kinds = [leaf["kind"] for leaf in await leaves(client, world)]
    assert kinds == ["donation", "donation", "attachment", "attachment"]
    await verified(client, world)


async def test_attaching_is_for_stewards_and_to_money_entries(client: Client, world: World) -> None:
    seq = await donation(client, world)
    photo = photo_with_gps()
    for person in (world.member, world.facilitator, world.outsider):
        refused = await attach(client, world, seq, photo, headers=person.headers)
        assert refused.status_code == 403
    assert (await attach(client, world, seq, photo, headers={})).status_code == 401
    assert (await attach(client, world, 99, photo)).status_code == 404
    receipt = await attach(client, world, seq, photo)
    # A receipt's own leaf is not an entry to attach to, nor one to reverse.
    assert (await attach(client, world, receipt.json()["seq"], photo)).status_code == 404
    # Nor one to print a receipt of its own for.
    printed = await client.get(f"/g/{world.slug}/entries/{receipt.json()['seq']}/receipt.pdf")
    assert printed.status_code == 404
    reversal = await client.post(
        f"/api/groups/{world.slug}/entries",
        json={"kind": "reversal", "reverses": receipt.json()["seq"], "memo": "undo"},
        headers=world.steward.headers,
    )
    assert reversal.status_code == 422
    await verified(client, world)


async def test_members_see_receipts_the_public_sees_their_hash_until_the_group_publishes(
    client: Client, world: World
) -> None:
    seq = await donation(client, world)
    sha256 = (await attach(client, world, seq, photo_with_gps())).json()["sha256"]
    url = f"/api/groups/{world.slug}/entries/{seq}/attachments"
    listed = await client.get(url)
    assert listed.status_code == 200
    assert [(a["sha256"], a["content_type"]) for a in listed.json()] == [(sha256, "image/jpeg")]
    assert (await client.get(f"{url}/{sha256}")).status_code == 403
    assert (await client.get(f"{url}/{sha256}", headers=world.outsider.headers)).status_code == 403
    assert (await client.get(f"{url}/{sha256}", headers=world.member.headers)).status_code == 200
    assert (await client.get(f"{url}/{'0' * 64}", headers=world.member.headers)).status_code == 404
    page = await client.get(f"/g/{world.slug}/ledger")
    assert "Receipt attached" in page.text
    assert sha256 in page.text
    assert "JPEG" in page.text
    assert f"{url}/{sha256}" not in page.text

    settings_url = f"/api/groups/{world.slug}/receipt-settings"
    assert (await client.get(settings_url, headers=world.member.headers)).json() == {
        "published": False
    }
    refused = await client.put(
        settings_url, json={"published": True}, headers=world.steward.headers
    )
    assert refused.status_code == 403
    published = await client.put(
        settings_url, json={"published": True}, headers=world.admin.headers
    )
    assert published.json() == {"published": True}
    assert (await client.get(f"{url}/{sha256}")).status_code == 200
    assert f"{url}/{sha256}" in (await client.get(f"/g/{world.slug}/ledger")).text


async def test_a_private_groups_receipts_and_their_hashes_are_hidden_from_outsiders(
    client: Client, session: AsyncSession
) -> None:
    hidden = await build_world(session, slug="quiet-purse", public=False)
    seq = await donation(client, hidden)
    sha256 = (await attach(client, hidden, seq, photo_with_gps())).json()["sha256"]
    published = await client.put(
        f"/api/groups/{hidden.slug}/receipt-settings",
        json={"published": True},
        headers=hidden.admin.headers,
    )
    assert published.status_code == 200
    url = f"/api/groups/{hidden.slug}/entries/{seq}/attachments"
    for headers in ({}, hidden.outsider.headers):
        assert (await client.get(url, headers=headers)).status_code == 404
        assert (await client.get(f"{url}/{sha256}", headers=headers)).status_code == 404
    assert (await client.get(f"{url}/{sha256}", headers=hidden.member.headers)).status_code == 200
