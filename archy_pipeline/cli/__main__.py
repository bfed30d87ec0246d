"""``python -m archy_pipeline.cli``."""

import sys

from archy_pipeline.cli import main

sys.exit(main())
