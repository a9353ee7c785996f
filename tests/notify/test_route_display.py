"""What operators see of a route: scheme, host and tags; never a path or a query."""

from __future__ import annotations

from harbour.app import App
from harbour.demo.receivers import MAIL_DOMAIN, WEBHOOK_TOKEN, RouteBook
from harbour.notify.routes import shown
from tests.support import invoke


def test_check_and_test_show_scheme_host_and_tags_only(napp: App, routes: RouteBook) -> None:
    routes.chat("sup").email("cw1").chat("adm").chat("cw2")
    routes.add(f"json://127.0.0.1:{routes.receiver.port}/hooks/tok3nSECRETpath?k=qv4lue", "coord")
    check = invoke(napp, "notify", "check", "--as", "adm", "--json")
    text = invoke(napp, "notify", "check", "--as", "adm")
    sent = invoke(napp, "notify", "test", "--to", "sup", "--as", "adm", "--json")
    for output in (check.stdout, text.stdout, sent.stdout):
        for secret in (WEBHOOK_TOKEN, "tok3nSECRETpath", "qv4lue", f"@{MAIL_DOMAIN}", "to="):
            assert secret not in output
    services = {(r["service"], ",".join(r["tags"])) for r in check.json()["routes"]}
    assert (f"json://127.0.0.1:{routes.receiver.port}", "chat,sup") in services
    assert (f"mailto://127.0.0.1:{routes.smtp.port}", "cw1,email") in services
    assert [r["service"] for r in sent.json()] == [f"json://127.0.0.1:{routes.receiver.port}"]


def test_a_token_in_the_host_stays_masked() -> None:
    assert shown("tgram://1...f/") == "tgram://1...f"
    assert shown("mailtos://user:****@relay.example.org:587/?to=x%40y") == (
        "mailtos://relay.example.org:587"
    )
    assert shown("json://[::1]:8080/token") == "json://[::1]:8080"
