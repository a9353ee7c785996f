"""The staff web console: an entry point like the CLI, over the same service functions.

Server-rendered with Harbour's one Jinja environment (templates/web/), one small script (an alert's status polled; every page works without it), every
asset served from the package. ``server.create_app`` builds the ASGI application for an App;
``harbour web`` serves it with uvicorn. Pages name cases by reference and alerts by id only.
"""
