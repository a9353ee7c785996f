"""``harbour web``: the staff web console."""

from __future__ import annotations

from harbour.cli.base import cli, get_app


@cli.command("web")
def web() -> None:
    """Serve the staff web console on HARBOUR_WEB_HOST:HARBOUR_WEB_PORT (default
    127.0.0.1:8080); put it behind a TLS reverse proxy for anyone else to reach it."""
    from harbour.db import storekeys
    from harbour.web.server import serve

    app = get_app()
    # Refused at start, as every command refuses them, rather than served for staff to find the
    # console broken at their first sign-in: no store there (asked first: a HARBOUR_HOME with no
    # store has no key file either), or a keyring that is not the store's.
    app.run(lambda uow: storekeys.recorded(uow.session))
    app.run(lambda uow: uow.check_keys("write"))
    serve(app)
