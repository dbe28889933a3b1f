"""Settings: defaults, then ORDERDESK_* environment variables, then command-line flags."""

import argparse
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .validate import mail_sender

# A trusted proxy's address or range (--trusted-proxy).
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


DEFAULT_DB = "./data/orderdesk.db"


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8001
    db: str = DEFAULT_DB
    session_ttl: int = 86400
    # Accounts (spec 2): a "remember" login's session; throttling and registration rate.
    remember_ttl: int = 2592000
    max_login_failures_per_address: int = 20  # 0: off
    max_registrations_per_hour: int = 20  # 0: off
    # "normal" survives a killed process; "full" also survives power loss (slower).
    synchronous: str = "normal"
    # PostgreSQL only: connections in the pool.
    db_pool: int = 10
    # Origins allowed to call the API from a browser (CORS); none by default.
    cors_origins: tuple[str, ...] = ()
    # Reverse proxies whose X-Forwarded-For/-Proto are believed; none by default.
    trusted_proxies: tuple[Network, ...] = ()
    log_level: str = "info"
    # Attachments (spec 7): the upload body limit and each user's total.
    max_upload_mb: int = 10
    upload_quota_mb: int = 200
    # The event loop: uvloop (faster) where it is installed, else asyncio's own.
    loop: str = "uvloop"
    # Live events (spec 8): seconds between `: ping` lines on an idle stream.
    ping_seconds: float = 15.0
    # Webhooks and mail (spec 9): private targets allowed (tests, a LAN), the scale of the
    # retry delays (1: the default schedule, over more than 24 hours), the SMTP server
    # (smtp:// or smtps://; none: no mail), the sender, and the console's public URL.
    webhook_allow_private: bool = False
    webhook_retry_base: float = 1.0
    smtp_url: str = ""
    mail_from: str = ""
    public_url: str = "http://127.0.0.1:8001/"
    # Injectable so tests can move time forward (session expiry and renewal).
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}: {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _network(text: str) -> Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an address or CIDR range: {text!r}") from None


def add_serve_arguments(parser: argparse.ArgumentParser, env: dict[str, str]) -> None:
    """The serving flags; each default comes from its ORDERDESK_* variable if set."""
    defaults = Config()
    parser.add_argument(
        "--host",
        default=env.get("ORDERDESK_HOST", defaults.host),
        help="address to listen on (env ORDERDESK_HOST; default %(default)s)",
    )
    parser.add_argument(
        "--port",
        type=_positive_int,
        default=env.get("ORDERDESK_PORT", str(defaults.port)),
        help="port to listen on (env ORDERDESK_PORT; default %(default)s)",
    )
    add_db_argument(parser, env)
    parser.add_argument(
        "--session-ttl",
        type=_positive_int,
        default=env.get("ORDERDESK_SESSION_TTL", str(defaults.session_ttl)),
        help="seconds a session lives after its last renewal (env ORDERDESK_SESSION_TTL; "
        "default %(default)s)",
    )
    parser.add_argument(
        "--remember-ttl",
        type=_positive_int,
        default=env.get("ORDERDESK_REMEMBER_TTL", str(defaults.remember_ttl)),
        help='seconds a session made with "remember": true lives after its last renewal '
        "(env ORDERDESK_REMEMBER_TTL; default %(default)s)",
    )
    parser.add_argument(
        "--max-login-failures-per-address",
        type=_non_negative_int,
        default=env.get(
            "ORDERDESK_MAX_LOGIN_FAILURES_PER_ADDRESS", str(defaults.max_login_failures_per_address)
        ),
        help="failed logins from one client address in 15 minutes after which it is refused "
        "for every name; 0 turns it off (env ORDERDESK_MAX_LOGIN_FAILURES_PER_ADDRESS; "
        "default %(default)s)",
    )
    parser.add_argument(
        "--max-registrations-per-hour",
        type=_non_negative_int,
        default=env.get(
            "ORDERDESK_MAX_REGISTRATIONS_PER_HOUR", str(defaults.max_registrations_per_hour)
        ),
        help="successful registrations per client address per hour; 0 turns it off "
        "(env ORDERDESK_MAX_REGISTRATIONS_PER_HOUR; default %(default)s)",
    )
    parser.add_argument(
        "--db-pool",
        type=_positive_int,
        default=env.get("ORDERDESK_DB_POOL", str(defaults.db_pool)),
        help="PostgreSQL connections per server process (env ORDERDESK_DB_POOL; "
        "default %(default)s)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[o for o in env.get("ORDERDESK_CORS_ORIGINS", "").split(",") if o],
        metavar="ORIGIN",
        help="let browser pages from ORIGIN (e.g. https://shop.example.com) call the API; "
        "repeatable (env ORDERDESK_CORS_ORIGINS, comma-separated; default none)",
    )
    try:
        env_proxies = [
            _network(p) for p in env.get("ORDERDESK_TRUSTED_PROXIES", "").split(",") if p.strip()
        ]
    except argparse.ArgumentTypeError as error:
        parser.error(f"ORDERDESK_TRUSTED_PROXIES: {error}")
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        type=_network,
        default=env_proxies,
        metavar="ADDR",
        help="a reverse proxy (address or CIDR range) whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed; repeatable (env ORDERDESK_TRUSTED_PROXIES, "
        "comma-separated; default none)",
    )
    parser.add_argument(
        "--max-upload-mb",
        type=_positive_int,
        default=env.get("ORDERDESK_MAX_UPLOAD_MB", str(defaults.max_upload_mb)),
        help="largest file POST /api/attachment/upload takes, in MiB "
        "(env ORDERDESK_MAX_UPLOAD_MB; default %(default)s)",
    )
    parser.add_argument(
        "--upload-quota-mb",
        type=_positive_int,
        default=env.get("ORDERDESK_UPLOAD_QUOTA_MB", str(defaults.upload_quota_mb)),
        help="total MiB of uploads each user may store "
        "(env ORDERDESK_UPLOAD_QUOTA_MB; default %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default=env.get("ORDERDESK_LOG_LEVEL", defaults.log_level),
        help="'info' logs one line per request; 'warning' only problems "
        "(env ORDERDESK_LOG_LEVEL; default %(default)s)",
    )
    parser.add_argument(
        "--synchronous",
        choices=("normal", "full"),
        default=env.get("ORDERDESK_SYNCHRONOUS", defaults.synchronous),
        help="SQLite durability: 'normal' keeps every acknowledged write when the process "
        "is killed; 'full' also keeps it through a power loss, at some cost in speed "
        "(env ORDERDESK_SYNCHRONOUS; default %(default)s)",
    )

    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default=env.get("ORDERDESK_LOOP", defaults.loop),
        help="the event loop: 'uvloop' (used where it is installed) or Python's own "
        "'asyncio' (env ORDERDESK_LOOP; default %(default)s)",
    )
    add_notification_arguments(parser, env)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0: {text!r}")
    return value


def _smtp_url(text: str) -> str:
    if text and not text.startswith(("smtp://", "smtps://")):
        raise argparse.ArgumentTypeError(f"not an smtp:// or smtps:// URL: {text!r}")
    return text


def _mail_from(text: str) -> str:
    """--mail-from: one address, or `Name <address>` (validate.mail_sender)."""
    if text:
        try:
            mail_sender(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return text


def add_notification_arguments(parser: argparse.ArgumentParser, env: dict[str, str]) -> None:
    """Webhooks and mail (spec 9)."""
    defaults = Config()
    parser.add_argument(
        "--webhook-allow-private",
        action="store_true",
        default=env.get("ORDERDESK_WEBHOOK_ALLOW_PRIVATE", "") not in ("", "0", "false"),
        help="let webhooks target loopback, private, link-local and other non-public "
        "addresses (env ORDERDESK_WEBHOOK_ALLOW_PRIVATE=1; default off)",
    )
    parser.add_argument(
        "--webhook-retry-base",
        type=_positive_float,
        default=env.get("ORDERDESK_WEBHOOK_RETRY_BASE", str(defaults.webhook_retry_base)),
        help="multiplies the delays between delivery attempts (1: 5 s, 5 min, 30 min, 2 h, "
        "5 h, 10 h, 10 h, then failed; env ORDERDESK_WEBHOOK_RETRY_BASE; default %(default)s)",
    )
    parser.add_argument(
        "--smtp-url",
        type=_smtp_url,
        default=env.get("ORDERDESK_SMTP_URL", ""),
        help="send notification mail through smtp://[user:password@]host:port "
        "(smtps:// for TLS) (env ORDERDESK_SMTP_URL; default none: no mail)",
    )
    parser.add_argument(
        "--mail-from",
        type=_mail_from,
        default=env.get("ORDERDESK_MAIL_FROM", ""),
        metavar="ADDRESS",
        help="the From of notification mail: one address, or 'Name <address>' "
        "(env ORDERDESK_MAIL_FROM)",
    )
    parser.add_argument(
        "--public-url",
        default=env.get("ORDERDESK_PUBLIC_URL", defaults.public_url),
        help="the console's public URL, for the links in mail (env ORDERDESK_PUBLIC_URL; "
        "default %(default)s)",
    )


def add_db_argument(parser: argparse.ArgumentParser, env: dict[str, str]) -> None:
    parser.add_argument(
        "--db",
        default=env.get("ORDERDESK_DB", DEFAULT_DB),
        help="a SQLite database file, created with its folder on first start, or a "
        "postgresql://user:password@host:port/dbname URL (env ORDERDESK_DB; "
        "default %(default)s)",
    )


def config_from_args(args: argparse.Namespace) -> Config:
    return Config(
        host=args.host,
        port=args.port,
        db=args.db,
        session_ttl=args.session_ttl,
        remember_ttl=args.remember_ttl,
        max_login_failures_per_address=args.max_login_failures_per_address,
        max_registrations_per_hour=args.max_registrations_per_hour,
        synchronous=args.synchronous,
        db_pool=args.db_pool,
        cors_origins=tuple(args.cors_origin),
        trusted_proxies=tuple(args.trusted_proxy),
        log_level=args.log_level,
        max_upload_mb=args.max_upload_mb,
        upload_quota_mb=args.upload_quota_mb,
        loop=args.loop,
        webhook_allow_private=args.webhook_allow_private,
        webhook_retry_base=args.webhook_retry_base,
        smtp_url=args.smtp_url,
        mail_from=args.mail_from,
        public_url=args.public_url,
    )
