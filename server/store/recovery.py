"""Password recovery: reset tokens, forgotten-password requests and their limits.

A reset token is stored only as its sha256 (`reset_tokens`), lives
model.RESET_TOKEN_TTL seconds and works once: a reset uses up every token of its user
(their expiry becomes 0). A token is deleted once it has expired and is older than
model.RESET_MAIL_WINDOW, so a used one still counts against its account's mails. The
mail that carries a token is an outbox delivery (recipient, event id 0, type
model.RESET_MAIL_TYPE) whose link the worker erases once the attempt is final.

A forgotten-password request does the same statements whether or not an account
matched (the inserts then write no row), so neither its answer nor its time tells
which accounts exist.
"""

from dataclasses import dataclass, field

from .. import model, texts
from ..errors import Invalid, TooManyAttempts
from . import accounts
from .tx import Tx, to_json


@dataclass(frozen=True)
class ResetLink:
    """A new token's link and hash; never shown by repr (no debug log of a store call
    holds the token)."""

    url: str = field(repr=False)
    token_hash: bytes = field(repr=False)


def reset_facts(link: str) -> str:
    return to_json({"notice": model.PASSWORD_RESET, "link": link})


async def _mail_token(tx: Tx, user_id: int, link: ResetLink, mailed: int) -> None:
    """A token of `user_id` and the mail carrying `link`; for an id no user has (0),
    the same statements that write nothing."""
    await tx.run(
        """INSERT INTO reset_tokens (token_hash, user_id, expires_at, created_time, mailed)
           SELECT ?, id, ?, ?, ? FROM users WHERE id = ?""",
        link.token_hash,
        tx.now + model.RESET_TOKEN_TTL,
        tx.now,
        mailed,
        user_id,
    )
    await tx.run(
        """INSERT INTO deliveries (recipient_id, event_id, event_type, payload, created_time,
                                   next_attempt_ms)
           SELECT id, 0, ?, ?, ?, ? FROM users WHERE id = ?""",
        model.RESET_MAIL_TYPE,
        reset_facts(link.url),
        tx.now,
        tx.now_ms,
        user_id,
    )
    await tx.wake_outbox()


async def request_reset(
    tx: Tx, login: str, address: str, link: ResetLink, mail_configured: bool
) -> None:
    """A forgotten-password request for the account `login` names (its user name, email
    or phone) from `address`: refused with TooManyAttempts beyond
    model.RESET_REQUESTS_PER_ADDRESS per window (a refusal is not counted). The token
    is stored and its mail queued only for an enabled account with an email that has
    had fewer than model.RESET_MAILS_PER_ACCOUNT such mails in the last hour, and only
    when mail is configured."""
    await tx.lock(f"reset:{address}")
    await tx.run(
        "DELETE FROM reset_requests WHERE created_time <= ?",
        tx.now - model.RESET_REQUEST_WINDOW,
    )
    recent = await tx.value(
        "SELECT count(*) FROM reset_requests WHERE address = ? AND created_time > ?",
        address,
        tx.now - model.RESET_REQUEST_WINDOW,
    )
    if recent >= model.RESET_REQUESTS_PER_ADDRESS:
        raise TooManyAttempts()
    await tx.run(
        "INSERT INTO reset_requests (address, created_time) VALUES (?, ?)", address, tx.now
    )
    await tx.run(
        "DELETE FROM reset_tokens WHERE expires_at <= ? AND created_time <= ?",
        tx.now,
        tx.now - model.RESET_MAIL_WINDOW,
    )
    account = await tx.one(
        f"""SELECT u.id, u.email, u.disabled,
                   (SELECT count(*) FROM reset_tokens t
                    WHERE t.user_id = u.id AND t.mailed = 1 AND t.created_time > ?) AS mailed
            FROM login_names n JOIN users u ON u.id = n.user_id
            WHERE n.login = ?{tx.for_update}""",
        tx.now - model.RESET_MAIL_WINDOW,
        model.login_key(login),
    )
    wanted = account is not None and (
        mail_configured
        and bool(account["email"])
        and not account["disabled"]
        and account["mailed"] < model.RESET_MAILS_PER_ACCOUNT
    )
    await _mail_token(tx, account["id"] if account is not None and wanted else 0, link, 1)


async def make_reset_link(tx: Tx, user_id: int, link: ResetLink, mail_configured: bool) -> None:
    """A reset token for the user (made by an admin), mailed when the user has an email
    and mail is configured. An unknown or erased user: Invalid."""
    user = await tx.one(
        f"SELECT id, email, password_hash FROM users WHERE id = ?{tx.for_update}", user_id
    )
    if user is None or user["password_hash"] == model.DELETED_PASSWORD_HASH:
        raise Invalid(texts.USER_NOT_FOUND)
    if mail_configured and user["email"]:
        await _mail_token(tx, user_id, link, 0)
        return
    await tx.run(
        """INSERT INTO reset_tokens (token_hash, user_id, expires_at, created_time, mailed)
           VALUES (?, ?, ?, ?, 0)""",
        link.token_hash,
        user_id,
        tx.now + model.RESET_TOKEN_TTL,
        tx.now,
    )


_TOKEN_USER = """
    SELECT t.user_id, t.expires_at, u.disabled
    FROM reset_tokens t JOIN users u ON u.id = t.user_id
    WHERE t.token_hash = ?"""


async def token_valid(tx: Tx, token_hash: bytes) -> bool:
    """Whether the token would reset a password now (checked before the slow hash)."""
    row = await tx.one(_TOKEN_USER, token_hash)
    return row is not None and row["expires_at"] > tx.now and not row["disabled"]


async def reset_password(tx: Tx, token_hash: bytes, password_hash: str) -> None:
    """Set the password of the token's user; every reset token of that user is used up,
    every session revoked and the account's login-failure counts cleared. An unknown,
    used or expired token, or one of a disabled account: Invalid."""
    row = await tx.one(_TOKEN_USER + tx.for_update, token_hash)
    if row is None or row["expires_at"] <= tx.now or row["disabled"]:
        raise Invalid(texts.RESET_LINK_INVALID)
    user_id = row["user_id"]
    await tx.run("UPDATE users SET password_hash = ? WHERE id = ?", password_hash, user_id)
    await tx.run("UPDATE reset_tokens SET expires_at = 0 WHERE user_id = ?", user_id)
    await accounts.revoke_user_sessions(tx, user_id)
    await accounts.clear_account_failures(tx, accounts.account_key(user_id))
