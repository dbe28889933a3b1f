"""API keys: credentials for other systems, stored as the hash of the key only.

A key acts as the admin who made it, with the key's own role, for as long as that admin
is enabled and still an admin: the one read that resolves a key checks both. Disabling
or demoting the admin through the API also deletes their keys, so enabling them again
does not bring the old keys back.
"""

from .. import texts
from ..entities import API_KEY
from ..errors import Invalid
from . import accounts
from .tx import Tx, as_dict, user_row
from .types import Row

_COLUMNS = API_KEY.columns
# A key's expiry as the open event streams see it: never (it lasts until revoked).
NEVER_EXPIRES = 2**62
# The keys that work: their admin is enabled and still an admin.
_LIVE_KEYS = """api_keys k JOIN users u ON u.id = k.user_id
                WHERE u.disabled = 0 AND u.role = 'admin' AND"""


async def create_key(tx: Tx, key_hash: bytes, user_id: int, name: str, role: str) -> Row:
    row = await tx.row(
        f"""INSERT INTO api_keys (key_hash, user_id, name, role, created_time)
            VALUES (?, ?, ?, ?, ?) RETURNING {_COLUMNS}""",
        key_hash,
        user_id,
        name,
        role,
        tx.now,
    )
    return as_dict(row)


async def list_keys(tx: Tx) -> list[Row]:
    """Every key, newest first."""
    return [
        as_dict(row) for row in await tx.all(f"SELECT {_COLUMNS} FROM api_keys ORDER BY id DESC")
    ]


async def delete_key(tx: Tx, key_id: int) -> None:
    """Revoke the key now (its open event streams end); Invalid if there is none."""
    deleted = "DELETE FROM api_keys WHERE id = ? RETURNING key_hash AS token_hash"
    if not await accounts.revoke(tx, deleted, key_id):
        raise Invalid(texts.API_KEY_NOT_FOUND)


async def delete_user_keys(tx: Tx, user_id: int) -> None:
    """Every key the user made (an account erased, disabled or no longer admin)."""
    await accounts.revoke(
        tx, "DELETE FROM api_keys WHERE user_id = ? RETURNING key_hash AS token_hash", user_id
    )


async def key_user(tx: Tx, key_hash: bytes) -> tuple[Row, int, int] | None:
    """The user a working key acts as (its admin, with the key's role instead of
    theirs), the key's id and its last use."""
    row = await tx.one(
        f"""SELECT {accounts.PREFIXED_USER_COLUMNS}, k.id AS key_id, k.role AS key_role,
                   k.last_used_time
            FROM {_LIVE_KEYS} k.key_hash = ?""",
        key_hash,
    )
    if row is None:
        return None
    user = user_row(row)
    user["role"] = user.pop("key_role")
    return user, user.pop("key_id"), user.pop("last_used_time")


async def record_use(tx: Tx, key_id: int) -> None:
    await accounts.note_use(tx, "api_keys", "id", key_id)


async def credential_expiries(tx: Tx, token_hashes: list[bytes]) -> dict[bytes, int]:
    """The expiry of each of these sessions that still exists (expired or not), and
    NEVER_EXPIRES for each that is a working API key's hash; the rest are gone."""
    expiries = await accounts.session_expiries(tx, token_hashes)
    others = [token_hash for token_hash in token_hashes if token_hash not in expiries]
    if others:
        keys = await accounts.rows_by_hash(
            tx, f"SELECT k.key_hash FROM {_LIVE_KEYS}", "k.key_hash", others
        )
        expiries.update((bytes(row[0]), NEVER_EXPIRES) for row in keys)
    return expiries
