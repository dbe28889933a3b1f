"""Write the README's table of settings from their declarations (server/config.py), so
the two cannot drift: tests/test_settings.py fails when the README's copy differs from
what this makes.

    .venv/bin/python scripts/settings_doc.py          # rewrite the table in README.md
    .venv/bin/python scripts/settings_doc.py --check  # exit 1 if README.md's table is stale

The table sits between the BEGIN and END lines below; the rest of the README is left
as it is.
"""

import re
import sys
from pathlib import Path

from orderdesk.config import SETTINGS, Setting, shown

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN = (
    "<!-- The settings table is generated from server/config.py by scripts/settings_doc.py;"
    " edit the declarations there, then run it. -->"
)
END = "<!-- End of the generated settings table. -->"
BLOCK = re.compile(re.escape(BEGIN) + r"\n.*?" + re.escape(END), re.DOTALL)


def anchor(title: str) -> str:
    """GitHub's anchor of a heading: lower case, spaces to dashes, no punctuation."""
    return "".join(c for c in title.lower().replace(" ", "-") if c.isalnum() or c in "-_")


def row(s: Setting) -> str:
    flag = f"`{s.flag} {s.metavar}`" if s.metavar else f"`{s.flag}`"
    if s.switch:
        env = f"`{s.env}=1`"
    elif s.repeatable:
        env = f"`{s.env}` (comma-separated)"
    else:
        env = f"`{s.env}`"
    default = shown(s.default)
    if default not in ("none", "off"):
        default = f"`{default}`"
    text = s.help + ("; repeatable" if s.repeatable else "")
    if s.see:
        text += f" ([{s.see}](#{anchor(s.see)}))"
    return f"| {flag} | {env} | {default} | {text} |"


def table() -> str:
    lines = ["| flag | environment | default | |", "|---|---|---|---|"]
    return "\n".join([*lines, *(row(s) for s in SETTINGS)])


def render(readme: str) -> str:
    """`readme` with its generated table made anew."""
    if len(BLOCK.findall(readme)) != 1:
        raise SystemExit(f"README.md needs exactly one block from {BEGIN!r} to {END!r}")
    return BLOCK.sub(lambda _: f"{BEGIN}\n\n{table()}\n\n{END}", readme)


def main(argv: list[str]) -> int:
    written = README.read_text(encoding="utf-8")
    made = render(written)
    if "--check" in argv:
        if made != written:
            print("README.md's settings table is stale: run scripts/settings_doc.py")
            return 1
        return 0
    README.write_text(made, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
