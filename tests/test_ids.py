"""An id a client can delete is never given to another row, on either engine: a delete
or an update sent again (the client missed the answer) must not reach a newer row."""

import aiohttp
import pytest

from tests.conftest import assert_ok, call, make_admin, register
from tests.test_access import PUBLIC_HOOK


def _pdf() -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", b"%PDF-1.4 a quote", filename="quote.pdf")
    return form


# (what makes one, its request, what deletes one)
KINDS = {
    "API key": ("/api/admin/api-keys", {"name": "ci", "role": "staff"}, "api-keys/delete"),
    "saved reply": ("/api/admin/replies", {"title": "t", "content": "c"}, "replies/delete"),
    "webhook": ("/api/admin/webhooks", {"url": PUBLIC_HOOK}, "webhooks/delete"),
    "attachment": ("/api/attachment/upload", None, "/api/attachment/delete"),
}


@pytest.mark.parametrize("kind", KINDS)
async def test_the_newest_rows_id_is_not_given_again_after_its_delete(client, kind):
    make, body, delete = KINDS[kind]
    delete = delete if delete.startswith("/") else f"/api/admin/{delete}"
    admin = await make_admin(client)
    token = admin if body is not None else (await register(client))[0]

    async def made() -> int:
        if body is None:
            return assert_ok(await call(client, "POST", make, token=token, data=_pdf()))["id"]
        return assert_ok(await call(client, "POST", make, token=token, json=body))["id"]

    first = await made()
    newest = await made()
    assert_ok(await call(client, "POST", delete, token=token, json={"id": newest}))
    again = await made()
    assert again > newest
    # The delete sent again finds nothing: the newer row stays.
    gone = await call(client, "POST", delete, token=token, json={"id": newest})
    assert gone["code"] == -1 and gone["msg"].endswith("not found"), gone
    assert_ok(await call(client, "POST", delete, token=token, json={"id": again}))
    assert first < newest
