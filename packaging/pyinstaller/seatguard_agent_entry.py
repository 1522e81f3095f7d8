"""Entry point of the frozen ``seatguard-agent`` (PyInstaller): the same CLI as the installed script."""

import sys

from agent.cli import main

if __name__ == "__main__":
    sys.exit(main())
