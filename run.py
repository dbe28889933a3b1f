"""orderdesk command line.

python run.py [--host H] [--port P] [--db PATH] [--session-ttl S]   serve the API
python run.py create-admin --db PATH --username U --password P      make a merchant
"""

import argparse
import asyncio
import logging
import os
import sys

from server import __version__, model, security, validate
from server.config import add_db_argument, add_serve_arguments, config_from_args
from server.errors import Invalid
from server.store import open_store

COMMANDS = ("create-admin",)


def serve(argv: list[str]) -> int:
    from aiohttp import web

    from server.app import create_app

    parser = argparse.ArgumentParser(
        prog="run.py",
        description="Serve the orderdesk API. Subcommands (put first, each with its own "
        "--help): " + ", ".join(COMMANDS) + ".",
    )
    add_serve_arguments(parser, dict(os.environ))
    parser.add_argument("--version", action="version", version=f"orderdesk {__version__}")
    config = config_from_args(parser.parse_args(argv))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    web.run_app(create_app(config), host=config.host, port=config.port, access_log=None)
    return 0


def create_admin(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="run.py create-admin",
        description="Create a merchant (admin) user, or promote an existing user and set "
        "its password.",
    )
    add_db_argument(parser, dict(os.environ))
    parser.add_argument("--username", required=True, help="the admin's user name")
    secret = parser.add_mutually_exclusive_group(required=True)
    secret.add_argument("--password", help="the password (visible in shell history)")
    secret.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    args = parser.parse_args(argv)
    password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else args.password
    try:
        name = validate.required_str({"username": args.username}, "username", *model.USER_NAME_LEN)
        validate.required_str({"password": password}, "password", *model.PASSWORD_LEN, trim=False)
    except Invalid as error:
        parser.error(error.msg)

    async def save() -> dict:
        store = await open_store(args.db)
        try:
            return await store.save_admin(name, security.hash_password(password))
        finally:
            await store.close()

    user = asyncio.run(save())
    print(f"admin {user['user_name']!r} (id {user['id']}) saved in {args.db}")
    return 0


def main(argv: list[str]) -> int:
    if argv and argv[0] == "create-admin":
        return create_admin(argv[1:])
    return serve(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
