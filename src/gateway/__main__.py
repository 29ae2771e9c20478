"""`python -m gateway ...` is `pcache ...`."""

import sys

from gateway.cli import main

sys.exit(main())
