"""Webhooks and mail: where a webhook may point, how it is signed, and the
worker that sends the outbox's deliveries.

Network rules (against SSRF): a webhook URL is http(s), and its host, a literal
address or every address its name resolves to, must be public (not loopback, private,
link-local, unspecified, multicast, reserved, shared/CGNAT), unless
--webhook-allow-private. An IPv6 address that embeds an IPv4 one (IPv4-mapped, 6to4,
NAT64, Teredo) is judged by that IPv4 address. The host is taken as the HTTP client
normalises it (full-width digits and letters become ASCII ones), both when the URL is
saved and when it is delivered. At each attempt the check runs again on the address each
socket is about to connect to (the connector's socket factory), literal addresses
included, so neither a URL saved while private targets were allowed nor a name that
resolves elsewhere a second time (DNS rebinding) reaches a refused address.

Mail: every header is built by the server from checked values: From is
--mail-from (checked at start), To the recipient's address, checked again when sent
(an address stored before the rule that no longer passes it fails the delivery at
once), Date and Message-ID the server's own; the envelope names that one recipient.
The subject is the rendered text made one line (every control, line or paragraph
break becomes a space) and written as RFC 2047 base64 encoded words whenever it is not
plain short ASCII, so a reader decodes exactly that text: text a user wrote, an
encoded word included, is never decoded by the server nor handed to the email
package's header parser, which would decode it.

The worker claims due deliveries (outbox.claim_due: a lease per attempt, and on
PostgreSQL rows locked by another app server are skipped), sends each in a task of its
own, at most CONCURRENT_ATTEMPTS at once, and records the outcome: a hanging
receiver costs one attempt's ATTEMPT_TIMEOUT, never the queue. It wakes when a commit
added deliveries (store.watch_outbox; on PostgreSQL a NOTIFY that reaches every app
server) and polls every POLL_SECONDS otherwise.
"""

import asyncio
import base64
import contextlib
import hashlib
import hmac
import ipaddress
import logging
import math
import re
import secrets
import socket
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from html import escape
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
import aiosmtplib
import orjson
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from . import model, texts
from .background import Backoff, Loops, Reported
from .config import Config
from .errors import CannotSave, Invalid
from .store import Row, Store, outbox
from .texts import Text
from .validate.accounts import is_email_address, mail_sender

log = logging.getLogger("orderdesk.notify")

ATTEMPT_TIMEOUT = 10.0  # seconds for a 2xx
CONCURRENT_ATTEMPTS = 16
POLL_SECONDS = 2.0
LEASE_MS = 60_000  # an attempt in flight; longer than any attempt takes
# Seconds after attempt 1, 2, ... before the next (times --webhook-retry-base); after
# the last delay's attempt the delivery is failed: 8 attempts over about 27.6 hours.
RETRY_DELAYS = (5, 300, 1800, 7200, 18000, 36000, 36000)
SECRET_BYTES = 24


def schedule_left_ms(retry_base: float) -> tuple[int, ...]:
    """For a delivery with n attempts made (n = 0 ... len(RETRY_DELAYS)), how long after
    its next attempt the last one is due, should every attempt fail: in milliseconds."""
    return tuple(
        math.ceil(sum(RETRY_DELAYS[made:]) * retry_base * 1000)
        for made in range(len(RETRY_DELAYS) + 1)
    )


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks 1.0: v1,<base64 HMAC-SHA256 of "id.timestamp.body">, keyed
    with the bytes the secret's base64 part (after whsec_) encodes."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


# ---------------------------------------------------------------- network rules


class RefusedTarget(OSError):
    """A webhook target on an address the rules refuse."""


class RefusedAddress(RefusedTarget):
    """A connection about to go to an address the rules refuse."""


# NAT64's well-known prefix (the IPv4 address in the last 32 bits), and the local-use
# one, whose translators are the network's own: never public.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries, for the forms that reach them."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)  # the Teredo server and the client
    if ip in _NAT64:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return []


def _public_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


def is_public(address: str) -> bool:
    """Whether a webhook may be sent to this literal address: an IPv6 form that embeds an
    IPv4 address is judged by that address (each of them, for Teredo)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return False
        embedded = _embedded_ipv4(ip)
        if embedded:
            return all(_public_ip(one) for one in embedded)
    return _public_ip(ip)


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def target_host(url: str) -> str:
    """The host the HTTP client connects to for `url`: yarl's normalised form (IDNA with
    NFKC, so full-width digits and dots are ASCII ones; IPv6 without brackets)."""
    try:
        return yarl.URL(url).raw_host or ""
    except (ValueError, UnicodeError):
        return ""


class CheckedResolver(AbstractResolver):
    """The system resolver, refusing a name any of whose addresses is not public: the
    connection then goes to the addresses checked here."""

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        if not self._allow_private and not all(is_public(one["host"]) for one in found):
            raise RefusedTarget(f"{host} resolves to a non-public address")
        return found

    async def close(self) -> None:
        await self._resolver.close()


def checked_socket(addr_info: tuple[Any, ...]) -> socket.socket:
    """The connector's socket factory without --webhook-allow-private: the last check,
    on the very address about to be connected to (a literal host in the URL never goes
    through the resolver), made before anything is sent."""
    family, kind, proto, _, address = addr_info
    if not is_public(address[0]):
        raise RefusedAddress("the connection would go to a non-public address")
    return socket.socket(family=family, type=kind, proto=proto)


async def check_target(url: str, allow_private: bool, field: str = "url") -> None:
    """Raises Invalid naming `field` unless the URL's host is allowed."""
    if allow_private:
        return
    host = target_host(url)
    literal = _literal(host)
    if literal is not None:
        if not is_public(literal):
            raise Invalid(texts.WEBHOOK_URL_PRIVATE, field=field)
        return
    resolver = CheckedResolver(allow_private=False)
    try:
        if not host:
            raise ValueError("no host")
        await resolver.resolve(host, 0, socket.AF_UNSPEC)
    except RefusedTarget:
        raise Invalid(texts.WEBHOOK_URL_PRIVATE, field=field) from None
    except (OSError, UnicodeError, ValueError):  # not found, or no valid name (IDNA)
        raise Invalid(texts.WEBHOOK_URL_UNRESOLVED, field=field) from None
    finally:
        await resolver.close()


# ---------------------------------------------------------------- mail

# What each mail says (outbox's notices); {id} and {title} are the order's.
MAIL_SUBJECTS = {
    "new_order": Text("New order #{id}: {title}", "新订单 #{id}：{title}"),
    "customer_message": Text(
        "New message from the customer on order #{id}: {title}",
        "客户在订单 #{id}（{title}）中发来新消息",
    ),
    "accepted": Text(
        "The customer accepted the quote for order #{id}: {title}",
        "客户已接受订单 #{id}（{title}）的报价",
    ),
    "rejected": Text(
        "The customer rejected the quote for order #{id}: {title}",
        "客户已拒绝订单 #{id}（{title}）的报价",
    ),
    "cancelled": Text(
        "The customer cancelled order #{id}: {title}", "客户已取消订单 #{id}（{title}）"
    ),
    "assigned": Text("Order #{id} was assigned to you: {title}", "订单 #{id}（{title}）已分配给您"),
    "merchant_message": Text(
        "New message from the merchant on your order #{id}: {title}",
        "商家在您的订单 #{id}（{title}）中发来新消息",
    ),
    "quoted": Text(
        "You have a quote for your order #{id}: {title}", "您的订单 #{id}（{title}）收到了报价"
    ),
    "status_changed": Text(
        "The status of your order #{id} changed: {title}", "您的订单 #{id}（{title}）状态已变更"
    ),
    "paid": Text(
        "Your payment for order #{id} was received: {title}", "订单 #{id}（{title}）已确认收款"
    ),
    "delivered": Text("Your order #{id} was shipped: {title}", "您的订单 #{id}（{title}）已发货"),
    "refunded": Text("Your order #{id} was refunded: {title}", "您的订单 #{id}（{title}）已退款"),
}
MAIL_OPEN = Text("Open the order: {link}", "查看订单：{link}")
MAIL_FOOTER = Text(
    "You receive this mail from orderdesk about your orders.",
    "您收到此邮件，是因为您在 orderdesk 上的订单有了新动态。",
)


# The mail with a password reset link; {link} is the link.
RESET_SUBJECT = Text("Reset your orderdesk password", "重置您的 orderdesk 密码")
RESET_BODY = Text(
    "Someone asked to reset the password of your orderdesk account. The link below "
    "sets a new one; it works once, within one hour.",
    "有人请求重置您的 orderdesk 账户密码。下面的链接可设置新密码，一小时内有效，只能使用一次。",
)
RESET_OPEN = Text("Set a new password: {link}", "设置新密码：{link}")
RESET_FOOTER = Text(
    "If you did not ask for this, ignore this mail: your password stays as it is.",
    "如果这不是您本人的请求，请忽略此邮件，您的密码不会改变。",
)


# Headers are written as the server builds them: the email package's SMTP policy (which
# refuses a line break in any header value it is given), with CRLF, 7-bit bodies
# (quoted-printable or base64 as needed) and no re-folding of the subject, which
# _subject_header has already folded.
MAIL_POLICY = policy.SMTP.clone(cte_type="7bit", refold_source="none", raise_on_defect=True)
# "Subject: " plus a subject of plain ASCII this long fits one 78-character line.
_PLAIN_SUBJECT_MAX = 78 - len("Subject: ")
# UTF-8 bytes per encoded word: 42 make 56 base64 characters, a 68-character word.
_WORD_BYTES = 42
_LINE_BREAKS = frozenset(("Cc", "Zl", "Zp"))


def one_line(text: str) -> str:
    """`text` as one line of plain text: every control character and line or paragraph
    separator (CR, LF, U+0085, U+2028, U+2029, ...) and every run of spaces becomes one
    space; no space at either end."""
    spaced = "".join(" " if unicodedata.category(c) in _LINE_BREAKS else c for c in text)
    return " ".join(spaced.split())


def _subject_header(subject: str) -> str:
    """The Subject header's value, folded, for a one-line subject: the text itself when
    it is short printable ASCII without "=?"; otherwise RFC 2047 base64 encoded words of
    whole characters (one per folded line), so whatever the text holds, an encoded word
    of its own included, a reader decodes exactly it."""
    if (
        len(subject) <= _PLAIN_SUBJECT_MAX
        and subject.isascii()
        and subject.isprintable()
        and "=?" not in subject
    ):
        return subject
    words, chunk = [], b""
    for char in subject:
        encoded = char.encode()
        if len(chunk) + len(encoded) > _WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    words.append(chunk)
    return "\n ".join(f"=?utf-8?b?{base64.b64encode(word).decode()}?=" for word in words)


def _address(address: str, name: str = "") -> Address:
    """A checked address as a header value: never parsed from text a header could hold."""
    local, domain = address.rsplit("@", 1)
    return Address(display_name=name, username=local, domain=domain)


def compose_mail(
    facts: dict[str, Any], to: str, language: str, config: Config, message_id: str
) -> EmailMessage:
    """The mail of one notice: plain text and HTML, in `language` ('en' or 'zh'), to
    `to` (an address that passed is_email_address)."""
    notice = facts["notice"]
    if notice == model.PASSWORD_RESET:
        link = facts["link"]
        subject = RESET_SUBJECT.render(language, {})
        detail = RESET_BODY.render(language, {})
        opening = RESET_OPEN.render(language, {"link": link})
        footer = RESET_FOOTER.render(language, {})
    else:
        order_id, title = facts["order_id"], facts["title"]
        route = "admin/order" if notice in model.MERCHANT_SIDE else "order"
        base = config.public_url or f"http://{config.host}:{config.port}"
        link = f"{base.rstrip('/')}/#/{route}/{order_id}"
        subject = one_line(MAIL_SUBJECTS[notice].render(language, {"id": order_id, "title": title}))
        opening = MAIL_OPEN.render(language, {"link": link})
        footer = MAIL_FOOTER.render(language, {})
        detail = facts["detail"]
    sender_name, sender = mail_sender(config.mail_from)
    mail = EmailMessage(policy=MAIL_POLICY)
    # set_raw: the folded encoded words go out as they are, never parsed (and so never
    # decoded) by the header parser.
    mail.set_raw("Subject", _subject_header(subject))
    mail["From"] = _address(sender, sender_name)
    mail["To"] = _address(to)
    mail["Date"] = format_datetime(datetime.fromtimestamp(config.clock(), UTC))
    domain = sender.rsplit("@", 1)[1]
    mail["Message-ID"] = f"<{message_id}@{domain if domain.isascii() else 'localhost'}>"
    mail.set_content("\n\n".join(part for part in (subject, detail, opening, footer) if part))
    quoted = f"<blockquote>{escape(detail)}</blockquote>" if detail else ""
    mail.add_alternative(
        f'<!doctype html><html lang="{"zh-CN" if language == "zh" else "en"}"><body>'
        f"<p><strong>{escape(subject)}</strong></p>{quoted}"
        f'<p><a href="{escape(link)}">{escape(opening)}</a></p>'
        f"<p><small>{escape(footer)}</small></p></body></html>",
        subtype="html",
    )
    return mail


async def send_mail(mail: EmailMessage, sender: str, recipient: str, smtp_url: str) -> None:
    """Sends the mail to that one recipient (the envelope's only RCPT), as the bytes
    MAIL_POLICY writes (an address beyond ASCII needs the server's SMTPUTF8)."""
    parts = urlsplit(smtp_url)
    tls = parts.scheme == "smtps"
    utf8 = not (sender.isascii() and recipient.isascii())
    data = mail.as_bytes(policy=MAIL_POLICY.clone(utf8=True) if utf8 else MAIL_POLICY)
    await aiosmtplib.send(
        data,
        sender=sender,
        recipients=[recipient],
        mail_options=["SMTPUTF8"] if utf8 else None,
        hostname=parts.hostname,
        port=parts.port or (465 if tls else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=tls,
        timeout=ATTEMPT_TIMEOUT,
    )


# ---------------------------------------------------------------- the worker


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    http_status: int | None = None
    error: str = ""
    final: bool = False  # no retry would go otherwise


# An email address in an error's text (an SMTP refusal quotes the recipient's).
_ADDRESS = re.compile(r"[^\s<>'\"(),;:\[\]]+@[^\s<>'\"(),;:\[\]]+")


class Outbox:
    def __init__(
        self, store: Store, config: Config, failed: Callable[[str], None] = lambda kind: None
    ) -> None:
        self._store = store
        self._config = config
        self._failed = failed  # called with "webhook" or "mail" when one is given up
        # Failed attempts are logged once a minute per kind (see _log_failure).
        self._reported = {"webhook": Reported(), "mail": Reported()}
        self._unlogged = {"webhook": 0, "mail": 0}
        self._wake = asyncio.Event()
        self._attempts: dict[asyncio.Task[None], int] = {}  # in flight: the delivery's id
        self._loops = Loops()
        self._http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        allow_private = self._config.webhook_allow_private
        connector = aiohttp.TCPConnector(
            resolver=CheckedResolver(allow_private),
            socket_factory=None if allow_private else checked_socket,
            limit=CONCURRENT_ATTEMPTS,
            force_close=True,
        )
        self._http = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT),
            headers={"User-Agent": "orderdesk-webhooks"},
        )
        self._store.writes.on_recovery(self.wake)
        self._loops.start(self._run(), self._wake)

    async def stop(self) -> None:
        """Attempts in flight are abandoned and their leases given back, so another
        server (or this one after a restart) makes them again at once."""
        await self._loops.stop()  # no new claims
        abandoned = list(self._attempts.values())
        for task in self._attempts:
            task.cancel()
        await asyncio.gather(*self._attempts, return_exceptions=True)
        if abandoned:
            try:
                await self._store.write(outbox.release, abandoned)
            except Exception:  # the lease runs out by itself
                log.warning("giving back %d delivery leases failed", len(abandoned))
        if self._http is not None:
            await self._http.close()

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        backoff = Backoff(log, "reading the outbox")
        while not self._loops.stopping:
            try:
                await self._store.watch_outbox(self.wake)
                wait = await self._start_due_attempts()
            except Exception as error:
                wait = backoff.failed(error, POLL_SECONDS)
            else:
                backoff.succeeded()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            self._wake.clear()

    async def _start_due_attempts(self) -> float:
        """Claims what is due and free slots allow; the seconds until the next look."""
        due_ms = await self._store.read(outbox.next_due_ms)
        if due_ms is None:
            return POLL_SECONDS
        until_due = due_ms / 1000 - self._config.clock()
        free = CONCURRENT_ATTEMPTS - len(self._attempts)
        if until_due > 0 or free == 0:
            return min(POLL_SECONDS, max(until_due, 0.0)) if free else POLL_SECONDS
        claimed = await self._store.write(outbox.claim_due, LEASE_MS, free)
        for delivery in claimed:
            task = asyncio.get_running_loop().create_task(self._attempt(delivery))
            self._attempts[task] = delivery["id"]
            task.add_done_callback(self._attempt_done)
        # Nothing claimed: another server is claiming the due rows right now.
        return 0.0 if claimed else POLL_SECONDS

    def _attempt_done(self, task: asyncio.Task[None]) -> None:
        self._attempts.pop(task, None)
        self.wake()

    async def _attempt(self, delivery: Row) -> None:
        try:
            if delivery["webhook_id"] is not None:
                outcome = await self._post(delivery)
            else:
                outcome = await self._mail(delivery)
        except Exception as error:  # an attempt's failure is the delivery's, not ours
            outcome = Outcome(False, None, f"{type(error).__name__}: {error}")
        attempts = delivery["attempts"] + 1
        next_ms = None
        if not (outcome.delivered or outcome.final) and attempts <= len(RETRY_DELAYS):
            delay = RETRY_DELAYS[attempts - 1] * self._config.webhook_retry_base
            next_ms = math.floor((self._config.clock() + delay) * 1000)
        kind = "webhook" if delivery["webhook_id"] is not None else "mail"
        if not (outcome.delivered or outcome.final):
            self._log_failure(kind, delivery, attempts, outcome.error, next_ms is not None)
        record = asyncio.ensure_future(
            self._store.write(
                outbox.finish_attempt,
                delivery["id"],
                outcome.delivered,
                outcome.http_status,
                outcome.error,
                next_ms,
            )
        )
        try:
            # Shielded: a stop waits for the attempt's record (before the store closes),
            # never leaves it half-written.
            await asyncio.shield(record)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):  # not recorded: the lease runs out
                await record
            raise
        except CannotSave:
            pass  # the store logs that condition; the lease runs out and it is sent again
        except Exception:
            log.warning("recording delivery %s failed; it is sent again", delivery["id"])
            return
        if not outcome.delivered and next_ms is None:
            self._failed(kind)

    def _log_failure(
        self, kind: str, delivery: Row, attempts: int, error: str, retried: bool
    ) -> None:
        """A failed attempt, in a WARNING line at most once a minute per kind (a receiver
        or mail server that is down fails every attempt), counting those left unsaid.
        Ids only: a webhook's URL may hold its secret, and a mail's address is personal
        (a mail server's refusal quotes it: masked)."""
        self._unlogged[kind] += 1
        if not self._reported[kind].start_due():
            return
        unlogged, self._unlogged[kind] = self._unlogged[kind] - 1, 0
        since = f"; {unlogged} more failed {kind} attempts since the last such line"
        log.warning(
            "%s delivery %s%s failed (attempt %d): %s; %s%s",
            kind, delivery["id"],
            f" (webhook {delivery['webhook_id']})" if kind == "webhook" else "",
            attempts, _ADDRESS.sub("<address>", one_line(error))[:300],
            "it is tried again later" if retried else "given up after its last attempt",
            since if unlogged else "",
        )  # fmt: skip

    async def _post(self, delivery: Row) -> Outcome:
        url = delivery["url"]
        literal = _literal(target_host(url))
        if not self._config.webhook_allow_private and literal and not is_public(literal):
            return Outcome(False, None, "refused: the URL points to a non-public address")
        body = delivery["payload"].encode()
        # One id per message, the same on every attempt and redelivery: its event's and
        # its webhook's ids, neither ever given again (a delivery's id may be, once the
        # newest deliveries are deleted with their webhook).
        message_id = f"msg_{delivery['event_id']}_{delivery['webhook_id']}"
        timestamp = math.floor(self._config.clock())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(delivery["secret"], message_id, timestamp, body),
        }
        assert self._http is not None
        try:
            async with self._http.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as answer:
                delivered = 200 <= answer.status < 300
                error = "" if delivered else f"HTTP {answer.status}"
                return Outcome(delivered, answer.status, error)
        except TimeoutError:
            return Outcome(False, None, f"no answer within {ATTEMPT_TIMEOUT:g} s")
        except aiohttp.ClientConnectorError as error:
            if isinstance(error.os_error, RefusedAddress):
                return Outcome(False, None, f"refused: {error.os_error}")
            if isinstance(error.os_error, RefusedTarget):
                return Outcome(False, None, "refused: the host resolves to a non-public address")
            return Outcome(False, None, str(error))
        except aiohttp.ClientError as error:
            return Outcome(False, None, f"{type(error).__name__}: {error}")

    async def _mail(self, delivery: Row) -> Outcome:
        if not self._config.smtp_url:
            return Outcome(False, None, "no mail server: the server runs without --smtp-url", True)
        address = delivery["email"]
        if not address:
            return Outcome(False, None, "the recipient has no email address", True)
        if not is_email_address(address):  # stored before the rule
            return Outcome(False, None, "the recipient's email address is not valid", True)
        facts = orjson.loads(delivery["payload"])
        message_id = f"orderdesk.{delivery['id']}.{delivery['event_id']}"
        config = self._config
        mail = compose_mail(facts, address, delivery["language"], config, message_id)
        _, sender = mail_sender(config.mail_from)
        await send_mail(mail, sender, address, config.smtp_url)
        return Outcome(True)
