import sys

from ftrace.cli import main

sys.exit(main())
