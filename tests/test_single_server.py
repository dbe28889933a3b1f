"""One server process per SQLite file, with real processes."""

import subprocess
import sys

import pytest

from tests.live import ROOT, LiveServer, free_port, run_cli

pytestmark = pytest.mark.slow  # server processes

REFUSAL = "another orderdesk server is already serving"


def start_second_server(db: str) -> subprocess.CompletedProcess:
    """A second `run.py` on `db`; it must exit by itself, long before the timeout."""
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "--db", db, "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )


def test_second_server_on_the_same_file_refuses_to_start(tmp_path):
    db = tmp_path / "data" / "orderdesk.db"
    db.parent.mkdir()
    alias = tmp_path / "alias"
    alias.symlink_to(tmp_path / "data")
    with LiveServer(db) as server:
        token = server.register("alice")
        for spelling in (str(db), str(alias / "orderdesk.db")):
            second = start_second_server(spelling)
            assert second.returncode != 0
            assert REFUSAL in second.stderr and spelling in second.stderr, second.stderr
        # The first server is untouched and the maintenance commands still work beside it.
        assert server.call("GET", "/api/user/detail", token=token)["data"]["user_name"] == "alice"
        admin = run_cli("create-admin", "--db", str(db), "--username", "merchant",
                        "--password", "merchant password")  # fmt: skip
        assert admin.returncode == 0, admin.stderr
        backup = run_cli("backup", "--db", str(db), "--to", str(tmp_path / "copy.db"))
        assert backup.returncode == 0, backup.stderr
        check = run_cli("check", "--db", str(db))
        assert (check.returncode, check.stdout.strip()) == (0, "ok"), check
        login = {"user_name": "merchant", "password": "merchant password"}
        assert server.call("POST", "/api/login", login)["data"]["role"] == "admin"
        assert server.stop() == 0
    # Once it has stopped, the file is free again; killed, too (the kernel drops the lock).
    with LiveServer(db) as server:
        assert server.call("GET", "/api/user/detail", token=token)["code"] == 0
        server.kill()
    with LiveServer(db) as server:
        assert server.call("GET", "/api/user/detail", token=token)["code"] == 0


def test_servers_on_different_files_run_side_by_side(tmp_path):
    with LiveServer(tmp_path / "a.db") as first, LiveServer(tmp_path / "b.db") as second:
        first.register("alice")
        second.register("alice")
