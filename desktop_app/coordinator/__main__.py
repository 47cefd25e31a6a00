"""``python -m desktop_app.coordinator`` is ``parley-coordinator``."""

import sys

from .cli import main

sys.exit(main())
