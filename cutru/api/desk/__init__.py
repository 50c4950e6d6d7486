"""The officers' web desk, served by the API process under ``/desk`` (docs/desk.md).

Server-rendered pages (Jinja2, autoescaped) over the same desk functions as the JSON API, plain HTML forms and
links, an own stylesheet, no script needed. A page module is an ``APIRouter(prefix="/desk", route_class=DeskRoute)``
(``cutru.api.desk.guard``) listed in ``ROUTERS``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from cutru.api.desk import auditor, counter, drafts, figures, inbox, pages, signin, signoff, supervisor

ROUTERS = (signin.router, pages.router, counter.router, figures.router, supervisor.router, auditor.router,
           inbox.router, signoff.router, drafts.router)
STATIC_DIR = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/desk/static", StaticFiles(directory=STATIC_DIR), name="desk-static")
