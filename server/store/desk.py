"""The merchant's desk: the users page (list, role changes, disabling) and the saved
replies staff and admins share."""

from typing import Any

from .. import model, texts
from ..entities import SAVED_REPLY, USER_ACCOUNT
from ..errors import Invalid
from ..validate.desk import NewReply, ReplyChange, UserChange
from .accounts import keep_an_enabled_admin, revoke_user_sessions
from .api_keys import delete_user_keys
from .tx import Tx, as_dict, user_row
from .types import Row

_ACCOUNT_COLUMNS = ", ".join(f"u.{key.name}" for key in USER_ACCOUNT.keys if key.stored)
_ACCOUNT = f"""
    SELECT {_ACCOUNT_COLUMNS},
           (SELECT count(*) FROM comm_orders c WHERE c.user_id = u.id) AS orders_total
    FROM users u"""
# A substring of a name, email or phone, ignoring ASCII case only: SQLite's LIKE does
# that; PostgreSQL's ILIKE would fold other letters too, so both sides are ascii_lower'd.
_SEARCH = {
    "sqlite": """(u.user_name LIKE ?1 ESCAPE '\\' OR u.email LIKE ?1 ESCAPE '\\'
                  OR u.phone LIKE ?1 ESCAPE '\\')""",
    "postgres": """(ascii_lower(u.user_name) LIKE ascii_lower(?1) ESCAPE '\\'
                    OR ascii_lower(u.email) LIKE ascii_lower(?1) ESCAPE '\\'
                    OR ascii_lower(u.phone) LIKE ascii_lower(?1) ESCAPE '\\')""",
}


def _account(row: Any) -> Row:
    account = user_row(row)
    account["disabled"] = bool(account["disabled"])
    return account


async def list_users(
    tx: Tx, search: str | None, role: str | None, page: model.Page
) -> tuple[list[Row], int]:
    """Newest first, with the count of all that match."""
    clauses: list[str] = []
    params: list[Any] = []
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params.append(f"%{escaped}%")
        clauses.append(_SEARCH[tx.dialect])
    if role is not None:
        params.append(role)
        clauses.append(f"u.role = ?{len(params)}")
    # Only fixed clause texts are joined here; every value is a bound parameter.
    condition = " AND ".join(clauses) or "1 = 1"
    total = await tx.value(f"SELECT count(*) FROM users u WHERE {condition}", *params)
    size, offset = len(params) + 1, len(params) + 2
    rows = await tx.all(
        f"{_ACCOUNT} WHERE {condition} ORDER BY u.id DESC LIMIT ?{size} OFFSET ?{offset}",
        *params,
        page.size,
        page.offset,
    )
    return [_account(row) for row in rows], total


async def update_user(tx: Tx, change: UserChange, by_id: int) -> Row:
    """Change a user's role and whether they are disabled. A role change or disabling
    revokes every session and API key of the user (their open streams end). An admin cannot change
    their own role or disable themselves, and the last enabled admin is never demoted
    or disabled."""
    user = await tx.one(f"SELECT role, disabled FROM users WHERE id = ?{tx.for_update}", change.id)
    if user is None:
        raise Invalid(texts.USER_NOT_FOUND)
    role_changed = change.role is not None and change.role != user["role"]
    disabling = bool(change.disabled) and not user["disabled"]
    if change.id == by_id and (role_changed or change.disabled):
        raise Invalid(texts.OWN_ROLE)
    if user["role"] == "admin" and not user["disabled"] and (role_changed or disabling):
        await keep_an_enabled_admin(tx, texts.LAST_ENABLED_ADMIN)
    await tx.run(
        "UPDATE users SET role = coalesce(?, role), disabled = coalesce(?, disabled) WHERE id = ?",
        change.role,
        None if change.disabled is None else int(change.disabled),
        change.id,
    )
    if role_changed or disabling:
        await revoke_user_sessions(tx, change.id)
        await delete_user_keys(tx, change.id)  # for good: enabled again, they stay dead
    tx.users_changed()
    return _account(await tx.row(f"{_ACCOUNT} WHERE u.id = ?", change.id))


# ---------------------------------------------------------------- saved replies

_REPLY_COLUMNS = SAVED_REPLY.columns


async def list_replies(tx: Tx) -> list[Row]:
    """Every saved reply, oldest first."""
    return [
        as_dict(row)
        for row in await tx.all(f"SELECT {_REPLY_COLUMNS} FROM saved_replies ORDER BY id")
    ]


async def create_reply(tx: Tx, reply: NewReply) -> Row:
    """A new saved reply, unless there are SAVED_REPLIES_MAX already: the count is
    checked by the INSERT itself, after the turn that serializes creations."""
    await tx.lock("saved replies")
    row = await tx.one(
        f"""INSERT INTO saved_replies (title, content, created_time, updated_time)
            SELECT CAST(?1 AS TEXT), CAST(?2 AS TEXT), CAST(?3 AS BIGINT), CAST(?3 AS BIGINT)
            WHERE (SELECT count(*) FROM saved_replies) < ?4
            RETURNING {_REPLY_COLUMNS}""",
        reply.title,
        reply.content,
        tx.now,
        model.SAVED_REPLIES_MAX,
    )
    if row is None:
        raise Invalid(texts.REPLIES_FULL, count=model.SAVED_REPLIES_MAX)
    return as_dict(row)


async def update_reply(tx: Tx, change: ReplyChange) -> Row:
    row = await tx.one(
        f"""UPDATE saved_replies SET title = coalesce(?, title), content = coalesce(?, content),
                updated_time = ?
            WHERE id = ? RETURNING {_REPLY_COLUMNS}""",
        change.title,
        change.content,
        tx.now,
        change.id,
    )
    if row is None:
        raise Invalid(texts.REPLY_NOT_FOUND)
    return as_dict(row)


async def delete_reply(tx: Tx, reply_id: int) -> None:
    if await tx.value("DELETE FROM saved_replies WHERE id = ? RETURNING id", reply_id) is None:
        raise Invalid(texts.REPLY_NOT_FOUND)
