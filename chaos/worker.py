"""The campaign's worker: ``cutru_local.worker`` with two faults the injector switches on and off from outside.

- The documents disk fills up: while the file ``CHAOS_DISK_FULL`` names exists, every write under the documents
  directory (``CUTRU_DOCUMENT_DIR``) fails as on a full file system (``OSError`` ENOSPC, at ``open`` or ``mkdir``),
  through a Python audit hook: no mount, no root, the product's own storage code meets the error.
- The payment gateway fails: while the file ``CHAOS_GATEWAY_FAULT`` names exists, each call of the gateway either
  fails (its content ``error``: a refused answer) or hangs past the activity's timeout and then fails (``timeout``).

    CHAOS_DISK_FULL=/tmp/run/disk-full CHAOS_GATEWAY_FAULT=/tmp/run/gateway-fault python -m chaos.worker \\
        --auto-confirm-seconds 3
"""

from __future__ import annotations

import asyncio
import errno
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
from cutru_local.worker import auto_confirm_option, confirming_gateway

from activities.contracts import PaymentOrder
from activities.payment import GatewayError, PaymentGateway
from cutru.platform.config import load_settings
from cutru.platform.logging import configure_logging
from cutru.platform.temporal import run_worker_process
from cutru.service import worker

DISK_FULL_ENV = "CHAOS_DISK_FULL"
GATEWAY_FAULT_ENV = "CHAOS_GATEWAY_FAULT"
HANG = 12.0  # seconds a "timeout" call hangs: past the activity's start-to-close timeout (10 s)
_WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def full_disk_hook(directory: Path, flag: Path) -> Any:
    """An audit hook failing writes under ``directory`` with ENOSPC while ``flag`` exists."""
    prefix = os.path.join(os.path.realpath(directory), "")

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, _, flags = args
            if not isinstance(flags, int) or not flags & _WRITING:
                return
        elif event == "os.mkdir":
            path = args[0]
        else:
            return
        if isinstance(path, str | bytes | os.PathLike) and not isinstance(path, int):
            where = os.fsdecode(path)
            if os.path.realpath(where).startswith(prefix) and flag.exists():
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), where)

    return hook


class FaultyGateway:
    """The local gateway, failing or hanging while the fault file exists (its content says which)."""

    def __init__(self, gateway: PaymentGateway, flag: Path) -> None:
        self._gateway = gateway
        self._flag = flag

    async def _fault(self, call: str) -> None:
        try:
            mode = self._flag.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return
        if mode == "timeout":
            await asyncio.sleep(HANG)
            raise TimeoutError(f"the payment gateway did not answer {call} within {HANG:.0f} s")
        raise GatewayError(f"the payment gateway answered {call} with an error (HTTP 502)")

    async def create_order(self, dossier_code: str, amount_vnd: int) -> PaymentOrder:
        await self._fault("create_order")
        return await self._gateway.create_order(dossier_code, amount_vnd)

    async def order_status(self, dossier_code: str) -> PaymentOrder:
        await self._fault("order_status")
        return await self._gateway.order_status(dossier_code)

    async def cancel_order(self, dossier_code: str) -> PaymentOrder:
        await self._fault("cancel_order")
        return await self._gateway.cancel_order(dossier_code)


def faulty_gateway(after: timedelta | None, flag: Path) -> worker.GatewayFactory:
    local = confirming_gateway(after)

    def gateway(pool: asyncpg.Pool) -> PaymentGateway:
        return FaultyGateway(local(pool), flag)

    return gateway


def main(argv: list[str] | None = None) -> None:
    after = auto_confirm_option(argv, __doc__)
    disk_flag, gateway_flag = os.environ.get(DISK_FULL_ENV), os.environ.get(GATEWAY_FAULT_ENV)
    if not disk_flag or not gateway_flag:
        raise SystemExit(f"chaos.worker: set {DISK_FULL_ENV} and {GATEWAY_FAULT_ENV}")
    settings = load_settings()
    configure_logging(settings.log_level)
    sys.addaudithook(full_disk_hook(settings.document_dir, Path(disk_flag)))
    run_worker_process(worker.run(settings, faulty_gateway(after, Path(gateway_flag))), settings)


if __name__ == "__main__":
    main()
