"""A user's personal data: everything stored about them (the export), and erasure.

Erasure keeps orders, messages and purchase orders for the merchant's records but
leaves no name, email, phone or password hash of the user in them: the account is
renamed deleted-<id> and its email and phone emptied (NULL: the unique columns allow
many; the freed values leave the login namespace, so they can be registered again),
its password hash becomes one no password matches and its role `user` (an erased
admin is no admin the last one is counted among); its orders' phones and its
messages' sender names are replaced, and so is each of these values where events and
webhook bodies hold them as JSON; its sessions, API keys, reset tokens, login failures, mail
deliveries and uploads are deleted; open orders are cancelled as the customer's
cancel would.
"""

from .. import model, texts
from ..workflow import MOVES
from . import accounts, api_keys, orders, purchases
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


async def export(tx: Tx, user_id: int, session_ttl: int) -> Row:
    """Everything stored about the user, in one snapshot. A session's last use is
    when it was last renewed (or made): renewal is the only write a use makes."""
    user = user_row(await tx.row(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", user_id))
    sessions = [
        {
            "created_time": row["created_time"],
            "last_used_time": max(
                row["created_time"], row["expires_at"] - (row["ttl"] or session_ttl)
            ),
            "expire": row["expires_at"],
        }
        for row in await tx.all(
            """SELECT created_time, expires_at, ttl FROM sessions
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


async def _replace_in_json(tx: Tx, key: str, old: str, new: str) -> None:
    """Wherever events and webhook bodies hold `"key":old` (as orjson writes it), make
    it `"key":new`."""
    before, after = f'"{key}":{to_json(old)}', f'"{key}":{to_json(new)}'
    if tx.dialect == "postgres":
        await tx.run(
            """UPDATE events SET data = replace(data::text, ?1, ?2)::json
               WHERE strpos(data::text, ?1) > 0""",
            before,
            after,
        )
        found = "strpos(payload, ?1) > 0"
    else:
        await tx.run(
            "UPDATE events SET data = replace(data, ?1, ?2) WHERE instr(data, ?1) > 0",
            before,
            after,
        )
        found = "instr(payload, ?1) > 0"
    await tx.run(
        f"""UPDATE deliveries SET payload = replace(payload, ?1, ?2)
            WHERE webhook_id IS NOT NULL AND {found}""",
        before,
        after,
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
    phones = [
        row[0]
        for row in await tx.all(
            "SELECT DISTINCT phone FROM comm_orders WHERE user_id = ? AND phone <> ''", user_id
        )
    ]
    if user["phone"] and user["phone"] not in phones:
        phones.append(user["phone"])
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
    for phone in phones:
        await _replace_in_json(tx, "phone", phone, "")
    await _replace_in_json(tx, "sender_name", user["user_name"], erased_name)

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
