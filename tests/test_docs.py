"""The documentation in the repository: the README shows the deployment files as they
are, links only to files inside the repository, and the example systemd unit passes
systemd's own checks (when systemd-analyze is installed; systemd is never booted)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.live import ROOT

DEPLOY = ROOT / "docs" / "deploy"
README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCED = re.compile(r"^```[a-z]*\n(.*?)^```$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\]\(([^)\s]+)\)")
SKIPPED = {".venv", ".git", "node_modules", ".pytest_cache"}


def markdown_files() -> list[Path]:
    return [p for p in ROOT.rglob("*.md") if not SKIPPED & set(p.relative_to(ROOT).parts)]


@pytest.mark.parametrize("name", ["nginx.conf", "orderdesk@.service", "Caddyfile"])
def test_readme_shows_each_deployment_file_verbatim(name):
    assert (DEPLOY / name).read_text(encoding="utf-8") in FENCED.findall(README)
    assert f"](docs/deploy/{name})" in README


def test_readme_links_to_the_api_reference_and_docs():
    assert "](docs/API.md)" in README
    assert "/docs**" in README or "`/docs`" in README


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_markdown_links_stay_inside_the_repository(path):
    text = path.read_text(encoding="utf-8")
    assert "../shared" not in text
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address, or a heading of the same page
        resolved = (path.parent / target.split("#")[0]).resolve()
        assert resolved.is_relative_to(ROOT), f"{path.name} links outside: {target}"
        assert resolved.exists(), f"{path.name} links to a missing file: {target}"


@pytest.fixture
def unit(tmp_path) -> Path:
    """The example unit as instance 8001; its program path points at an executable that
    exists here, as systemd-analyze checks that it does."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    text = (DEPLOY / "orderdesk@.service").read_text()
    assert text.count("ExecStart=/opt/orderdesk/bin/orderdesk ") == 1
    path = tmp_path / "orderdesk@8001.service"
    path.write_text(text.replace("/opt/orderdesk/bin/orderdesk", shutil.which("true")))
    return path


def test_systemd_unit_verifies_cleanly(unit):
    verified = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")


def test_systemd_unit_is_hardened(unit):
    text = unit.read_text()
    for setting in ("User=orderdesk", "NoNewPrivileges=yes", "ProtectSystem=strict",
                    "ReadWritePaths=/var/lib/orderdesk", "CapabilityBoundingSet=\n"):  # fmt: skip
        assert setting in text
    # systemd's exposure score, 0-10 shown (0-100 here): "OK" at most 1.5.
    rated = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--threshold=15", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rated.returncode == 0, rated.stdout[-2000:]


def _inside() -> str:
    return README[README.index("## Inside") :]


@pytest.mark.parametrize(
    "module",
    sorted(
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "server").rglob("*.py")
        if path.parent == ROOT / "server" and path.name != "__init__.py"
    ),
)
def test_the_readme_inside_names_every_module(module):
    """A newcomer finds every module of server/ in the README's map (packages are named
    as folders)."""
    assert module in _inside()


def test_the_readme_says_the_source_installs_as_orderdesk():
    assert "installs as the Python package `orderdesk`" in _inside()
