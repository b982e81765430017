"""``python -m mind`` (and ``accelerate launch -m mind train ...``)."""

import sys

from mind.cli import main

sys.exit(main())
