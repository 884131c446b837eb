import sys

from rosmo.cli import main

sys.exit(main())
