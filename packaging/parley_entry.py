"""The bundle's executable: ``parley [coordinator|bot] …`` (the app by default)."""

import sys

from desktop_app.programs import run_bundle

if __name__ == "__main__":
    sys.exit(run_bundle(sys.argv))
