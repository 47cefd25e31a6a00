"""The programs Parley is made of — the app, the coordinator, the bot — and how one starts
another.

From a source install a child is ``python -m <module>``. A PyInstaller bundle has one
executable and no ``-m``: there, the executable takes the program's name as its first
argument (``parley coordinator serve …``, ``parley bot …``), and :func:`run_bundle` is the
bundle's entry point. The modules are imported only when run, so the app does not load
the server's code, nor the server the app's.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

#: Program name → the module whose ``main(argv)`` runs it.
PROGRAMS = {
    "app": "desktop_app.ui.app",
    "coordinator": "desktop_app.coordinator.cli",
    "bot": "desktop_app.sdk.bot",
}
#: What ``python -m`` runs for each child program from a source install.
MODULE_ENTRIES = {"coordinator": "desktop_app.coordinator", "bot": "desktop_app.sdk.bot"}


def frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def command(program: str) -> list[str]:
    """The command line that starts ``program`` ("coordinator" or "bot") as a child."""
    if frozen():
        return [sys.executable, program]
    return [sys.executable, "-m", MODULE_ENTRIES[program]]


def run(program: str, argv: Sequence[str]) -> int:
    main = importlib.import_module(PROGRAMS[program]).main
    return int(main(list(argv)) or 0)


def run_bundle(argv: Sequence[str]) -> int:
    """The bundle's executable: ``parley [coordinator|bot] …`` (the app by default)."""
    args = list(argv[1:])
    if args and args[0] in MODULE_ENTRIES:
        return run(args[0], args[1:])
    return run("app", args)
