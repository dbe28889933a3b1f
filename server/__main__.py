"""`python -m orderdesk`: the same as the `orderdesk` command."""

import sys

from .cli import main

sys.exit(main())
