"""``python starter.py ...`` is ``cutru ...`` (cutru/cli.py): kept for the scripts and habits that call it.

    python starter.py submit examples/PermanentResidenceRegistration.json
    python starter.py status HS-2026-000001
"""

from cutru.cli import main

if __name__ == "__main__":
    main()
