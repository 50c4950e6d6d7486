"""A fresh API process builds its routes before it serves (cutru.api.serve.route_everything)."""

from __future__ import annotations

import httpx

from cutru.api.app import create_app
from cutru.api.serve import route_everything
from cutru.api.settings import ApiSettings


async def test_the_warm_up_request_matches_nothing_and_the_app_serves_after_it() -> None:
    app = create_app(ApiSettings())
    assert await route_everything(app) == 404
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        assert (await client.get("/livez")).json() == {"status": "ok", "checks": {}}
