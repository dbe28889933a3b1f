"""Write constraints.txt: the exact release of every package orderdesk installs (its
dependencies and the test, bench and lint extras), as pip resolves them for this
Python on this platform. Every install in the Makefile uses the file
(`pip install -c constraints.txt`), so CI tests the releases that ship.

    .venv/bin/python scripts/constraints.py          # the newest releases pyproject.toml allows
    .venv/bin/python scripts/constraints.py --keep   # keep the pins that still fit; only add
                                                     # new packages and drop unused ones

`make constraints` runs the first; run `make lint typecheck test` on the result before
committing it. pip resolves without installing anything (--dry-run).
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "constraints.txt"
EXTRAS = "test,bench,lint"

HEADER = f"""\
# The exact releases `make` installs and CI tests: orderdesk's dependencies and its
# {EXTRAS.replace(",", ", ")} extras, resolved for CPython 3.11 on Linux. Written by
# scripts/constraints.py; `make constraints` moves every pin to the newest release
# pyproject.toml allows. Do not edit by hand.
"""


def resolve(keep: bool) -> list[tuple[str, str]]:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--dry-run"]
    command += ["--ignore-installed", "--report", "-", "-e", f".[{EXTRAS}]"]
    if keep:
        command += ["-c", str(TARGET)]
    found = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    report = json.loads(found.stdout)
    pins = [
        (item["metadata"]["name"], item["metadata"]["version"])
        for item in report["install"]
        if not item.get("is_direct")  # orderdesk itself
    ]
    return sorted(pins, key=lambda pin: pin[0].lower())


def main(argv: list[str]) -> int:
    pins = resolve(keep="--keep" in argv)
    TARGET.write_text(HEADER + "".join(f"{name}=={version}\n" for name, version in pins))
    print(f"constraints.txt: {len(pins)} packages")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
