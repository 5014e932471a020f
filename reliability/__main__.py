"""`python -m reliability`: run the suite and print its table."""

from __future__ import annotations

import sys

from reliability.run import main

sys.exit(main(sys.argv[1:]))
