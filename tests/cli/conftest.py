"""Real delivery targets on 127.0.0.1 for the end-to-end test, as in tests/notify."""

from tests.notify.conftest import mail, receiver, routes, smtp  # noqa: F401  (targets)
