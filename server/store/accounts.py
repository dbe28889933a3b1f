"""Accounts and sessions: users, the login namespace, sessions, login throttling."""

from collections.abc import Iterable
from typing import Literal, NamedTuple

from .. import model, texts
from ..errors import AlreadyTaken, Invalid, TooManyAttempts
from .tx import USER_COLUMNS, DbRow, Tx, user_row
from .types import LoginLimits, Row

# One login namespace: login_names holds every user name, email and phone of
# every account, folded by model.login_key, under one unique key; logins look accounts
# up through it. (The users table's own unique columns stay as a second guard.)

# What create-admin did: made a new admin, promoted a user, or also enabled a disabled one.
AdminSaved = Literal["created", "promoted", "enabled"]

PREFIXED_USER_COLUMNS = ", ".join(f"u.{column}" for column in USER_COLUMNS.split(", "))

LOGIN_USER = f"""
    SELECT {PREFIXED_USER_COLUMNS}, u.password_hash, u.disabled
    FROM login_names n JOIN users u ON u.id = n.user_id
    WHERE n.login = ?"""

# PostgreSQL: every app server LISTENs here, so that a session revoked anywhere ends its
# open event streams at once; the statement that revokes sends it, so it goes out when
# the revoking transaction commits (and not if it rolls back).
SESSIONS_CHANNEL = "orderdesk_sessions"
# SQLite: token hashes (of sessions or API keys) looked up per statement (well under
# its limit on parameters).
_SESSIONS_PER_LOOKUP = 500

SESSION_USER = f"""
    SELECT {PREFIXED_USER_COLUMNS}, s.expires_at, s.ttl, s.last_used_time
    FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.token_hash = ?"""


async def _claim_login_names(tx: Tx, user_id: int, names: Iterable[tuple[str, str | None]]) -> None:
    """Put each (field, value) of the user into the namespace; raises AlreadyTaken naming
    the first field whose value another account holds. Race-free: a concurrent claim of
    the same key waits for this transaction and then sees its row."""
    for field, value in names:
        if value is None:
            continue
        key = model.login_key(value)
        await tx.run(
            """INSERT INTO login_names (login, user_id, kind) VALUES (?, ?, ?)
               ON CONFLICT (login) DO NOTHING""",
            key,
            user_id,
            field,
        )
        if await tx.value("SELECT user_id FROM login_names WHERE login = ?", key) != user_id:
            raise AlreadyTaken(field)


async def _insert_user(
    tx: Tx,
    user_name: str,
    email: str | None,
    phone: str | None,
    password_hash: str,
    role: str,
) -> Row:
    try:
        row = await tx.row(
            f"""INSERT INTO users (user_name, email, phone, role, password_hash, created_time)
                VALUES (?, ?, ?, ?, ?, ?) RETURNING {USER_COLUMNS}""",
            user_name,
            email,
            phone,
            role,
            password_hash,
            tx.now,
        )
    except Exception as error:
        field = tx.taken_field(error)
        if field is None:
            raise
        raise AlreadyTaken(field) from None
    names = (("user_name", user_name), ("email", email), ("phone", phone))
    await _claim_login_names(tx, row["id"], names)
    return user_row(row)


async def create_user(
    tx: Tx,
    user_name: str,
    email: str | None,
    phone: str | None,
    password_hash: str,
    address: str,
    per_hour: int,
) -> Row:
    """A customer; at most `per_hour` successful registrations per client address in the
    last hour (0: no limit), counted in the same transaction."""
    if per_hour:
        await tx.lock(f"register:{address}")
        await tx.run(
            "DELETE FROM registrations WHERE created_time <= ?",
            tx.now - model.REGISTRATION_WINDOW,
        )
        if await registrations_used_up(tx, address, per_hour):
            raise TooManyAttempts()
        await tx.run(
            "INSERT INTO registrations (address, created_time) VALUES (?, ?)", address, tx.now
        )
    return await _insert_user(tx, user_name, email, phone, password_hash, "user")


async def registrations_used_up(tx: Tx, address: str, per_hour: int) -> bool:
    """Whether `address` made `per_hour` registrations in the last hour (0: no limit)."""
    if not per_hour:
        return False
    recent = await tx.value(
        "SELECT count(*) FROM registrations WHERE address = ? AND created_time > ?",
        address,
        tx.now - model.REGISTRATION_WINDOW,
    )
    return recent >= per_hour


async def get_login_user(tx: Tx, login: str) -> Row | None:
    row = await tx.one(LOGIN_USER, model.login_key(login))
    return None if row is None else user_row(row)


async def password_hash(tx: Tx, user_id: int) -> str:
    return await tx.value("SELECT password_hash FROM users WHERE id = ?", user_id)


async def revoke(tx: Tx, delete: str, *params: object) -> list[bytes]:
    """Run `delete`, a DELETE FROM sessions (or api_keys) … RETURNING token_hash: the
    sessions (keys) end when the transaction commits, here and (see SESSIONS_CHANNEL) on
    every app server, their open event streams too. Every revocation of sessions and API
    keys goes through here; it returns the token hashes revoked."""
    if tx.dialect == "postgres":
        # One notification per row, which PostgreSQL folds into one per transaction.
        delete = f"""WITH revoked AS ({delete})
                     SELECT token_hash, pg_notify('{SESSIONS_CHANNEL}', '') FROM revoked"""
    revoked = [bytes(row[0]) for row in await tx.all(delete, *params)]
    tx.sessions_revoked(revoked)
    return revoked


async def revoke_user_sessions(tx: Tx, user_id: int, keep: bytes = b"") -> None:
    """Every session of the user but `keep`."""
    await revoke(
        tx,
        "DELETE FROM sessions WHERE user_id = ? AND token_hash <> ? RETURNING token_hash",
        user_id,
        keep,
    )


async def save_admin(
    tx: Tx, user_name: str, email: str | None, password_hash: str
) -> tuple[Row, AdminSaved]:
    """Promote the user named `user_name` (setting its password, and its email if given;
    a disabled account is enabled: the command is how an admin gets back in) and revoke
    every session it has, or create a new admin. Returns the user and what was done."""
    found = await tx.one(
        """SELECT u.id, u.disabled FROM login_names n JOIN users u ON u.id = n.user_id
           WHERE n.login = ? AND n.kind = 'user_name'"""
        + tx.for_update,
        model.login_key(user_name),
    )
    if found is None:
        return await _insert_user(tx, user_name, email, None, password_hash, "admin"), "created"
    user_id = found["id"]
    if email is not None:
        await tx.run("DELETE FROM login_names WHERE user_id = ? AND kind = 'email'", user_id)
        await _claim_login_names(tx, user_id, [("email", email)])
    try:
        row = await tx.row(
            f"""UPDATE users SET role = 'admin', disabled = 0, password_hash = ?,
                                 email = coalesce(?, email)
                WHERE id = ? RETURNING {USER_COLUMNS}""",
            password_hash,
            email,
            user_id,
        )
    except Exception as error:
        if tx.taken_field(error) is None:
            raise
        raise AlreadyTaken("email") from None
    await revoke_user_sessions(tx, user_id)
    return user_row(row), "enabled" if found["disabled"] else "promoted"


async def change_password(tx: Tx, user_id: int, password_hash: str, keep: bytes) -> None:
    """Set the password and revoke every other session of the user."""
    await tx.run("UPDATE users SET password_hash = ? WHERE id = ?", password_hash, user_id)
    await revoke_user_sessions(tx, user_id, keep)


async def create_session(
    tx: Tx, token_hash: bytes, user_id: int, expires_at: int, ttl: int, language: str
) -> None:
    """Store a new session, drop the user's expired ones, and revoke the oldest beyond
    SESSIONS_PER_USER. The login's language is kept for mail, and its time as the
    user's last login (a registration logs in too)."""
    await tx.lock(f"sessions:{user_id}")  # serial numbers are taken one at a time
    await tx.run(
        "UPDATE users SET language = ?, last_login_time = ? WHERE id = ?", language, tx.now, user_id
    )
    await tx.run("DELETE FROM sessions WHERE user_id = ? AND expires_at <= ?", user_id, tx.now)
    await tx.run(
        """INSERT INTO sessions (token_hash, user_id, expires_at, ttl, serial, created_time,
                                  last_used_time)
           VALUES (?1, ?2, ?3, ?4,
                   (SELECT coalesce(max(serial), 0) + 1 FROM sessions WHERE user_id = ?2),
                   ?5, ?5)""",
        token_hash,
        user_id,
        expires_at,
        ttl,
        tx.now,
    )
    await revoke(
        tx,
        """DELETE FROM sessions WHERE user_id = ?1 AND serial <= (
               SELECT serial FROM sessions WHERE user_id = ?1
               ORDER BY serial DESC LIMIT 1 OFFSET ?2)
           RETURNING token_hash""",
        user_id,
        model.SESSIONS_PER_USER,
    )


class FoundSession(NamedTuple):
    user: Row
    expires_at: int
    ttl: int  # 0: the server's default
    last_used: int  # to within model.LAST_USE_SECONDS


def found_session(row: DbRow) -> FoundSession:
    """A session from a driver's row of SESSION_USER (and perhaps more columns)."""
    user = user_row(row)
    return FoundSession(user, user.pop("expires_at"), user.pop("ttl"), user.pop("last_used_time"))


async def session_user(tx: Tx, token_hash: bytes) -> FoundSession | None:
    """The session, expired or not: the caller checks the time."""
    row = await tx.one(SESSION_USER, token_hash)
    return None if row is None else found_session(row)


async def renew_session(tx: Tx, token_hash: bytes, expires_at: int) -> None:
    """A renewal is a use too."""
    await tx.run(
        "UPDATE sessions SET expires_at = ?, last_used_time = ? WHERE token_hash = ?",
        expires_at,
        tx.now,
        token_hash,
    )
    tx.session_changed(token_hash)


async def note_use(tx: Tx, table: str, key_column: str, key: object) -> None:
    """Note the use now of the credential (a session, an API key) whose `key_column` in
    `table` is `key`, unless it was noted less than LAST_USE_SECONDS ago (decided by the
    statement, so requests at the same moment write it once)."""
    await tx.run(
        f"UPDATE {table} SET last_used_time = ? WHERE {key_column} = ? AND last_used_time <= ?",
        tx.now,
        key,
        tx.now - model.LAST_USE_SECONDS,
    )


async def record_session_use(tx: Tx, token_hash: bytes) -> None:
    await note_use(tx, "sessions", "token_hash", token_hash)
    tx.session_changed(token_hash)


async def delete_session(tx: Tx, token_hash: bytes) -> None:
    await revoke(tx, "DELETE FROM sessions WHERE token_hash = ? RETURNING token_hash", token_hash)


async def delete_user_sessions(tx: Tx, token_hash: bytes) -> None:
    """Every session of the user whose unexpired session this is."""
    await revoke(
        tx,
        """DELETE FROM sessions WHERE user_id = (
               SELECT user_id FROM sessions WHERE token_hash = ? AND expires_at > ?)
           RETURNING token_hash""",
        token_hash,
        tx.now,
    )


async def session_expiries(tx: Tx, token_hashes: list[bytes]) -> dict[bytes, int]:
    """The expiry of each of these sessions that still exists (expired or not)."""
    rows = await rows_by_hash(
        tx, "SELECT token_hash, expires_at FROM sessions WHERE", "token_hash", token_hashes
    )
    return {bytes(row[0]): row[1] for row in rows}


async def rows_by_hash(tx: Tx, select: str, column: str, hashes: list[bytes]) -> list[DbRow]:
    """The rows of `select` (a SELECT … WHERE, its condition to be completed) whose
    `column` is one of `hashes`."""
    if tx.dialect == "postgres":
        return await tx.all(f"{select} {column} = ANY(?::bytea[])", hashes)
    rows: list[DbRow] = []
    for start in range(0, len(hashes), _SESSIONS_PER_LOOKUP):
        part = hashes[start : start + _SESSIONS_PER_LOOKUP]
        rows += await tx.all(f"{select} {column} IN ({', '.join('?' * len(part))})", *part)
    return rows


async def login_refused(tx: Tx, pair: str, address: str, limits: LoginLimits) -> bool:
    count = "SELECT count(*) FROM login_failures WHERE subject = ? AND failed_at > ?"
    since = tx.now - limits.window
    if await tx.value(count, pair, since) >= limits.per_pair:
        return True
    return bool(limits.per_address) and await tx.value(count, address, since) >= limits.per_address


async def record_login_failure(tx: Tx, subjects: list[str], window: int) -> None:
    """Count a failure against each subject, and purge failures older than the window."""
    await tx.run("DELETE FROM login_failures WHERE failed_at <= ?", tx.now - window)
    await tx.run_many(
        "INSERT INTO login_failures (subject, failed_at) VALUES (?, ?)",
        [(subject, tx.now) for subject in subjects],
    )


async def clear_login_failures(tx: Tx, subject: str) -> None:
    await tx.run("DELETE FROM login_failures WHERE subject = ?", subject)


def account_key(user_id: int) -> str:
    """A known account, as login throttling counts it (an unknown name: unknown_key)."""
    return f"user:{user_id}"


def unknown_key(login: str) -> str:
    return f"name:{model.login_key(login)}"


def pair_subject(account: str, address: str) -> str:
    """The failures of one account from one client address."""
    return f"pair:{account}|{address}"


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def clear_account_failures(tx: Tx, account: str) -> None:
    """Every failure counted against `account`, from any client address."""
    await tx.run(
        "DELETE FROM login_failures WHERE subject LIKE ? ESCAPE '\\'",
        _like_prefix(pair_subject(account, "")),
    )


async def bulk_create_users(tx: Tx, user_names: list[str], password_hash: str) -> list[int]:
    """Many customers sharing one password hash (benchmarks, imports)."""
    return [
        (await _insert_user(tx, name, None, None, password_hash, "user"))["id"]
        for name in user_names
    ]


# Changes that could leave no enabled admin (a demotion, disabling, an erasure) are made
# one at a time: two admins demoting each other at once cannot both pass the count.
_ADMIN_CHANGES_LOCK = "admin changes"


async def keep_an_enabled_admin(tx: Tx, refusal: texts.Text) -> None:
    """Invalid(refusal) unless another enabled admin remains; called before an enabled
    admin loses the role, is disabled or is erased."""
    await tx.lock(_ADMIN_CHANGES_LOCK)
    enabled = await tx.value("SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0")
    if enabled <= 1:
        raise Invalid(refusal)
