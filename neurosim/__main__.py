"""``python -m neurosim``: the ``neurosim`` command."""

import sys

from neurosim.cli import main

sys.exit(main())
