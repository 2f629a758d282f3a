"""``python -m halo_gate.cli``: the ``halo-gate`` command."""

import sys

from . import main

sys.exit(main())
