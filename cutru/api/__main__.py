"""``python -m cutru.api``: serve the API (the same as ``cutru api``)."""

from __future__ import annotations

import sys

from cutru.api.serve import main

if __name__ == "__main__":
    sys.exit(main())
