"""The console's ASGI application, and ``harbour web``'s server."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from harbour.app import App
from harbour.web import (
    admin,
    casework,
    cookies,
    cover,
    dashboard,
    field,
    pages,
    people,
    supervision,
)
from harbour.web.guard import Guard

STATIC = Path(__file__).parent / "static"


def create_app(app: App) -> Any:
    """The console for one App (its settings, database and clock); wrapped in the Guard."""
    routes = [
        Route("/", pages.caseload, methods=["GET"]),
        Route("/sign-in", pages.sign_in_form, methods=["GET"]),
        Route("/sign-in", pages.sign_in, methods=["POST"]),
        Route("/sign-out", pages.sign_out, methods=["POST"]),
        Route("/still-here", pages.still_here, methods=["POST"]),
        Route("/enrol/{token}", pages.enrol_form, methods=["GET"]),
        Route("/enrol/{token}", pages.enrol, methods=["POST"]),
        Route("/alerts", pages.alert_list, methods=["GET"]),
        Route("/alerts/{alert_id}", pages.alert_page, methods=["GET"]),
        Route("/alerts/{alert_id}/ack", pages.take_alert, methods=["POST"]),
        Route("/alerts/{alert_id}/status", casework.alert_status, methods=["GET"]),
        Route("/audit", pages.system_audit, methods=["GET"]),
        Route("/escalations", supervision.escalations, methods=["GET"]),
        Route("/dashboard", dashboard.dashboard, methods=["GET"]),
        Route("/staff", admin.staff, methods=["GET"]),
        Route("/staff", admin.add, methods=["POST"]),
        Route("/staff/{handle}/reset", admin.reset, methods=["POST"]),
        Route("/staff/{handle}/deactivate", admin.deactivate, methods=["POST"]),
        Route("/staff/{handle}/role", admin.role, methods=["POST"]),
        Route("/staff/{handle}/on-call", admin.on_call, methods=["POST"]),
        Route("/agencies", admin.agencies, methods=["GET"]),
        Route("/agencies", admin.add_agency, methods=["POST"]),
        Route("/agencies/{agency}/delivery", admin.delivery_form, methods=["GET"]),
        Route("/agencies/{agency}/delivery", admin.delivery, methods=["POST"]),
        Route("/routes", admin.routes, methods=["GET"]),
        Route("/routes/test", admin.test_route, methods=["POST"]),
        Route("/keys", admin.keys, methods=["GET"]),
        *field.ROUTES,
        Route("/refer", casework.refer_form, methods=["GET"]),
        Route("/refer", casework.refer, methods=["POST"]),
        Route("/cases/{ref}", pages.case_page, methods=["GET"]),
        Route("/cases/{ref}", pages.case_details, methods=["POST"]),
        Route("/cases/{ref}/audit", pages.case_audit, methods=["GET"]),
        Route("/cases/{ref}/assess", casework.assess_form, methods=["GET"]),
        Route("/cases/{ref}/assess", casework.assess, methods=["POST"]),
        Route("/cases/{ref}/emergency", casework.emergency, methods=["GET"]),
        Route("/cases/{ref}/lifecycle/{action}", supervision.lifecycle_confirm, methods=["GET"]),
        Route("/cases/{ref}/lifecycle/{action}", supervision.lifecycle, methods=["POST"]),
        Route("/cases/{ref}/assign", supervision.assign_form, methods=["GET"]),
        Route("/cases/{ref}/assign", supervision.assign, methods=["POST"]),
        Route("/cases/{ref}/override", supervision.override_form, methods=["GET"]),
        Route("/cases/{ref}/override", supervision.override, methods=["POST"]),
        Route("/cases/{ref}/schedule", supervision.schedule, methods=["GET"]),
        Route("/cases/{ref}/cover", cover.cover_form, methods=["GET"]),
        Route("/cases/{ref}/cover", cover.cover, methods=["POST"]),
        Route("/cases/{ref}/cover/end", cover.end_cover, methods=["POST"]),
        *(
            route
            for what in ("people", "threats")
            for route in (
                Route(f"/cases/{{ref}}/{what}/new", people.new_form, methods=["GET"]),
                Route(f"/cases/{{ref}}/{what}/new", people.add, methods=["POST"]),
                Route(f"/cases/{{ref}}/{what}/{{number:int}}", people.edit_form, methods=["GET"]),
                Route(f"/cases/{{ref}}/{what}/{{number:int}}", people.edit, methods=["POST"]),
            )
        ),
        Route("/cases/{ref}/plan", casework.workbench, methods=["GET"]),
        Route("/cases/{ref}/plan/diff", casework.plan_diff, methods=["GET"]),
        Route("/cases/{ref}/plan/print/{audience}", casework.plan_print, methods=["GET"]),
        Route(
            "/cases/{ref}/plan/download/{audience}.{fmt}",
            casework.plan_download,
            methods=["GET"],
        ),
        Route("/cases/{ref}/plan/{what}", casework.plan_change, methods=["POST"]),
        Route("/cases/{ref}/steps/{item}/{what:str}", casework.mark_step, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    web = Starlette(
        routes=routes,
        exception_handlers={404: pages.not_found, 405: pages.method_not_allowed},
    )
    web.state.harbour = app
    return Guard(web, https=cookies.secure(app.settings))


def serve(app: App) -> None:
    """Serve the console with uvicorn on HARBOUR_WEB_HOST:HARBOUR_WEB_PORT. Uvicorn's own access
    log is off (it would print enrolment links); the Guard logs sanitized paths instead."""
    import uvicorn

    settings = app.settings
    uvicorn.run(
        create_app(app),
        host=settings.web_host,
        port=settings.web_port,
        log_config=log_config(),
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.web_forwarded_allow_ips,
        server_header=False,
        log_level="info",
    )


def log_config() -> dict[str, Any]:
    """Uvicorn's logging, and the console's own beside it (the Guard's sanitized access log, its
    last-line errors) on the same stream: without a handler of their own its INFO lines went
    nowhere, and ``harbour web`` printed no access log at all."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["harbour.web"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    return config
