"""A proposal's discussion through the API: comments and replies, edits with their history,
hiding by a facilitator, who may read it, the rounds it belongs to, and who hears of it."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from proposals import minute, notify
from proposals.models import Comment, CommentVersion, Notification, Round
from tests.support.people import Person, World

Client = AsyncTestClient[Litestar]


def url(world: World, tail: str = "") -> str:
    return f"/api/groups/{world.slug}/proposals{tail}"


async def propose(client: Client, world: World, by: Person | None = None) -> int:
    response = await client.post(
        url(world),
        json={"title": "Mend the roof", "body": "The rain comes in."},
        headers=(by or world.member).headers,
    )
    assert response.status_code == 201, response.text
    number: int = response.json()["number"]
    return number


async def comment(
    client: Client, world: World, by: Person, body: str, *, number: int = 1, **more: Any
) -> Any:
    response = await client.post(
        url(world, f"/{number}/comments"), json={"body": body, **more}, headers=by.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def discussion(client: Client, world: World, by: Person | None, number: int = 1) -> Any:
    response = await client.get(url(world, f"/{number}/comments"), headers=by.headers if by else {})
    assert response.status_code == 200, response.text
    return response.json()


async def count(session: AsyncSession, table: Any) -> int:
    counted = int(await session.scalar(select(func.count()).select_from(table)) or 0)
    await session.commit()  # end the read: on SQLite it would hold the write lock
    return counted


async def set_rules(client: Client, world: World, **changes: Any) -> Any:
    response = await client.put(
        f"/api/groups/{world.slug}/rules", json=changes, headers=world.admin.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_member_comments_and_replies_and_everyone_reads_the_thread_in_order(
    client: Client, world: World
) -> None:
    await propose(client, world)
    first = await comment(client, world, world.steward, "Do we have **two** quotes?")
    assert set(first) >= {"id", "author", "body", "created_at", "round"}
    assert first["author"] == world.steward.user.name
    assert first["body"] == "Do we have **two** quotes?"
    assert first["round"] == 1
    reply = await comment(client, world, world.member, "Yes, both attached.", reply_to=first["id"])
    assert reply["reply_to"] == first["id"]
    second = await comment(client, world, world.admin, "Thanks for asking.")
    thread = await discussion(client, world, world.facilitator)
    assert [c["id"] for c in thread] == [first["id"], second["id"]]
    assert [r["body"] for r in thread[0]["replies"]] == ["Yes, both attached."]
    assert thread[1]["replies"] == []


async def test_a_reply_to_a_reply_is_refused_and_changes_nothing(
    client: Client, world: World, session: AsyncSession
) -> None:
    await propose(client, world)
    first = await comment(client, world, world.steward, "A question.")
    reply = await comment(client, world, world.member, "An answer.", reply_to=first["id"])
    refused = await client.post(
        url(world, "/1/comments"),
        json={"body": "A reply to the answer.", "reply_to": reply["id"]},
        headers=world.admin.headers,
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["errors"][0]["field"] == "reply_to"
    assert f"reply to comment {first['id']}" in refused.json()["detail"]
    assert await count(session, Comment) == 2


async def test_bad_comments_are_refused_with_a_problem_and_change_nothing(
    client: Client, world: World, session: AsyncSession
) -> None:
    await propose(client, world)
    await propose(client, world)
    other = await comment(client, world, world.member, "On the second proposal.", number=2)
    bad: list[tuple[str, Any, int]] = [
        ("/1/comments", {"body": ""}, 422),
        ("/1/comments", {"body": "   \n  "}, 422),
        ("/1/comments", {"body": "x" * 10_001}, 422),
        ("/1/comments", {"body": "Hi", "unknown": 1}, 422),
        ("/1/comments", {"body": "Hi", "reply_to": 999_999}, 422),
        ("/1/comments", {"body": "Hi", "reply_to": other["id"]}, 422),
        ("/1/comments", {"body": "Hi", "reply_to": "one"}, 422),
        ("/1/comments", {"body": "Bell \x07 here"}, 422),
        ("/1/comments", [], 422),
        ("/999/comments", {"body": "Hi"}, 404),
    ]
    for tail, body, status in bad:
        response = await client.post(url(world, tail), json=body, headers=world.member.headers)
        assert response.status_code == status, (tail, body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await count(session, Comment) == 1
    edits: list[tuple[str, Any, int]] = [
        (f"/1/comments/{other['id']}", {"body": "Moved"}, 404),  # another proposal's
        ("/2/comments/999999", {"body": "Gone"}, 404),
        (f"/2/comments/{other['id']}", {"body": ""}, 422),
        (f"/2/comments/{other['id']}", {"body": "On the second proposal."}, 422),  # the same
    ]
    for tail, body, status in edits:
        response = await client.patch(url(world, tail), json=body, headers=world.member.headers)
        assert response.status_code == status, (tail, body, response.text)
    hides: list[tuple[str, Any, int]] = [
        (f"/2/comments/{other['id']}/hide", {"reason": ""}, 422),
        (f"/2/comments/{other['id']}/hide", {}, 422),
        ("/2/comments/999999/hide", {"reason": "Off topic"}, 404),
    ]
    for tail, body, status in hides:
        response = await client.post(url(world, tail), json=body, headers=world.facilitator.headers)
        assert response.status_code == status, (tail, body, response.text)
    assert await count(session, CommentVersion) == 0
    [kept] = await discussion(client, world, world.member, 2)
    assert kept["body"] == "On the second proposal."
    assert kept["hidden"] is None
    assert kept["edited_at"] is None


async def test_the_author_edits_a_comment_and_members_read_the_earlier_text(
    client: Client, world: World, session: AsyncSession
) -> None:
    await propose(client, world)
    first = await comment(client, world, world.steward, "Costs 300.")
    edited = await client.patch(
        url(world, f"/1/comments/{first['id']}"),
        json={"body": "Costs 350, with the gutter."},
        headers=world.steward.headers,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["edited_at"] is not None
    again = await client.patch(
        url(world, f"/1/comments/{first['id']}"),
        json={"body": "Costs 360."},
        headers=world.steward.headers,
    )
    assert again.status_code == 200, again.text
    [read] = await discussion(client, world, world.member)
    assert read["body"] == "Costs 360."
    assert [e["body"] for e in read["earlier"]] == ["Costs 300.", "Costs 350, with the gutter."]
    assert read["earlier"][0]["written_at"] == first["created_at"]
    # Only the author edits; the comment stays as it was.
    refused = await client.patch(
        url(world, f"/1/comments/{first['id']}"),
        json={"body": "Costs nothing."},
        headers=world.admin.headers,
    )
    assert refused.status_code == 403, refused.text
    [read] = await discussion(client, world, world.member)
    assert read["body"] == "Costs 360."
    assert await count(session, CommentVersion) == 2


async def test_a_facilitator_hides_a_comment_with_a_reason_and_others_may_not(
    client: Client, world: World, session: AsyncSession
) -> None:
    await propose(client, world)
    rude = await comment(client, world, world.steward, "Something unkind about R-17.")
    refused = await client.post(
        url(world, f"/1/comments/{rude['id']}/hide"),
        json={"reason": "I don't like it"},
        headers=world.member.headers,
    )
    assert refused.status_code == 403, refused.text
    assert (await discussion(client, world, world.member))[0]["hidden"] is None
    hidden = await client.post(
        url(world, f"/1/comments/{rude['id']}/hide"),
        json={"reason": "It names a person who asked for support."},
        headers=world.facilitator.headers,
    )
    assert hidden.status_code == 200, hidden.text
    [seen] = await discussion(client, world, world.member)
    assert seen["body"] is None
    assert seen["hidden"]["reason"] == "It names a person who asked for support."
    assert seen["hidden"]["by"] == world.facilitator.user.name
    assert seen["author"] == world.steward.user.name
    [facilitating] = await discussion(client, world, world.facilitator)
    assert facilitating["body"] == "Something unkind about R-17."
    twice = await client.post(
        url(world, f"/1/comments/{rude['id']}/hide"),
        json={"reason": "Again"},
        headers=world.facilitator.headers,
    )
    assert twice.status_code == 409, twice.text
    edit = await client.patch(
        url(world, f"/1/comments/{rude['id']}"),
        json={"body": "Something kind."},
        headers=world.steward.headers,
    )
    assert edit.status_code == 409, edit.text
    # Nothing deletes a comment: there is no such route.
    gone = await client.delete(url(world, f"/1/comments/{rude['id']}"), headers=world.admin.headers)
    assert gone.status_code == 405
    assert await count(session, Comment) == 1


async def test_discussions_are_for_members_until_the_group_makes_them_public(
    client: Client, world: World
) -> None:
    await propose(client, world)
    await comment(client, world, world.steward, "Members only, for now.")
    anonymous = await client.get(url(world, "/1/comments"))
    assert anonymous.status_code == 401, anonymous.text
    outsider = await client.get(url(world, "/1/comments"), headers=world.outsider.headers)
    assert outsider.status_code == 403, outsider.text
    rules = await set_rules(client, world, public_comments=True)
    assert rules["public_comments"] is True
    [public] = await discussion(client, world, None)
    assert public["body"] == "Members only, for now."
    assert public["author"] is None
    assert public["author_id"] is None
    await set_rules(client, world, public_names=True)
    [named] = await discussion(client, world, world.outsider)
    assert named["author"] == world.steward.user.name
    await set_rules(client, world, public_comments=False)
    assert (await client.get(url(world, "/1/comments"))).status_code == 401


async def test_earlier_texts_and_hidden_text_stay_with_members_on_a_public_discussion(
    client: Client, world: World
) -> None:
    await propose(client, world)
    first = await comment(client, world, world.steward, "First words.")
    edited = await client.patch(
        url(world, f"/1/comments/{first['id']}"),
        json={"body": "Better words."},
        headers=world.steward.headers,
    )
    assert edited.status_code == 200
    second = await comment(client, world, world.member, "A private matter.")
    hidden = await client.post(
        url(world, f"/1/comments/{second['id']}/hide"),
        json={"reason": "Personal details."},
        headers=world.facilitator.headers,
    )
    assert hidden.status_code == 200
    await set_rules(client, world, public_comments=True)
    response = await client.get(url(world, "/1/comments"))
    assert "First words" not in response.text
    assert "A private matter" not in response.text
    public = response.json()
    assert public[0]["edited_at"] is not None
    assert public[0]["earlier"] == []
    assert public[1]["hidden"] == {
        "reason": "Personal details.",
        "at": public[1]["hidden"]["at"],
        "by": None,
    }


async def test_a_comment_belongs_to_the_round_open_when_written_and_the_record_links_them(
    client: Client, world: World, session: AsyncSession
) -> None:
    await propose(client, world)
    during = await comment(client, world, world.steward, "Said during round 1.")
    assert during["round"] == 1
    for person in (world.admin, world.steward, world.facilitator, world.member):
        answered = await client.post(
            url(world, "/1/responses"), json={"position": "agree"}, headers=person.headers
        )
        assert answered.status_code == 201, answered.text
    after = await comment(client, world, world.steward, "Said after the decision.")
    assert after["round"] is None
    shown = (await client.get(url(world, "/1"), headers=world.member.headers)).json()
    assert shown["status"] == "passed"
    assert shown["rounds"][0]["comments"] == 1
    # The minute is stored as minutes always were: the link is read from the comments.
    stored = (await session.scalars(select(Round.minute))).one()
    assert stored is not None
    assert "comment" not in stored
    assert minute.encode(minute.decode(stored)) == stored


async def test_the_author_and_everyone_who_commented_hear_of_a_new_comment(
    client: Client, world: World, session: AsyncSession
) -> None:
    await notify.set_mode(session, world.group, world.steward.user.id, "daily")
    await notify.set_mode(session, world.group, world.member.user.id, "each")
    await session.commit()
    await propose(client, world, world.member)
    before = await count(session, Notification)
    await session.commit()  # end the read, as a request would
    await comment(client, world, world.steward, "A first thought.")
    await comment(client, world, world.admin, "A second thought.")
    told = list(
        await session.scalars(
            select(Notification).where(Notification.kind == "comment").order_by(Notification.id)
        )
    )
    assert [(n.user_id, n.delivery) for n in told] == [
        (world.member.user.id, "each"),  # the author, of the steward's comment
        (world.steward.user.id, "daily"),  # the steward commented: in their digest
        (world.member.user.id, "each"),  # the author, of the admin's comment
    ]
    assert all(n.proposal_number == 1 for n in told)
    assert world.admin.user.name in told[-1].body
    assert before + 3 == await count(session, Notification)
    # The facilitator neither wrote it nor commented: not told.
    assert world.facilitator.user.id not in {n.user_id for n in told}
