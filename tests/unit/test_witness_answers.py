"""What a witness answers a 409 with is read strictly: the size it names must be a tree
size this log's records can hold (ASCII decimal, 64-bit), or the answer is a failure of the
witness, recorded as one, never an error of the round."""

from __future__ import annotations

import httpx
import pytest

from app.witnessing import ask
from ledger.witness import SIZE_MEDIA_TYPE
from ledger.witnesses import WitnessRequest

REQUEST = WitnessRequest(
    witness_id=1,
    group_id=1,
    url="http://witness.test",
    vkey="",
    size=5,
    note="",
    old_size=3,
    body=b"",
)


async def answer_to(text: str) -> tuple[str | None, int | None]:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(409, text=text, headers={"content-type": SIZE_MEDIA_TYPE})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        answer = await ask(client, REQUEST)
    return answer.error, answer.witness_size


async def test_a_409_names_the_size_the_witness_has() -> None:
    assert await answer_to("7\n") == ("409", 7)
    assert await answer_to(f"{2**63 - 1}\n") == ("409", 2**63 - 1)


@pytest.mark.parametrize(
    "text", ["²\n", "٣\n", f"{2**63}\n", "99999999999999999999999\n", "-1\n", "7", "\n", "7 \n"]
)
async def test_a_409_without_a_size_this_log_can_hold_is_the_witness_failing(text: str) -> None:
    assert await answer_to(text) == ("409 without the size it has", None)
