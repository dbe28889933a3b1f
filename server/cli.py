"""The orderdesk command line: the `orderdesk` command, and `python run.py` in a checkout.

orderdesk [--host H] [--port P] [--db PATH] [--session-ttl S]   serve the API
orderdesk create-admin --db PATH --username U --password P [--email E]   make a merchant
orderdesk backup --db PATH --to FILE / orderdesk check --db PATH
orderdesk restore --db PATH --from FILE
"""

import argparse
import asyncio
import fcntl
import gc
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from . import __version__, security
from .config import Config, add_db_argument, add_serve_arguments, config_from_args
from .errors import AlreadyTaken, CannotSave, Invalid, StartupFailure
from .logs import (
    ACCESS_LOG,
    QUIET_LOGGERS,
    TEXT_FORMAT,
    BatchedLines,
    ClientGoneAsInfo,
    JsonLines,
    MalformedRequestsAsInfo,
    RedactingFormatter,
    TextAccessLogger,
)
from .redact import redact
from .store import (
    Row,
    accounts,
    check_db_value,
    is_postgres_url,
    open_store,
    shown_db,
    sqlite,
)
from .validate import accounts as account_forms
from .validate.declare import Field

# The name the help shows: "orderdesk" when installed, "run.py" in a checkout.
PROG = os.path.basename(sys.argv[0]) or "orderdesk"
SHUTDOWN_TIMEOUT = 30.0  # seconds in-flight requests get to finish

log = logging.getLogger("orderdesk")


ACCESS_LOG_BUFFER = 256  # lines held before a write; also flushed every second


def configure_logging(level: str, form: str = "text") -> BatchedLines:
    """Everything to stderr, as text lines or (`form` "json") one JSON object per line;
    the access log (a line per request) through a buffer, so a busy server makes one
    write per few hundred requests instead of one each."""
    logging.basicConfig(level=level.upper(), format=TEXT_FORMAT)
    root = logging.getLogger().handlers[0]
    assert isinstance(root, logging.StreamHandler)  # basicConfig's, to standard error
    root.setFormatter(JsonLines() if form == "json" else RedactingFormatter(TEXT_FORMAT))
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger().level))
    # The format shows none of these: a record need not look them up.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    buffered = BatchedLines(ACCESS_LOG_BUFFER, root)
    ACCESS_LOG.addHandler(buffered)
    ACCESS_LOG.propagate = False
    logging.getLogger("aiohttp.server").addFilter(MalformedRequestsAsInfo())
    logging.getLogger("aiohttp.server").addFilter(ClientGoneAsInfo())
    return buffered


async def _flush_every_second(handler: logging.Handler) -> None:
    while True:
        await asyncio.sleep(1)
        handler.flush()


async def _serve(config: Config, access_log: logging.Handler) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully: stop accepting, let
    in-flight requests finish (up to SHUTDOWN_TIMEOUT), close the database."""
    from aiohttp import web

    from .app import SERVER_OPTIONS, create_app

    # Typed loosely (dict[str, object]); AppRunner checks them.
    options: dict[str, Any] = SERVER_OPTIONS
    if config.log_format == "text":  # made directly; a JSON line by JsonLines from a record
        options = {**options, "access_log_class": TextAccessLogger}
    runner = web.AppRunner(create_app(config), shutdown_timeout=SHUTDOWN_TIMEOUT, **options)
    try:
        await runner.setup()
    except BaseException:
        await runner.cleanup()
        raise
    flusher = asyncio.create_task(_flush_every_second(access_log))
    try:
        try:
            await web.TCPSite(runner, config.host, config.port).start()
        except OSError as error:
            raise StartupFailure(
                f"cannot listen on {config.host}:{config.port}: {error.strerror or error}"
            ) from None
        # What exists now (modules, the app, the store) lives as long as the process:
        # out of the collector's sight, a full collection walks only what serving
        # made (one change to 10,000 open streams: 780 ms of CPU before, 280 after).
        gc.freeze()
        loop = asyncio.get_running_loop()
        log.info(
            "serving on http://%s:%s (database %s, event loop %s)",
            config.host, config.port, shown_db(config.db),
            "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio",
        )  # fmt: skip
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info("shutting down")
    finally:
        await runner.cleanup()
        flusher.cancel()
        access_log.flush()


def _claim_sqlite_file(db: str) -> int | None:
    """One server process per SQLite file (its caches assume no other writer): an
    exclusive flock on `<db>.lock`, held until the process ends; None when another
    process holds it. Not a lock on the database file itself: SQLite's POSIX locks on
    that file vanish whenever any descriptor of it is closed in the process."""
    path = os.path.realpath(db) + ".lock"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        folder = os.path.dirname(path)
        raise StartupFailure(
            f"cannot write in the database folder {folder}: {error.strerror}"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class _ServeParser(argparse.ArgumentParser):
    """A server that cannot start says why in one line and exits 1, a flag or variable
    it cannot take included: not argparse's usage block and status 2."""

    def error(self, message: str) -> NoReturn:
        raise StartupFailure(message)


def serve(argv: list[str]) -> int:
    parser = _ServeParser(
        prog=PROG,
        description="Serve the orderdesk API. Subcommands (put first, each with its own "
        "--help): " + ", ".join(SUBCOMMANDS) + ".",
    )
    add_serve_arguments(parser, dict(os.environ))
    parser.add_argument("--version", action="version", version=f"orderdesk {__version__}")
    config = config_from_args(parser.parse_args(argv))
    if config.smtp_url and not config.mail_from:
        parser.error("--smtp-url needs --mail-from ADDRESS (the From of notification mail)")
    check_db_value(config.db)
    if config.backup_dir and is_postgres_url(config.db):
        print(
            f"{PROG}: --backup-dir backs up SQLite files only; on PostgreSQL back up with "
            "pg_dump (e.g. from a systemd timer)",
            file=sys.stderr,
        )
        return 1
    if not is_postgres_url(config.db) and _claim_sqlite_file(config.db) is None:
        print(
            f"{PROG}: another orderdesk server is already serving {config.db}; "
            "one server process per SQLite file (stop it first, or use PostgreSQL "
            "for several servers)",
            file=sys.stderr,
        )
        return 1
    access_log = configure_logging(config.log_level, config.log_format)
    if config.smtp_url and not config.public_url:
        log.warning(
            "mail is on without --public-url: links in mail, password resets included, "
            "take the host each request names; set --public-url to the address people open"
        )
    with asyncio.Runner(loop_factory=event_loop_factory(config.loop)) as runner:
        runner.run(_serve(config, access_log))
    return 0


def event_loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when asked for and installed; None: asyncio's default loop."""
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.info("uvloop is not installed: serving on asyncio's own event loop")
        else:
            return uvloop.new_event_loop
    return None


def create_admin(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} create-admin",
        description="Create a merchant (admin) user, or promote an existing user (enabled "
        "if it was disabled) and set its password; either way every session the user had "
        "is revoked.",
    )
    add_db_argument(parser, dict(os.environ))
    parser.add_argument("--username", required=True, help="the admin's user name")
    secret = parser.add_mutually_exclusive_group(required=True)
    secret.add_argument("--password", help="the password (visible in shell history)")
    secret.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    parser.add_argument("--email", help="the admin's email, where notification mail goes")
    args = parser.parse_args(argv)
    password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else args.password
    try:
        # The rules of registration: NFKC names, no control or format characters.
        name = Field("username", account_forms.USER_NAME, required=True).read(vars(args))
        account_forms.REGISTER["password"].read({"password": password})
        email = account_forms.REGISTER["email"].read({"email": args.email}) or None
    except Invalid as error:
        parser.error(error.msg)

    async def save() -> tuple[Row, accounts.AdminSaved]:
        store = await open_store(args.db)
        try:
            password_hash = security.hash_password(password)
            return await store.write(accounts.save_admin, name, email, password_hash)
        finally:
            await store.close()

    try:
        user, done = asyncio.run(save())
    except AlreadyTaken as error:
        # Another account uses this name or email as its name, email or phone.
        print(f"{PROG} create-admin: error: {error.msg} (by another account)", file=sys.stderr)
        return 1
    except CannotSave as error:
        print(f"{PROG} create-admin: error: {error.msg}", file=sys.stderr)
        return 1
    if done == "created":
        print(f"new admin {user['user_name']!r} (id {user['id']}) created in {shown_db(args.db)}")
    else:
        enabled = ", it is no longer disabled," if done == "enabled" else ""
        print(
            f"existing user {user['user_name']!r} (id {user['id']}) promoted to admin in "
            f"{shown_db(args.db)}; its password is set{enabled} and every session it had is "
            "revoked"
        )
    return 0


def _require_sqlite_file(parser: argparse.ArgumentParser, db: str) -> None:
    check_db_value(db)
    if is_postgres_url(db):
        parser.error("this command is for SQLite files; on PostgreSQL use pg_dump and amcheck")
    if not os.path.exists(db):
        parser.error(f"no database at {db}")


def backup(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} backup",
        description="Copy the database consistently, even while the server is running "
        "(SQLite's online backup API).",
    )
    add_db_argument(parser, dict(os.environ))
    parser.add_argument("--to", required=True, help="the backup file to write")
    args = parser.parse_args(argv)
    _require_sqlite_file(parser, args.db)
    try:
        sqlite.backup(args.db, args.to)
    except (OSError, sqlite3.Error) as error:
        raise StartupFailure(f"cannot back up {args.db} to {args.to}: {error}") from None
    print(f"backed up {args.db} to {args.to}")
    return 0


def check(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} check",
        description="Run SQLite's integrity and foreign key checks and compare every "
        "attachment's bytes with its recorded size and md5; exit 0 when sound.",
    )
    add_db_argument(parser, dict(os.environ))
    args = parser.parse_args(argv)
    _require_sqlite_file(parser, args.db)
    try:
        problems = sqlite.check(args.db)
    except (OSError, sqlite3.Error) as error:
        raise StartupFailure(f"cannot check {args.db}: {error}") from None
    for problem in problems:
        print(problem)
    print("ok" if not problems else f"{len(problems)} problem(s) in {args.db}")
    return 1 if problems else 0


def restore(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} restore",
        description="Replace the database with a backup: FILE is checked first (as `check` "
        "does), no server may be serving the database, and the old file is kept as "
        "PATH.before-restore.",
    )
    add_db_argument(parser, dict(os.environ))
    parser.add_argument("--from", dest="source", required=True, metavar="FILE", help="the backup")
    args = parser.parse_args(argv)
    db, source = args.db, args.source
    check_db_value(db)

    def refuse(why: str) -> int:
        print(f"{PROG} restore: {why}; nothing changed", file=sys.stderr)
        return 1

    if is_postgres_url(db):
        return refuse("restore is for SQLite files; on PostgreSQL use pg_restore")
    if not os.path.isfile(source):
        return refuse(f"no backup file at {source}")
    try:
        problems = sqlite.check(source) or sqlite.schema_problems(source)
    except sqlite3.DatabaseError as error:
        problems = [str(error)]
    if problems:
        return refuse(f"{source} is not a sound orderdesk database ({problems[0]})")
    if _claim_sqlite_file(db) is None:  # held until this process ends
        return refuse(f"an orderdesk server is serving {db}; stop it first")
    kept = sqlite.restore(db, source)
    shown = f"; the old database is kept as {kept}" if kept else ""
    print(f"restored {db} from {source}{shown}")
    return 0


SUBCOMMANDS = {"create-admin": create_admin, "backup": backup, "check": check, "restore": restore}


def main(argv: list[str] | None = None) -> int:
    """Runs the command; one that cannot start (or cannot reach its database) says why
    in one line on standard error, without a traceback or a password, and exits 1."""
    argv = sys.argv[1:] if argv is None else argv
    command = SUBCOMMANDS.get(argv[0]) if argv else None
    try:
        if command is not None:
            return command(argv[1:])
        return serve(argv)
    except StartupFailure as failure:
        logging.shutdown()  # what was logged before the line comes before it
        # redact: a flag's value quoted back (a bad --smtp-url) may hold a password.
        print(f"{PROG}: {redact(str(failure))}", file=sys.stderr, flush=True)
        return 1
