"""``python -m campaign.cli``: the console entry point."""

import sys

from campaign.cli import main

sys.exit(main())
