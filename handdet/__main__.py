"""`python -m handdet` is the `handdet` command."""

import sys

from handdet.cli import main

sys.exit(main())
