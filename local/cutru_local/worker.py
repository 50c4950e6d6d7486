"""The worker of the local stack, the demo, the benchmark and the chaos campaign.

The product's worker (``worker.py``) with one difference: its local payment gateway can confirm an order by itself,
``--auto-confirm-seconds`` after the order was created (0: at once), so that dossiers whose fee nobody pays on a
portal still complete. Configuration as for ``worker.py``: the environment (``.cutru/env`` for the local stack).

    python -m cutru_local.worker [--auto-confirm-seconds N]
"""

from __future__ import annotations

import argparse
from datetime import timedelta

import asyncpg

from activities.payment import LocalPaymentGateway
from cutru.platform.config import load_settings
from cutru.platform.logging import configure_logging
from cutru.platform.temporal import run_worker_process
from cutru.service import worker


def confirming_gateway(after: timedelta | None) -> worker.GatewayFactory:
    def gateway(pool: asyncpg.Pool) -> LocalPaymentGateway:
        return LocalPaymentGateway(pool, auto_confirm_after=after)

    return gateway


def auto_confirm_option(argv: list[str] | None, description: str | None) -> timedelta | None:
    """The command line of a local worker: ``--auto-confirm-seconds N``, or None when not given."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--auto-confirm-seconds", type=float, default=None, metavar="N",
                        help="the local gateway confirms each order N seconds after it was created")
    args = parser.parse_args(argv)
    return timedelta(seconds=args.auto_confirm_seconds) if args.auto_confirm_seconds is not None else None


def main(argv: list[str] | None = None) -> None:
    after = auto_confirm_option(argv, __doc__)
    settings = load_settings()
    configure_logging(settings.log_level)
    run_worker_process(worker.run(settings, confirming_gateway(after)), settings)


if __name__ == "__main__":
    main()
