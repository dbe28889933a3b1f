"""The development loop's own rules: every install takes the pinned releases, and
`make clean` never deletes the data folder."""

import re
import shutil
import subprocess
import tomllib

import pytest

from tests.live import ROOT

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def make_dry_run(target: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("needs make")
    done = subprocess.run(
        ["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_clean_keeps_the_data_folder():
    commands = make_dry_run("clean")
    assert "rm -rf" in commands
    removed = [word.strip("/") for word in commands.split() if not word.startswith("-")]
    assert not {"data", "./data"} & set(removed), commands


def test_every_install_takes_the_pinned_releases():
    for target in ("run", "test", "lint", "bench"):
        for line in make_dry_run(target).splitlines():
            if "pip install" in line and "--upgrade pip" not in line:
                assert "-c constraints.txt" in line, line


def test_constraints_pin_every_requirement():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted += extra
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonical(name)] = version
    for requirement in wanted:
        name = canonical(NAME.match(requirement).group())
        assert name in pins, f"{name} is not pinned: run make constraints"
