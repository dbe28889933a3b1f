"""Every shell block of the README and docs/ runs as written, after `make run`, on a
copy of the checkout: one bash script made of the blocks in document order, in a
network namespace of its own (its own loopback, so port 8001 is free and nothing
leaves the machine) with its own /etc/hosts. A block that cannot run here is named
below with the reason; a new block must be run or named."""

import json
import re
import shutil
import subprocess
import sys

import pytest

from tests.live import ROOT

pytestmark = [
    pytest.mark.slow,  # a real server started by make, and every command after it
    pytest.mark.skipif(
        not sys.platform.startswith("linux") or shutil.which("unshare") is None,
        reason="needs Linux network namespaces (unshare)",
    ),
]

FENCED_SHELL = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
# Blocks not run here, by their first line, and why.
NOT_RUN = {
    "make lint": "the checks CI itself runs (.ci/run)",
    "sudo -u postgres psql": "sets up the reader's own PostgreSQL server",
    ".venv/bin/python run.py --db postgresql://orderdesk": "needs the reader's PostgreSQL server",
    "export ORDERDESK_TEST_POSTGRES": "runs the test suite itself",
    "useradd --system": "installs on the reader's machine, as root",
    "http POST :8001": "needs HTTPie, which the project does not install",
}
# Blocks that start a server: the one before is stopped first, and it keeps serving
# while the next blocks run.
SERVES = (
    "make run",
    ".venv/bin/python run.py --smtp-url",
    ".venv/bin/python run.py --webhook-allow-private",
)
# A block that never ends by itself: stopped after a while, keeping what it printed.
STREAMS = ("curl -N",)
# What the blocks run besides the installed package: the payments' worked example.
COPIED = ("Makefile", "pyproject.toml", "constraints.txt", "run.py", "docs/payment_callback.py")
# The example hosts resolve (to a public address, as they would for the reader); the
# namespace has no route there, so nothing is sent.
HOSTS = "127.0.0.1 localhost\n93.184.215.14 erp.example.com smtp.example.com\n"

WAIT_FOR_SERVER = """
for _ in $(seq 200); do
  (exec 3<>/dev/tcp/127.0.0.1/8001) 2>/dev/null && break
  sleep 0.1
done
"""


def shell_blocks() -> list[tuple[str, str]]:
    """(where, text) of every ```sh block of README.md and docs/, in order."""
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [
        (f"{path.relative_to(ROOT)} block {n}", text)
        for path in documents
        for n, text in enumerate(FENCED_SHELL.findall(path.read_text(encoding="utf-8")), 1)
    ]


def script(blocks: list[tuple[str, str]]) -> str:
    """The blocks to run, each after a marker line and followed by its exit status."""
    lines = [
        "set -u",
        "trap 'kill $SERVER 2>/dev/null; wait' EXIT",
        "ip link set lo up",
        "mount --bind hosts /etc/hosts",
    ]
    for n, (where, text) in enumerate(blocks):
        lines.append(f"echo '::block {n} {where}'")
        if text.startswith(SERVES):
            command = text.splitlines()[0] if text.startswith("make run") else text
            lines += [
                'if [ -n "${SERVER:-}" ]; then kill $SERVER; wait $SERVER; fi',
                f"(\n{command}\n) > server-{n}.log 2>&1 &",
                "SERVER=$!",
                WAIT_FOR_SERVER,
                "curl -s http://127.0.0.1:8001/healthz",
            ]
        elif text.startswith(STREAMS):
            lines += [f"(\n{text}\n) &", "sleep 2", "kill $! 2>/dev/null", "wait $! 2>/dev/null"]
        else:
            lines.append(text)
        lines.append('echo; echo "::status $?"')
    return "\n".join(lines) + "\n"


def envelopes(output: str) -> list[dict]:
    """Every JSON object printed (curl's answers, one after another)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (at := output.find("{", at)) != -1:
        try:
            value, end = decoder.raw_decode(output, at)
        except json.JSONDecodeError:
            at += 1
            continue
        if isinstance(value, dict) and "code" in value:
            found.append(value)
        at = end
    return found


def test_every_shell_block_of_the_docs_runs_as_written(tmp_path):
    blocks = shell_blocks()
    first_lines = {text.splitlines()[0] for _, text in blocks}
    for start in NOT_RUN:
        assert any(line.startswith(start) for line in first_lines), f"no block starts {start!r}"
    run = [(where, text) for where, text in blocks if not text.startswith(tuple(NOT_RUN))]
    assert run[0][1].startswith("make run"), "the first block to run is the set-up"

    # make run in the copy must find the virtualenv up to date: otherwise it would
    # install into it from the copy, pointing the checkout's package at a temporary tree.
    fresh = subprocess.run(["make", "-q", ".venv/.installed"], cwd=ROOT, capture_output=True)
    if fresh.returncode != 0:
        pytest.skip("the virtualenv is not up to date with pyproject.toml: run make first")
    copy = tmp_path / "checkout"
    copy.mkdir()
    for name in COPIED:
        (copy / name).parent.mkdir(exist_ok=True)
        shutil.copy2(ROOT / name, copy / name)  # keeps the times make compares
    (copy / ".venv").symlink_to(ROOT / ".venv")
    (copy / "script.sh").write_text(script(run))
    (copy / "hosts").write_text(HOSTS)
    done = subprocess.run(
        ["unshare", "--net", "--mount", "bash", "script.sh"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=300,
    )
    parts = re.split(r"^::block (\d+) .*$", done.stdout, flags=re.MULTILINE)[1:]
    outputs = dict(zip((int(n) for n in parts[::2]), parts[1::2], strict=True))
    assert sorted(outputs) == list(range(len(run))), done.stdout + done.stderr

    for n, (where, text) in enumerate(run):
        output, _, status = outputs[n].rpartition("::status ")
        assert status.strip() == "0", f"{where} failed:\n{text}\n{output}\n{done.stderr}"
        for envelope in envelopes(output):
            assert envelope["code"] == 0, f"{where} was refused:\n{text}\n{envelope}"
    everything = done.stdout
    # The walkthrough's end: the order as the seed's update left it.
    assert "更新后的定制网站主题" in everything
    assert "retry: 2000" in everything  # the event stream answered
    # The payments' worked example: three callbacks answered, the order paid by them.
    assert everything.count('{"code": 0, "msg": "marked paid"') == 3
    assert '"payment_reference":"psp-' in everything
    assert (copy / "data" / "orderdesk.db").exists()

    # make clean leaves the data alone.
    cleaned = subprocess.run(["make", "clean"], cwd=copy, capture_output=True, text=True)
    assert cleaned.returncode == 0, cleaned.stderr
    assert (copy / "data" / "orderdesk.db").exists()
    assert not (copy / ".venv").exists() and (ROOT / ".venv").exists()
