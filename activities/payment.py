"""The payment gateway seen by the fee step, and its local implementation.

A real gateway (the national portal's payment platform) is reached through ``PaymentGateway``. The local one
keeps orders in PostgreSQL and confirms them asynchronously: a citizen's ``pay`` call, or — for demos and
benchmarks — automatically ``auto_confirm_after`` the order was created. Every call is idempotent by dossier code.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from activities.contracts import PaymentOrder

if TYPE_CHECKING:
    import asyncpg


class PaymentGateway(Protocol):
    async def create_order(self, dossier_code: str, amount_vnd: int) -> PaymentOrder: ...

    async def order_status(self, dossier_code: str) -> PaymentOrder: ...

    async def cancel_order(self, dossier_code: str) -> PaymentOrder: ...


def order_id_for(dossier_code: str) -> str:
    return f"PAY-{dossier_code}"


class LocalPaymentGateway:
    def __init__(self, pool: asyncpg.Pool, auto_confirm_after: timedelta | None = None) -> None:
        self._pool = pool
        self._auto_confirm_after = auto_confirm_after

    async def create_order(self, dossier_code: str, amount_vnd: int) -> PaymentOrder:
        status = "paid" if self._auto_confirm_after == timedelta(0) else "pending"
        # One round trip: a repeated call changes nothing and returns the order as it stands (a pending one that
        # is due is confirmed by the next status check, as every pending order is).
        row = await self._pool.fetchrow(
            "INSERT INTO payments (dossier_code, order_id, amount_vnd, status, paid_at)"
            " VALUES ($1, $2, $3, $4, CASE WHEN $4 = 'paid' THEN now() END)"
            " ON CONFLICT (dossier_code) DO UPDATE SET dossier_code = EXCLUDED.dossier_code"
            " RETURNING order_id, amount_vnd, status",
            dossier_code, order_id_for(dossier_code), amount_vnd, status,
        )
        return self._order(dossier_code, row)

    async def order_status(self, dossier_code: str) -> PaymentOrder:
        if self._auto_confirm_after is not None:
            await self._pool.execute(
                "UPDATE payments SET status = 'paid', paid_at = now()"
                " WHERE dossier_code = $1 AND status = 'pending' AND created_at + $2 <= now()",
                dossier_code, self._auto_confirm_after,
            )
        return await self._read(dossier_code)

    async def cancel_order(self, dossier_code: str) -> PaymentOrder:
        await self._pool.execute(
            "UPDATE payments SET status = 'cancelled' WHERE dossier_code = $1 AND status = 'pending'", dossier_code
        )
        return await self._read(dossier_code)

    async def pay(self, dossier_code: str) -> PaymentOrder:
        """The citizen pays (what the portal's payment page does)."""
        await self._pool.execute(
            "UPDATE payments SET status = 'paid', paid_at = now() WHERE dossier_code = $1 AND status = 'pending'",
            dossier_code,
        )
        return await self._read(dossier_code)

    async def _read(self, dossier_code: str) -> PaymentOrder:
        row = await self._pool.fetchrow(
            "SELECT order_id, amount_vnd, status FROM payments WHERE dossier_code = $1", dossier_code
        )
        if row is None:
            raise LookupError(f"no payment order for dossier {dossier_code}")
        return self._order(dossier_code, row)

    @staticmethod
    def _order(dossier_code: str, row: Any) -> PaymentOrder:
        return PaymentOrder(dossier_code=dossier_code, order_id=row["order_id"], amount_vnd=row["amount_vnd"],
                            status=row["status"])
