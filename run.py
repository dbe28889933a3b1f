"""orderdesk from a checkout: `python run.py [flags]` or `python run.py SUBCOMMAND ...`.

The same program is installed as the `orderdesk` command (orderdesk/cli.py)."""

import sys

from orderdesk.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
