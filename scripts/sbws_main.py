"""Entry point for the PyInstaller binary (the same CLI as the console script)."""

import sys

from sbws.cli import main

if __name__ == "__main__":
    sys.exit(main())
