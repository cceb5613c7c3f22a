"""``python -m persona_core``: see persona_core.cli."""
import sys

from persona_core.cli import main

if __name__ == "__main__":
    sys.exit(main())
