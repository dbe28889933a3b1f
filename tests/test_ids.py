"""The id of an API key, a saved reply or a webhook is never given to another row, on
either engine: a delete or an update sent again (the client missed the answer) must not
reach a newer row."""

import pytest

from tests.conftest import assert_ok, call, make_admin
from tests.test_access import PUBLIC_HOOK

# The path that makes one (its delete: PATH/delete), and the request.
KINDS = {
    "API key": ("/api/admin/api-keys", {"name": "ci", "role": "staff"}),
    "saved reply": ("/api/admin/replies", {"title": "t", "content": "c"}),
    "webhook": ("/api/admin/webhooks", {"url": PUBLIC_HOOK}),
}


@pytest.mark.parametrize("kind", KINDS)
async def test_the_newest_rows_id_is_not_given_again_after_its_delete(client, kind):
    make, body = KINDS[kind]
    delete = f"{make}/delete"
    admin = await make_admin(client)

    async def made() -> int:
        return assert_ok(await call(client, "POST", make, token=admin, json=body))["id"]

    await made()
    newest = await made()
    assert_ok(await call(client, "POST", delete, token=admin, json={"id": newest}))
    again = await made()
    assert again > newest
    # The delete sent again finds nothing: the newer row stays.
    gone = await call(client, "POST", delete, token=admin, json={"id": newest})
    assert gone["code"] == -1 and gone["msg"].endswith("not found"), gone
    assert_ok(await call(client, "POST", delete, token=admin, json={"id": again}))
