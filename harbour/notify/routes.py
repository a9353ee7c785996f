"""Routing by Apprise tag: which configured URLs reach which recipient on which channel.

The Apprise YAML (the file ``HARBOUR_APPRISE_CONFIG``, or the same YAML as text in
``apprise_yaml``, which flows fill from a Prefect Secret block) tags each URL with who receives it (a staff
handle, or a role such as ``oncall`` together with an agency name) and one channel tag (``email``
or ``chat``). A recipient is a tag, or several joined by ``/`` that must all be present
(``oncall/north``). URLs stay in memory: anything shown is the scheme and host of Apprise's
privacy form, no path and no query (a webhook's token is in its path; an address in its query).

Every send goes through hardened plugin instances: Apprise's own retries off, redirects refused,
short socket timeouts, and no throttle (Apprise throttles per instance: 5.5 s between emails). A
relay worker keeps its instances per route (``kept_sender``), their throttle clocks cleared before
each send; a test send makes fresh ones (``fresh_sender``). Each plugin is tagged with its route's
position, so that what one send did is read route by route (``per_route``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    import apprise

    from harbour.settings import Settings

EMAIL = "email"
CHAT = "chat"
CHANNELS = (EMAIL, CHAT)
ANY_CHANNEL = "any"  # a row enqueued when the recipient had no route: any route will do
ROLE_TAGS = ("supervisor", "coordinator", "oncall", "admin")
SECRET_SOURCE = "the routes secret (HARBOUR_APPRISE_SECRET_BLOCK)"
MAIL_SCHEMES = ("mailto", "mailtos")
ADDRESS = "{address}"  # where a person's chat address goes in the agency's chat URL
FILE, RECORD = "routes_file", "staff_record"  # where a route comes from


@dataclass(frozen=True)
class Route:
    tags: frozenset[str]
    channel: str
    service: str  # scheme://host[:port] of Apprise's privacy form: safe to show
    url: str = field(repr=False, compare=False)
    source: str = FILE

    def reaches(self, recipient: str, channel: str = ANY_CHANNEL) -> bool:
        wanted = set(recipient.lower().split("/"))
        return wanted <= self.tags and channel in (ANY_CHANNEL, self.channel)


@dataclass(frozen=True)
class Routes:
    routes: tuple[Route, ...] = ()
    problems: tuple[str, ...] = ()
    # The file (or secret) cannot be used at all: rows wait for it to be fixed, attempts kept.
    unusable: bool = False

    def matching(self, recipient: str, channel: str = ANY_CHANNEL) -> list[Route]:
        return [route for route in self.routes if route.reaches(recipient, channel)]

    def channels_for(self, recipient: str) -> list[str]:
        return sorted({route.channel for route in self.matching(recipient)})


def configured(settings: Settings) -> bool:
    """Whether routes are configured at all (a file, or YAML handed in by the flows)."""
    return settings.apprise_config is not None or settings.apprise_yaml is not None


# A problem given as a bare code, as a person reading `notify check` (or the console's Routes
# page) needs it: what it means and what to do.
_EXPLAINED = {
    "no_config": "no_config: nobody has a route (no address on record, no routes file): give "
    "staff an address (harbour staff contact HANDLE --email @FILE, after the agency's "
    "harbour agency delivery), or set HARBOUR_APPRISE_CONFIG to a routes file",
}


def explained(problem: str) -> str:
    """A problem of a check as shown to people; the JSON keeps the code."""
    return _EXPLAINED.get(problem, problem)


def load_routes(settings: Settings) -> Routes:
    """The routes in the configured file, else in the YAML text; an empty table with a problem
    code if unusable (a file group or others may read included: asked at every read, so that a
    `chmod 600` takes effect at once)."""
    from harbour.settings import routes_file_exposed

    path = settings.apprise_config
    if path is None:
        if settings.apprise_yaml is not None:
            return _parse_cached(settings.apprise_yaml.get_secret_value())
        return Routes(problems=("no_config",))
    try:
        stat = Path(path).stat()
    except OSError as exc:
        return Routes(problems=(f"{path}: config_unreadable ({exc.strerror})",), unusable=True)
    if exposed := routes_file_exposed(path, stat.st_mode):
        return Routes(problems=(f"{path}: routes_file_exposed ({exposed})",), unusable=True)
    return _load_cached(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _load_cached(path: str, _mtime_ns: int, _size: int) -> Routes:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return Routes(
            problems=(f"{path}: config_unreadable (not readable UTF-8 text)",), unusable=True
        )
    return parse_routes(text, path)


@lru_cache(maxsize=4)
def _parse_cached(text: str) -> Routes:
    return parse_routes(text, SECRET_SOURCE)


def parse_routes(text: str, source: str = SECRET_SOURCE) -> Routes:
    """Routes from Apprise YAML text (a file's content, or a secret holding the same YAML);
    ``source`` names where the text came from in the problems (a path, or the secret)."""
    import apprise

    shape = _shape_problem(text, source)
    if shape is not None:
        return Routes(problems=(shape,), unusable=True)
    pin_apprise_logger()
    config = apprise.AppriseConfig(asset=safe_asset())
    if not config.add_config(text, format="yaml"):
        return Routes(problems=(f"{source}: config_invalid (Apprise refused it)",), unusable=True)
    routes: list[Route] = []
    problems: list[str] = []
    for number, service in enumerate(config.services(), start=1):
        route, problem = _route(service)
        if route is not None:
            routes.append(route)
        if problem:
            problems.append(f"url {number}: {problem}")
    if not routes and not problems:
        problems.append(f"{source}: no_routes (Apprise found no usable URL in it)")
    return Routes(tuple(routes), tuple(problems))


def _shape_problem(text: str, source: str) -> str | None:
    """What makes the text unusable as Apprise YAML, with its line, as the other data files say
    it (Apprise itself reads a broken file as an empty one). Values are never echoed: the file
    holds addresses and tokens."""
    import yaml

    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        return f"{where}: config_invalid (not valid YAML: {getattr(exc, 'problem', None) or 'unreadable'})"
    if not isinstance(data, dict):
        return f"{source}:1: config_invalid (not a mapping with a urls list)"
    if not isinstance(data.get("urls"), list):
        return f"{source}:1: config_invalid (no urls list)"
    return None


def _route(service: Any) -> tuple[Route | None, str | None]:
    tags = frozenset(str(tag) for tag in service.tags)
    channels = [tag for tag in tags if tag in CHANNELS]
    if len(channels) != 1:
        return None, "needs exactly one channel tag (email or chat)"
    if not tags - set(channels):
        return None, "needs a recipient tag (a staff handle or a role and agency)"
    return Route(tags, channels[0], shown(service.url(privacy=True)), service.url()), None


def mail_settings_problem(url: str) -> str | None:
    """Why ``url`` cannot be an agency's mail settings (an Apprise ``mailto``/``mailtos`` URL
    naming the server and the sender; each person's address is added to it), or None."""
    if urlsplit(url).scheme.lower() not in MAIL_SCHEMES:
        return "must be an Apprise mailto:// or mailtos:// URL (server, login, from=)"
    if _instance(personal_url(EMAIL, url, "check@example.org")) is None:
        return "is not a mail URL Apprise accepts"
    return None


def chat_settings_problem(url: str) -> str | None:
    """Why ``url`` cannot be an agency's chat settings (an Apprise URL with ``{address}`` where
    each person's chat address goes), or None."""
    if url.count(ADDRESS) != 1:
        return "must hold {address} once, where each person's chat address goes"
    if urlsplit(url).scheme.lower() in MAIL_SCHEMES:
        return "is a mail URL: give it as the mail settings"
    if _instance(personal_url(CHAT, url, "check")) is None:
        return "is not a URL Apprise accepts"
    return None


def personal_url(channel: str, settings_url: str, address: str) -> str:
    """A person's route URL: the agency's mail URL sent ``to`` the address, or its chat URL
    with the address in place of ``{address}``."""
    if channel == CHAT:
        return settings_url.replace(ADDRESS, quote(address, safe="@"))
    parts = urlsplit(settings_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "to"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("to", address)])))


@lru_cache(maxsize=1024)
def personal_route(handle: str, channel: str, settings_url: str, address: str) -> Route | None:
    """The route a staff record gives ``handle`` on ``channel``; None if Apprise refuses it."""
    url = personal_url(channel, settings_url, address)
    plugin = _instance(url)
    if plugin is None:
        return None
    tags = frozenset({handle, channel})
    return Route(tags, channel, shown(plugin.url(privacy=True)), url, RECORD)


def with_overrides(records: list[Route], file: Routes, problems: list[str]) -> Routes:
    """The routes file's routes, and each staff record's route unless the file has a route for
    that person on that channel (the file overrides). A missing file is no problem when staff
    records give routes."""
    kept = [
        r
        for r in records
        if not any(f.reaches(min(r.tags - {r.channel}), r.channel) for f in file.routes)
    ]
    found = [p for p in file.problems if not (kept and p == "no_config")]
    return Routes((*file.routes, *kept), (*found, *problems), file.unusable)


def settings_shown(channel: str, settings_url: str) -> str:
    """What of an agency's mail or chat settings may be shown: the mail server (``shown``),
    and of chat settings the privacy form of the route they give a person, as staff routes are
    shown (a chat service's "host" can be a token, which only that form masks); the scheme
    alone if Apprise refuses them."""
    if channel == EMAIL:
        return shown(settings_url)
    plugin = _instance(personal_url(channel, settings_url, "someone@example.invalid"))
    if plugin is None:
        return f"{urlsplit(settings_url).scheme}://"
    return shown(plugin.url(privacy=True))


def _instance(url: str) -> Any:
    import apprise

    pin_apprise_logger()
    return apprise.Apprise.instantiate(url, asset=safe_asset())


def shown(private: str) -> str:
    """What of a route may be shown: scheme, host and port of its privacy form. Apprise masks
    passwords there but keeps paths and queries, where webhook tokens and addresses live."""
    parts = urlsplit(private)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def load_apprise() -> None:
    """Import Apprise and load its plugins now (once per process), so that the first route
    checked later (a staff record's, in a transaction) does not pay for it."""
    from apprise.manager_plugins import NotificationManager

    NotificationManager().load_modules()


def safe_asset(timeout: float = 10.0) -> apprise.AppriseAsset:
    import apprise

    return apprise.AppriseAsset(
        http_redirects=False,
        storage_mode="memory",
        service_timeout=timeout,
        default_service_retry=0,
    )


def fresh_sender(routes: list[Route], timeout: float) -> apprise.Apprise:
    """A new Apprise object with new, hardened plugin instances for ``routes``, each tagged with
    its route's position (``per_route`` reads the results by it)."""
    import apprise

    asset = safe_asset(timeout * 2 + 1)
    sender = apprise.Apprise(asset=asset)
    for position, route in enumerate(routes):
        plugin = apprise.Apprise.instantiate(route.url, asset=asset)
        if plugin is not None:
            plugin.tags = {_position_tag(position)}
            sender.add(_harden(plugin, timeout))
    return sender


def per_route(result: apprise.AppriseResult, count: int) -> list[str | None]:
    """What a send through ``fresh_sender`` or ``kept_sender`` did for each of its ``count``
    routes: None where it was delivered, else an error code (``send_failure``, ...). Apprise
    reports one combined status, and a result per service it dispatched."""
    codes = {tag: _code(service.status) for service in result for tag in service.tag}
    if not codes:  # Apprise dispatched nothing (it refused the call): its status for each
        return [_code(result.status) or "send_failure"] * count
    # A route with no result had its plugin refused by Apprise: not delivered.
    return [codes.get(_position_tag(n), "send_failure") for n in range(count)]


def _position_tag(position: int) -> str:
    return f"harbour-route-{position}"


def _code(status: Any) -> str | None:
    return None if status.name == "SUCCESS" else f"send_{status.name.lower()}"


_SENDERS = threading.local()  # a relay worker's senders: (route urls, timeout) -> Apprise
SENDERS_KEPT = 64  # per worker thread; the oldest is dropped beyond this


def kept_sender(routes: list[Route], timeout: float) -> apprise.Apprise:
    """``fresh_sender(routes, timeout)``, made once per worker thread and kept: building one
    (Apprise's locale lookup, parsing each URL) cost a relay more than the send itself. Used by
    one thread at a time, as a fresh one was; its plugins' throttle clocks are cleared before
    each use, so that a kept instance waits no more than a fresh one (no wait at all)."""
    kept: dict[tuple[tuple[str, ...], float], apprise.Apprise] | None
    kept = getattr(_SENDERS, "kept", None)
    if kept is None:
        kept = _SENDERS.kept = {}
    key = (tuple(route.url for route in routes), timeout)
    sender = kept.get(key)
    if sender is None:
        if len(kept) >= SENDERS_KEPT:
            del kept[next(iter(kept))]
        sender = kept[key] = fresh_sender(routes, timeout)
    for plugin in sender:
        plugin._last_io_datetime = None  # what a fresh instance has: no throttle to keep
    return sender


def _harden(plugin: Any, timeout: float) -> Any:
    plugin.retry = 0  # the outbox retries, with backoff and a record
    plugin.redirects = False  # a webhook that redirects is not followed anywhere
    plugin.request_rate_per_sec = 0  # a fresh instance: nothing to throttle against
    plugin.socket_connect_timeout = min(float(plugin.socket_connect_timeout or timeout), timeout)
    plugin.socket_read_timeout = min(float(plugin.socket_read_timeout or timeout), timeout)
    return plugin


_TEXT_PARTS: dict[str, tuple[str, int]] = {}  # an email's HTML -> (its text part, senders)
_TEXT_PARTS_LOCK = threading.Lock()


@contextmanager
def email_text_part(html: str, text: str) -> Iterator[None]:
    """While inside, an email whose HTML body is ``html`` gets ``text`` as its plain-text part.

    Apprise makes that part itself by stripping the HTML, which loses every link ("Open in
    Harbour" with no address); Harbour has its own text template for it. Apprise offers no
    parameter for the part, so its converter is wrapped once, and answers from this table
    (keyed by the HTML, which the sending thread of Apprise's pool hands it, stripped)."""
    _wrap_email_converter()
    html = html.strip()  # as Apprise hands the body on
    with _TEXT_PARTS_LOCK:
        _, users = _TEXT_PARTS.get(html, (text, 0))
        _TEXT_PARTS[html] = (text, users + 1)
    try:
        yield
    finally:
        with _TEXT_PARTS_LOCK:
            _, users = _TEXT_PARTS[html]
            if users <= 1:
                del _TEXT_PARTS[html]
            else:
                _TEXT_PARTS[html] = (text, users - 1)


@lru_cache(maxsize=1)
def _wrap_email_converter() -> None:
    from apprise.plugins.email import base

    original = base.convert_between

    def convert_between(from_format: Any, to_format: Any, content: Any, *args: Any) -> Any:
        with _TEXT_PARTS_LOCK:
            found = _TEXT_PARTS.get(content.strip()) if isinstance(content, str) else None
        if found is not None and to_format == "text":
            return found[0]
        return original(from_format, to_format, content, *args)

    base.convert_between = convert_between


class _Withheld(logging.Filter):
    """Apprise's messages can name recipients and hosts: keep the level, drop the words."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = "apprise reported a problem (details withheld)"
        record.args = ()
        return True


def pin_apprise_logger() -> None:
    """Hold the ``apprise`` logger at WARNING, its text withheld (it logs bodies at DEBUG), and
    urllib3's at WARNING (at DEBUG it logs request paths, where webhook tokens live)."""
    logger = logging.getLogger("apprise")
    logger.setLevel(logging.WARNING)
    if not any(isinstance(f, _Withheld) for f in logger.filters):
        logger.addFilter(_Withheld())
    logging.getLogger("urllib3").setLevel(logging.WARNING)
