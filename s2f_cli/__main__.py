"""Allow ``python -m s2f_cli``."""

import sys

from s2f_cli._main import main

sys.exit(main())
