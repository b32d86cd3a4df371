"""Outsiders can check the log: a signed checkpoint, inclusion and consistency proofs."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from ledger.checkpoint import Verifier, verify_note
from ledger.merkle import verify_consistency, verify_inclusion
from tests.support.people import World

Client = AsyncTestClient[Litestar]


async def donate(client: Client, world: World, count: int) -> None:
    for i in range(count):
        response = await client.post(
            f"/api/groups/{world.slug}/entries",
            json={"kind": "donation", "fund": "groceries", "amount": f"{i + 1}.00"},
            headers=world.steward.headers,
        )
        assert response.status_code == 201, response.text


async def test_checkpoints_are_signed_by_the_published_key_and_proofs_verify(
    client: Client, world: World
) -> None:
    vkey = (await client.get("/.well-known/commonpurse-key")).text.strip()
    verifier = Verifier.from_vkey(vkey)
    await donate(client, world, 5)
    early_note = (await client.get(f"/api/groups/{world.slug}/checkpoint")).text
    early = verify_note(early_note, verifier)
    assert (early.origin, early.size) == (f"testserver.local/g/{world.slug}", 5)

    await donate(client, world, 6)
    note = (await client.get(f"/api/groups/{world.slug}/checkpoint")).text
    latest = verify_note(note, verifier)
    assert latest.size == 11

    for seq in range(1, 12):
        proof = (await client.get(f"/api/groups/{world.slug}/entries/{seq}/proof")).json()
        entry = (await client.get(f"/api/groups/{world.slug}/entries/{seq}")).json()
        assert proof["leaf_hash"] == entry["hash"]
        assert proof["root"] == latest.root.hex()
        assert verify_inclusion(
            bytes.fromhex(proof["leaf_hash"]),
            proof["leaf_index"],
            proof["tree_size"],
            [bytes.fromhex(h) for h in proof["audit_path"]],
            latest.root,
        )

    old = (await client.get(f"/api/groups/{world.slug}/entries/2/proof?size=5")).json()
    assert old["root"] == early.root.hex()

    consistency = (await client.get(f"/api/groups/{world.slug}/consistency?from=5&to=11")).json()
    assert (consistency["from"], consistency["to"]) == (5, 11)
    assert verify_consistency(
        5, 11, early.root, latest.root, [bytes.fromhex(h) for h in consistency["path"]]
    )


async def test_proofs_outside_the_log_are_refused(client: Client, world: World) -> None:
    await donate(client, world, 3)
    base = f"/api/groups/{world.slug}"
    for url in (
        f"{base}/entries/4/proof",
        f"{base}/entries/3/proof?size=2",
        f"{base}/entries/1/proof?size=9",
        f"{base}/consistency?from=3&to=2",
        f"{base}/consistency?from=1&to=4",
        f"{base}/consistency?from=0&to=2",
    ):
        response = await client.get(url)
        assert response.status_code in (400, 422), (url, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_an_empty_log_has_no_checkpoint_yet(client: Client, world: World) -> None:
    response = await client.get(f"/api/groups/{world.slug}/checkpoint")
    assert response.status_code == 404
