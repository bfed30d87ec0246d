"""``python -m archy_pipeline.cli``."""

import sys

from archy_pipeline.cli import console_main

sys.exit(console_main())
