"""The installed command: the wheel, installed into a fresh virtual environment
outside the checkout, run from another directory."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.live import ROOT, LiveServer, free_port

pytestmark = pytest.mark.slow  # builds and installs the wheel

# What a wheel is built from; the rest of the checkout must not matter.
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "server")
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def run(
    *args: str | Path, cwd: Path, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=ENV,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """`pip wheel . --no-deps` on a copy of the sources (the build leaves no files in
    the checkout)."""
    root = tmp_path_factory.mktemp("wheel")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, root / name)
    built = run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", "dist", ".",
                cwd=root, timeout=600)  # fmt: skip
    assert built.returncode == 0, built.stderr
    (found,) = (root / "dist").glob("orderdesk-*.whl")
    return found


@pytest.fixture(scope="session")
def installed(wheel, tmp_path_factory) -> Path:
    """The `bin` folder of a fresh venv with the wheel and its dependencies from the index."""
    venv = tmp_path_factory.mktemp("venv")
    made = run(sys.executable, "-m", "venv", venv, cwd=venv)
    assert made.returncode == 0, made.stderr
    done = run(venv / "bin" / "pip", "install", "--quiet", wheel, cwd=venv, timeout=600)
    assert done.returncode == 0, done.stderr
    return venv / "bin"


def test_wheel_holds_the_package_orderdesk_only(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"orderdesk", "orderdesk-0.1.0.dist-info"}
    shipped = [*(ROOT / "server" / "store" / "migrations").glob("*/*.sql"),
               *(ROOT / "server" / "web").iterdir()]  # fmt: skip
    for path in shipped:
        assert f"orderdesk/{path.relative_to(ROOT / 'server')}" in names
    entry_points = zipfile.ZipFile(wheel).read("orderdesk-0.1.0.dist-info/entry_points.txt")
    assert b"orderdesk = orderdesk.cli:main" in entry_points
    # The licence: named in the metadata, its text in the wheel.
    metadata = zipfile.ZipFile(wheel).read("orderdesk-0.1.0.dist-info/METADATA").decode()
    assert "License-Expression: MIT" in metadata.splitlines()
    assert "orderdesk-0.1.0.dist-info/licenses/LICENSE" in names


def test_installed_command_serves_and_maintains_from_anywhere(installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    orderdesk = installed / "orderdesk"
    where = run(installed / "python", "-c", "import orderdesk; print(orderdesk.__file__)",
                cwd=elsewhere)  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(installed.parent), where
    assert run(installed / "python", "-c", "import server", cwd=elsewhere).returncode != 0

    db = tmp_path / "shop" / "orderdesk.db"
    db.parent.mkdir()
    with LiveServer(db, command=[str(orderdesk)], cwd=elsewhere) as server:
        token = server.register("alice")
        admin = run(orderdesk, "create-admin", "--db", db, "--username", "merchant",
                    "--password-stdin", cwd=elsewhere, stdin="merchant password\n")  # fmt: skip
        assert admin.returncode == 0, admin.stderr
        login = {"user_name": "merchant", "password": "merchant password"}
        assert server.call("POST", "/api/login", login)["data"]["role"] == "admin"
        backup = run(orderdesk, "backup", "--db", db, "--to", tmp_path / "copy.db", cwd=elsewhere)
        assert backup.returncode == 0, backup.stderr
        check = run(orderdesk, "check", "--db", tmp_path / "copy.db", cwd=elsewhere)
        assert (check.returncode, check.stdout.strip()) == (0, "ok"), check
        second = run(orderdesk, "--db", db, "--port", str(free_port()), cwd=elsewhere)
        assert second.returncode != 0
        assert "another orderdesk server is already serving" in second.stderr, second.stderr
        assert server.call("GET", "/api/user/detail", token=token)["code"] == 0
        assert server.stop() == 0
    version = run(installed / "python", "-m", "orderdesk", "--version", cwd=elsewhere)
    assert version.stdout.strip() == "orderdesk 0.1.0", version
