"""``harbour web``: the staff web console."""

from __future__ import annotations

from harbour.cli.base import cli, get_app


@cli.command("web")
def web() -> None:
    """Serve the staff web console on HARBOUR_WEB_HOST:HARBOUR_WEB_PORT (default
    127.0.0.1:8080); put it behind a TLS reverse proxy for anyone else to reach it."""
    from harbour.errors import HarbourError
    from harbour.web.server import serve

    app = get_app(keys="write")  # not served for staff to find it broken at their first sign-in
    try:
        serve(app)
    except SystemExit as exc:  # uvicorn's 3 when it cannot start: Harbour's 3 is nobody paged
        if exc.code in (0, None):
            raise
        raise HarbourError(
            "web_not_started",
            f"the console could not start on {app.settings.web_host}:{app.settings.web_port} "
            "(the reason is above: the address in use?)",
        ) from None
