"""Settings: defaults, then ORDERDESK_* environment variables, then command-line flags.

Each setting is declared once, as a field of `Config` made with `setting(...)`: its name,
type, default, help and how its text is read. Everything else comes from that
declaration: the command-line flag (`--` and the name with dashes, unless `flag_name`
names it), the environment variable (`ORDERDESK_` and the name in capitals), the
`Config` that `config_from_args` builds, and the README's table of settings
(scripts/settings_doc.py writes it; tests/test_settings.py fails when the README's copy
differs). A new setting is one more field here, a sample value for it in
tests/test_settings.py, and the table written anew.

A setting's help is one phrase in Markdown, where backquotes mark code; the flag's help
drops the backquotes and adds the variable and the default.
"""

import argparse
import dataclasses
import ipaddress
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .redact import redact
from .validate.accounts import mail_sender

# A trusted proxy's address or range (--trusted-proxy).
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ENV_PREFIX = "ORDERDESK_"
# A switch's environment variable turns it on with any value but these.
SWITCH_OFF = ("", "0", "false")


@dataclass(frozen=True)
class Setting:
    """How one `Config` field is set from the command line and the environment.

    `parse` reads a flag's (or the variable's) text into the field's value, raising
    `argparse.ArgumentTypeError`; None keeps the text. `choices` limits the text to a
    few words. A `repeatable` flag may be given several times, its variable holds a
    comma-separated list, and the field holds a tuple (the flags add to the variable's
    items). A `switch` flag takes no value. `see` names the README section the table
    links to."""

    help: str
    parse: Callable[[str], Any] | None = None
    choices: tuple[str, ...] = ()
    repeatable: bool = False
    switch: bool = False
    flag_name: str = ""
    metavar: str | None = None
    see: str = ""
    # The whole value is a secret: --help says only that the variable is set.
    secret: bool = False
    # Filled in from the Config field that declares the setting.
    name: str = ""
    default: Any = None

    @property
    def flag(self) -> str:
        return "--" + (self.flag_name or self.name.replace("_", "-"))

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


def setting(default: Any, help: str, **how: Any) -> Any:
    """A `Config` field that is a setting (see `Setting` for `how`)."""
    return field(default=default, metadata={"setting": Setting(help, **how)})


def _integer(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An integer of at least `minimum` (and at most `maximum`, when given)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}: {text!r}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum}: {text!r}")
        return value

    return parse


_positive_int = _integer(1)
_non_negative_int = _integer(0)
_tcp_port = _integer(1, 65535)


def _number_above_0(highest: float | None = None) -> Callable[[str], float]:
    """A number above 0 (and at most `highest`, when given)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above 0: {text!r}")
        if highest is not None and value > highest:
            raise argparse.ArgumentTypeError(f"must be at most {highest:g}: {text!r}")
        return value

    return parse


def _network(text: str) -> Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an address or CIDR range: {text!r}") from None


def _smtp_url(text: str) -> str:
    if text and not text.startswith(("smtp://", "smtps://")):
        raise argparse.ArgumentTypeError(f"not an smtp:// or smtps:// URL: {text!r}")
    return text


def _one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    """One of `choices`. argparse checks a flag's choices itself, but not a default's, so
    the environment variable's text would otherwise pass unchecked."""

    def parse(text: str) -> str:
        if text not in choices:
            shown = ", ".join(map(repr, choices))
            raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {shown})")
        return text

    return parse


def _mail_from(text: str) -> str:
    """--mail-from: one address, or `Name <address>` (validate.accounts.mail_sender)."""
    if text:
        try:
            mail_sender(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return text


DEFAULT_DB = "./data/orderdesk.db"
# A `: ping` line goes to a live event stream at least this often.
LONGEST_PING_SECONDS = 15.0


@dataclass(frozen=True)
class Config:
    host: str = setting("127.0.0.1", "address to listen on")
    port: int = setting(8001, "port to listen on", parse=_tcp_port)
    db: str = setting(
        DEFAULT_DB,
        "a SQLite database file (it and its folder are created on first start) or a "
        "`postgresql://user:password@host:port/dbname` URL",
    )
    db_pool: int = setting(10, "PostgreSQL connections per server process", parse=_positive_int)
    session_ttl: int = setting(
        86400, "seconds a session lives after its last renewal", parse=_positive_int
    )
    remember_ttl: int = setting(
        2592000,
        'seconds (30 days by default) a session made with `"remember": true` lives after '
        "its last renewal",
        parse=_positive_int,
    )
    max_login_failures_per_address: int = setting(
        20,
        "failed logins from one client address in 15 minutes after which it is refused "
        "for every name; `0` turns it off",
        parse=_non_negative_int,
    )
    max_registrations_per_hour: int = setting(
        20,
        "successful registrations per client address per hour; `0` turns it off",
        parse=_non_negative_int,
    )
    synchronous: str = setting(
        "normal",
        "SQLite durability: `normal` keeps every acknowledged write when the process is "
        "killed; `full` also keeps it through a power loss, at some cost in speed",
        choices=("normal", "full"),
    )
    max_upload_mb: int = setting(
        10,
        "largest file `POST /api/attachment/upload` takes, in MiB; every other request "
        "stays at 1 MiB",
        parse=_positive_int,
    )
    upload_quota_mb: int = setting(
        200,
        "total MiB of uploads each user may store; the files live in the database, so "
        "backups hold them",
        parse=_positive_int,
    )
    cors_origins: tuple[str, ...] = setting(
        (),
        "let browser pages from ORIGIN (e.g. `https://shop.example.com`) call the API",
        repeatable=True,
        flag_name="cors-origin",
        metavar="ORIGIN",
    )
    log_level: str = setting(
        "info",
        "`info` logs one line per request; `warning` only problems",
        choices=("debug", "info", "warning", "error"),
    )
    log_format: str = setting(
        "text",
        "`text` writes plain log lines; `json` one JSON object per line (`time`, `level`, "
        "`logger`, `msg`, and on request lines `request_id`, `method`, `path`, `code`, "
        "`duration_ms`, `client`, `user_id`)",
        choices=("text", "json"),
        see="Monitoring",
    )
    metrics_token: str = setting(
        "",
        "lets a client that sends `Authorization: Bearer TOKEN` read `GET /metrics` from "
        "any address (without it, only connections from loopback may)",
        metavar="TOKEN",
        see="Monitoring",
        secret=True,
    )
    backup_dir: str = setting(
        "",
        "SQLite: write a checked online backup to this folder while serving, the first "
        "within a minute of start; none makes none",
        metavar="DIR",
        see="Backups",
    )
    backup_interval_hours: float = setting(
        24.0,
        "hours between the backups written to `--backup-dir`",
        parse=_number_above_0(),
        see="Backups",
    )
    backup_keep: int = setting(
        7,
        "how many backups `--backup-dir` keeps (the oldest beyond are removed)",
        parse=_positive_int,
        see="Backups",
    )
    loop: str = setting(
        "uvloop",
        "the event loop: `uvloop` (a dependency where it installs; asyncio's own loop "
        "where it does not) or Python's own `asyncio`",
        choices=("uvloop", "asyncio"),
    )
    trusted_proxies: tuple[Network, ...] = setting(
        (),
        "a reverse proxy (address or CIDR range) whose `X-Forwarded-For` and "
        "`X-Forwarded-Proto` are believed",
        parse=_network,
        repeatable=True,
        flag_name="trusted-proxy",
        metavar="ADDR",
        see="Deployment",
    )
    ping_seconds: float = setting(
        LONGEST_PING_SECONDS,
        "seconds between the `: ping` lines of a live event stream (events or not), at most 15",
        parse=_number_above_0(LONGEST_PING_SECONDS),
        see="Live events",
    )
    webhook_allow_private: bool = setting(
        False,
        "let webhooks target loopback, private, link-local and other non-public addresses",
        switch=True,
        see="Webhooks and email",
    )
    webhook_retry_base: float = setting(
        1.0,
        "multiplies the delays between delivery attempts of webhooks and mail; at 1 they "
        "are 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then failed",
        parse=_number_above_0(),
    )
    smtp_url: str = setting(
        "",
        "send notification mail through `smtp://[user:password@]host:port` (`smtps://` "
        "for TLS); none sends no mail",
        parse=_smtp_url,
    )
    mail_from: str = setting(
        "",
        "the From of notification mail, needed with `--smtp-url`: one address, or `Name <address>`",
        parse=_mail_from,
        metavar="ADDRESS",
    )
    public_url: str = setting(
        "",
        "the console's public URL, for links in mail and answers; none: the scheme and "
        "Host of the request (for mail about orders, http://HOST:PORT)",
    )
    payment_instructions: str = setting(
        "",
        "what a customer who chooses to pay offline is told (bank account, reference to "
        "quote, ...), answered by POST /api/order/payment",
        metavar="TEXT",
    )
    # Not a setting: injectable so tests can move time forward (session expiry, renewal).
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)


def _declared() -> tuple[Setting, ...]:
    return tuple(
        dataclasses.replace(f.metadata["setting"], name=f.name, default=f.default)
        for f in dataclasses.fields(Config)
        if "setting" in f.metadata
    )


# Every setting, in the order of --help and of the README's table.
SETTINGS: tuple[Setting, ...] = _declared()
BY_NAME: Mapping[str, Setting] = {s.name: s for s in SETTINGS}


def shown(value: Any) -> str:
    """A default as the help and the README write it."""
    if value in ("", ()):
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _flag_help(s: Setting, from_env: str | None) -> str:
    text = s.help.replace("`", "")
    if s.switch:
        where = f"env {s.env}=1; default {shown(s.default)}"
    elif s.repeatable:
        text += "; repeatable"
        where = f"env {s.env}, comma-separated; default {shown(s.default)}"
    else:
        # The variable's value as --help may show it: never a password or a token.
        default = (
            shown(s.default) if from_env is None else "(set)" if s.secret else redact(from_env)
        )
        where = f"env {s.env}; default {default}"
    return f"{text} ({where})".replace("%", "%%")


def add_setting_arguments(
    parser: argparse.ArgumentParser, env: Mapping[str, str], names: Iterable[str]
) -> None:
    """The flags of the named settings; a flag's default is its variable's value if set."""
    for name in names:
        s = BY_NAME[name]
        from_env = env.get(s.env)
        common: dict[str, Any] = {"dest": s.name, "help": _flag_help(s, from_env)}
        if s.metavar:
            common["metavar"] = s.metavar
        if s.switch:
            on = s.default if from_env is None else from_env not in SWITCH_OFF
            parser.add_argument(s.flag, action="store_true", default=on, **common)
        elif s.repeatable:
            if s.parse:
                common["type"] = s.parse
            items = [] if from_env is None else _env_items(parser, s, from_env)
            parser.add_argument(s.flag, action="append", default=items, **common)
        else:
            if s.choices:
                common["choices"] = s.choices
            if s.parse or s.choices:
                common["type"] = s.parse or _one_of(s.choices)
            # A text default (the variable's) is read by `type` only when no flag is given.
            default = s.default if from_env is None else from_env
            parser.add_argument(s.flag, default=default, **common)


def _env_items(parser: argparse.ArgumentParser, s: Setting, text: str) -> list[Any]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if s.parse is None:
        return items
    try:
        return [s.parse(item) for item in items]
    except argparse.ArgumentTypeError as error:
        parser.error(f"{s.env}: {error}")


def add_serve_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """Every setting's flag: the server's command line."""
    add_setting_arguments(parser, env, BY_NAME)


def add_db_argument(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """--db alone: the maintenance subcommands' database."""
    add_setting_arguments(parser, env, ("db",))


def config_from_args(args: argparse.Namespace) -> Config:
    values: dict[str, Any] = {}
    for s in SETTINGS:
        value = getattr(args, s.name)
        values[s.name] = tuple(value) if s.repeatable else value
    return Config(**values)
