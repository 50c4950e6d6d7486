"""Posting results: a postal service's HTTP API in the shape of VNPost's order API for public-administration items
(dịch vụ bưu chính công ích).

- ``POST /api/v1/orders`` (header ``Token``) with ``CustomerCode``, ``OrderCode`` (cutru's dossier code: the
  service creates one order per code, so a repeated request returns the first order), ``ServiceCode`` ``BCCI``,
  the receiver and the content; the answer's ``ItemCode`` is the tracking number (UPU S10: ``EB123456785VN``).
- ``GET /api/v1/orders/{ItemCode}/tracking``: the item's ``Events``, each a ``Status`` (``accepted``,
  ``in_transit``, ``delivered``, ``returned``) and its ``Time``.

``cutru_local.postal`` serves the same locally; docs/notifications.md shows the exchange.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

ShipmentStatus = Literal["accepted", "in_transit", "delivered", "returned"]
FINAL_STATUSES = frozenset({"delivered", "returned"})
ORDERS_PATH = "/api/v1/orders"
POSTAL_ENV = {"url": "CUTRU_POSTAL_URL", "customer_code": "CUTRU_POSTAL_CUSTOMER_CODE",
              "token": "CUTRU_POSTAL_TOKEN"}


class PostalConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str = Field(pattern=r"^https?://", description="the postal service's base URL")
    customer_code: str = Field(min_length=1, max_length=40)
    token: SecretStr = Field(min_length=1)
    timeout: float = Field(default=10.0, gt=0)


class TrackingEvent(BaseModel):
    Status: ShipmentStatus
    Time: datetime


class Tracking(BaseModel):
    ItemCode: str
    Events: list[TrackingEvent]


class HttpPostalService:
    def __init__(self, config: PostalConfig, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._http = http or httpx.AsyncClient(timeout=config.timeout,
                                               headers={"Token": config.token.get_secret_value()})

    async def create_shipment(self, order_code: str, name: str, address: str, phone: str | None) -> str:
        body: dict[str, Any] = {
            "CustomerCode": self.config.customer_code, "OrderCode": order_code, "ServiceCode": "BCCI",
            "ReceiverName": name, "ReceiverAddress": address, "ReceiverPhone": phone or "",
            "PackageContent": f"Kết quả giải quyết thủ tục hành chính, hồ sơ {order_code}"}
        response = await self._http.post(self.config.url.rstrip("/") + ORDERS_PATH, json=body)
        response.raise_for_status()
        item = response.json().get("ItemCode")
        if not isinstance(item, str) or not item:
            raise RuntimeError(f"the postal service answered order {order_code} without an ItemCode")
        return item

    async def statuses(self, tracking_number: str) -> list[tuple[str, datetime]]:
        response = await self._http.get(f"{self.config.url.rstrip('/')}{ORDERS_PATH}/{tracking_number}/tracking")
        response.raise_for_status()
        tracking = Tracking.model_validate(response.json())
        return [(event.Status, event.Time) for event in tracking.Events]

    async def aclose(self) -> None:
        await self._http.aclose()
