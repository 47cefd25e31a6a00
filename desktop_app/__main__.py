"""``python -m desktop_app``: the desktop app."""

from desktop_app.ui.app import main

raise SystemExit(main())
