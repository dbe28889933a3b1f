"""A user's personal data: everything stored about them (the export), and erasure.

Erasure keeps orders, messages and purchase orders for the merchant's records but
leaves no name, email, phone or password hash of the user in them: the account is
renamed deleted-<id> and its email and phone emptied (NULL: the unique columns allow
many; the freed values leave the login namespace, so they can be registered again),
its password hash becomes one no password matches and its role `user` (an erased
admin is no admin the last one is counted among); its orders' phones and its
messages' sender names are replaced, and so are these values where the events and
webhook bodies of its orders and its messages hold them as JSON (other users' stay as
written); its sessions, API keys, reset tokens, login failures, mail deliveries and
uploads are deleted; open orders are cancelled as the customer's
cancel would.
"""

from .. import model, texts
from ..workflow import MOVES
from . import accounts, api_keys, events, orders, purchases
from .attachments import attachment_row
from .tx import (
    MESSAGE_COLUMNS,
    ORDER_COLUMNS,
    USER_COLUMNS,
    Tx,
    as_dict,
    order_row,
    to_json,
    user_row,
)
from .types import Row

_ATTACHMENT_COLUMNS = """id, name, file_name, content_type, file_size, file_md5, width, height,
    thumb IS NOT NULL AS has_thumb, created_time"""


async def export(tx: Tx, user_id: int) -> Row:
    """Everything stored about the user, in one snapshot. A session's last use is
    written to within model.LAST_USE_SECONDS (sessions.resolve)."""
    user = user_row(await tx.row(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", user_id))
    sessions = [
        as_dict(row)
        for row in await tx.all(
            """SELECT created_time, last_used_time, expires_at AS expire FROM sessions
               WHERE user_id = ? AND expires_at > ? ORDER BY serial""",
            user_id,
            tx.now,
        )
    ]
    found = await tx.all(
        f"SELECT {ORDER_COLUMNS} FROM comm_orders WHERE user_id = ? ORDER BY id", user_id
    )
    threads: dict[int, list[Row]] = {}
    for row in await tx.all(
        f"""SELECT {", ".join(f"m.{c}" for c in MESSAGE_COLUMNS.split(", "))}
            FROM messages m JOIN comm_orders o ON o.id = m.comm_order_id
            WHERE o.user_id = ? AND m.message_type <> 'note' ORDER BY m.id""",
        user_id,
    ):
        threads.setdefault(row["comm_order_id"], []).append(as_dict(row))
    exported_orders = [
        {**order_row(tx, row), "messages": threads.get(row["id"], [])} for row in found
    ]
    purchase_orders = [
        as_dict(row)
        for row in await tx.all(
            f"SELECT {purchases.COLUMNS} FROM purchase_orders WHERE user_id = ? ORDER BY id",
            user_id,
        )
    ]
    uploads = [
        attachment_row(row)
        for row in await tx.all(
            f"SELECT {_ATTACHMENT_COLUMNS} FROM attachments WHERE user_id = ? ORDER BY id",
            user_id,
        )
    ]
    return {
        "user": user,
        "sessions": sessions,
        "orders": exported_orders,
        "purchase_orders": purchase_orders,
        "attachments": uploads,
    }


def _json_field(dialect: str, column: str, *path: str) -> str:
    """The value at `path` in the JSON text `column` (on PostgreSQL as text)."""
    if dialect == "postgres":
        return f"({column}::json #>> '{{{','.join(path)}}}')"
    return f"json_extract({column}, '$.{'.'.join(path)}')"


def _as_id(dialect: str, value: str) -> str:
    return f"({value})::bigint" if dialect == "postgres" else value


def _theirs(dialect: str, user: str, *, in_messages: bool) -> tuple[str, str]:
    """Conditions on an event row and on a webhook delivery row: that it is about one
    of the orders of the user whose id is the parameter `user` (an event names its
    order; a body's data is the order, or holds its comm_order_id), or, `in_messages`,
    that it is a message the user sent (not a system message)."""
    message = f"'{events.MESSAGE_CREATED}'"
    if in_messages:
        sent = [
            f"{_as_id(dialect, _json_field(dialect, column, *path, 'sender_id'))} = {user}"
            f" AND {_json_field(dialect, column, *path, 'sender_type')} <> 'system'"
            for column, path in (("data", ()), ("payload", ("data",)))
        ]
        return f"type = {message} AND {sent[0]}", f"event_type = {message} AND {sent[1]}"
    their_orders = f"IN (SELECT id FROM comm_orders WHERE user_id = {user})"
    body_order = (
        f"coalesce({_json_field(dialect, 'payload', 'data', 'comm_order_id')}, "
        f"{_json_field(dialect, 'payload', 'data', 'id')})"
    )
    return f"comm_order_id {their_orders}", f"{_as_id(dialect, body_order)} {their_orders}"


async def _phones_held(tx: Tx, user_id: int) -> set[str]:
    """The phones the events and webhook bodies of the user's orders hold: the ones
    their orders had before too."""
    event_is_theirs, body_is_theirs = _theirs(tx.dialect, "?", in_messages=False)
    found: set[str] = set()
    for column, path, table, scope in (
        ("data", (), "events", event_is_theirs),
        ("payload", ("data",), "deliveries", f"webhook_id IS NOT NULL AND {body_is_theirs}"),
    ):
        phone = _json_field(tx.dialect, column, *path, "phone")
        rows = await tx.all(f"SELECT DISTINCT {phone} FROM {table} WHERE {scope}", user_id)
        found.update(row[0] for row in rows if isinstance(row[0], str) and row[0])
    return found


async def _replace_in_json(
    tx: Tx, user_id: int, key: str, old: str, new: str, *, in_messages: bool
) -> None:
    """Where the events and webhook bodies of user `user_id`'s orders (with
    `in_messages`: of the messages the user sent) hold `"key":old` (as orjson writes
    it), make it `"key":new`. Other users' events stay as written, even where they
    hold the same text."""
    before, after = f'"{key}":{to_json(old)}', f'"{key}":{to_json(new)}'
    postgres = tx.dialect == "postgres"
    data = "data::text" if postgres else "data"
    found = "strpos({}, ?1) > 0" if postgres else "instr({}, ?1) > 0"
    event_is_theirs, body_is_theirs = _theirs(tx.dialect, "?3", in_messages=in_messages)
    await tx.run(
        f"""UPDATE events SET data = replace({data}, ?1, ?2){"::json" if postgres else ""}
            WHERE {found.format(data)} AND {event_is_theirs}""",
        before,
        after,
        user_id,
    )
    await tx.run(
        f"""UPDATE deliveries SET payload = replace(payload, ?1, ?2)
            WHERE webhook_id IS NOT NULL AND {found.format("payload")} AND {body_is_theirs}""",
        before,
        after,
        user_id,
    )


async def erase(tx: Tx, user_id: int) -> None:
    """Erase the account (see the module's description). The last admin may not."""
    user = await tx.row(
        f"SELECT id, user_name, email, phone, role, disabled FROM users WHERE id = ?"
        f"{tx.for_update}",
        user_id,
    )
    if user["role"] == "admin" and not user["disabled"]:
        await accounts.keep_an_enabled_admin(tx, texts.LAST_ADMIN)
    erased_name = model.DELETED_USER_NAME.format(id=user_id)
    phones = await _phones_held(tx, user_id)
    await tx.run("UPDATE comm_orders SET phone = '' WHERE user_id = ?", user_id)
    await tx.run(
        "UPDATE messages SET sender_name = ? WHERE sender_id = ? AND sender_type <> 'system'",
        erased_name,
        user_id,
    )
    # Open orders are cancelled as the customer's cancel would (note, events, mail).
    cancel = MOVES["cancel"]
    for (order_id,) in await tx.all(
        "SELECT id FROM comm_orders WHERE user_id = ? ORDER BY id", user_id
    ):
        status = await tx.value("SELECT status FROM comm_orders WHERE id = ?", order_id)
        if status in cancel.sources:
            await orders.move_order(tx, "cancel", order_id, user_id, "")
    for phone in sorted(phones):
        await _replace_in_json(tx, user_id, "phone", phone, "", in_messages=False)
    await _replace_in_json(
        tx, user_id, "sender_name", user["user_name"], erased_name, in_messages=True
    )

    await accounts.revoke_user_sessions(tx, user_id)
    await api_keys.delete_user_keys(tx, user_id)
    await tx.run("DELETE FROM reset_tokens WHERE user_id = ?", user_id)
    await tx.run("DELETE FROM deliveries WHERE recipient_id = ?", user_id)
    await tx.run("DELETE FROM attachments WHERE user_id = ?", user_id)
    await accounts.clear_account_failures(tx, accounts.account_key(user_id))
    for value in {user["user_name"], user["email"], user["phone"]} - {None, ""}:
        await accounts.clear_account_failures(tx, accounts.unknown_key(value))
    await tx.run("DELETE FROM login_names WHERE user_id = ?", user_id)
    await tx.run(
        """UPDATE users SET user_name = ?, email = NULL, phone = NULL, password_hash = ?,
               notify_email = 0, role = 'user'
           WHERE id = ?""",
        erased_name,
        model.DELETED_PASSWORD_HASH,
        user_id,
    )
    await tx.run(
        """INSERT INTO login_names (login, user_id, kind) VALUES (?, ?, 'user_name')
           ON CONFLICT (login) DO NOTHING""",
        model.login_key(erased_name),
        user_id,
    )
    tx.users_changed()
