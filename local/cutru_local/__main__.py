"""``python -m cutru_local``: cutru-local's subcommands without the ``cutru`` command."""

import sys

from cutru_local.commands import main

sys.exit(main())
