"""The assessment's point never travels in a URL: it says what the youth's situation is
(``considering_leaving``, ``just_left``, ``incident``), and a URL lands in the browser's history
and in a reverse proxy's access log (nginx logs the query string) beside the case reference. The
whole flow (open the form from the case page, save a draft, continue it, submit) is driven as a
browser drives it, following each page's own links and forms, and no URL asked for or handed
out (a Location, a link, a form sent by GET with its fields) carries a point or an answer. An
old URL with ``?point=`` (a bookmark, the browser's history) is answered without an error, and
not with the form. Each test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from sqlalchemy import func, select

from harbour.app import App
from harbour.clock import FixedClock
from harbour.db.models import Assessment, AssessmentDraft
from harbour.domain.refs import short_form
from harbour.domain.vocab import AssessmentPoint
from tests.notify.helpers import new_case
from tests.web.helpers import signed_in
from tests.web.test_assessment import answered

POINTS = [p.value for p in AssessmentPoint]


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)  # its hidden values
    names: set[str] = field(default_factory=set)  # every field it sends
    buttons: list[tuple[str, str, str]] = field(default_factory=list)  # (name, value, text)


class Read(HTMLParser):
    """A page's URLs and forms, as a browser reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for name in ("href", "src", "action", "formaction", "data-poll"):
            if name in a:
                self.urls.append(a[name])
        if tag == "form":
            self._form = Form(a.get("action", ""), a.get("method", "get").lower())
            self.forms.append(self._form)
        elif tag == "a":
            self._text = []
            self.links.append((a.get("href", ""), ""))
        elif tag == "button" and self._form is not None:
            self._text = []
            self._form.buttons.append((a.get("name", ""), a.get("value", ""), ""))
        elif tag in ("input", "select", "textarea") and self._form is not None:
            if name := a.get("name", ""):
                self._form.names.add(name)
            if a.get("type") == "hidden":
                self._form.fields[name] = a.get("value", "")

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        text = " ".join("".join(self._text or []).split())
        if tag == "a" and self._text is not None:
            self.links[-1] = (self.links[-1][0], text)
            self._text = None
        elif tag == "button" and self._text is not None and self._form is not None:
            name, value, _ = self._form.buttons[-1]
            self._form.buttons[-1] = (name, value, text)
            self._text = None
        elif tag == "form":
            self._form = None


def leaks(url: str) -> list[str]:
    """What a URL says that it must not: a point (in its path or query), or an answer."""
    parts = urlsplit(url)
    found = [p for p in POINTS if p in parts.path or p in parts.query]
    found += [k for k, _ in parse_qsl(parts.query) if k == "point" or k.startswith("answers")]
    return found


class Browser:
    """A test client driven through the pages' own links and forms, every URL checked."""

    def __init__(self, web: Any) -> None:
        self.web = web
        self.problems: list[str] = []

    def check(self, url: str, what: str) -> None:
        if found := leaks(url):
            self.problems.append(f"{what} {url}: {found}")

    def arrive(self, answer: Any, typed: bool = False) -> tuple[Any, Read]:
        """The page an answer leads to (redirects followed) and what it holds, every URL
        checked; ``typed``: the URL asked for was typed in (not one the console gave)."""
        if not typed:
            self.check(str(answer.request.url), "asked for")
        while answer.is_redirect:
            self.check(answer.headers["location"], "Location")
            answer = self.web.get(answer.headers["location"])
            self.check(str(answer.request.url), "asked for")
        assert answer.status_code < 500, answer.text[-500:]
        read = Read()
        read.feed(answer.text)
        for url in read.urls:
            self.check(url, "in the page")
        for form in read.forms:
            sent = form.names | {name for name, _, _ in form.buttons if name}
            if form.method == "get" and (
                found := sorted(n for n in sent if n == "point" or n.startswith("answers"))
            ):
                self.problems.append(f"a form sent by GET to {form.action} with {found}")
        return answer, read

    def get(self, path: str, typed: bool = False) -> tuple[Any, Read]:
        return self.arrive(self.web.get(path), typed)

    def submit(self, form: Form, button: str, values: dict[str, str]) -> tuple[Any, Read]:
        """Send ``form`` as its button whose text begins with ``button`` sends it."""
        [(name, value)] = [(n, v) for n, v, t in form.buttons if begins(t, button)]
        data = form.fields | values | ({name: value} if name else {})
        if form.method == "get":
            return self.arrive(self.web.get(f"{form.action}?{urlencode(data)}"))
        return self.arrive(self.web.post(form.action, data=data))


def begins(text: str, words: str) -> bool:
    return text.casefold().startswith(words.casefold())


def one_form(read: Read, button: str) -> Form:
    [found] = [f for f in read.forms if any(begins(t, button) for _, _, t in f.buttons)]
    return found


def test_the_point_is_in_no_url_of_the_whole_assessment(seeded: App, clock: FixedClock) -> None:
    case = short_form(new_case(seeded).reference)
    web, _ = signed_in(seeded, clock, "cw1")
    browser = Browser(web)

    _, page = browser.get(f"/cases/{case}")
    opener = one_form(page, "Open the assessment")
    shown, page = browser.submit(opener, "Open the assessment", {"point": "initial_contact"})
    assert shown.status_code == 200 and 'name="answers.immediate_danger"' in shown.text

    partial = {"answers.immediate_danger": "no", "answers.violence": "yes"}
    saved, _ = browser.submit(one_form(page, "Save as draft"), "Save as draft", partial)
    assert saved.status_code == 200 and "Your draft, saved" in saved.text
    assert 'name="answers.violence" value="yes" checked' in saved.text

    _, page = browser.get(f"/cases/{case}")
    links = [href for href, text in page.links if begins(text, "continue it")]
    if links:  # a link to follow, or a button to press
        again, page = browser.get(links[0])
    else:
        again, page = browser.submit(one_form(page, "continue it"), "continue it", {})
    assert again.status_code == 200 and "Your draft, saved" in again.text
    assert 'name="answers.violence" value="yes" checked' in again.text

    form = one_form(page, "Submit the assessment")
    done, _ = browser.submit(form, "Submit the assessment", answered(seeded))
    assert done.status_code == 200 and "Assessment recorded" in done.text
    assert browser.problems == [], "\n".join(browser.problems)

    old, _ = browser.get(f"/cases/{case}/assess?point=just_left", typed=True)
    assert old.status_code == 200 and 'name="answers.immediate_danger"' not in old.text
    assert old.url.path == f"/cases/{case}"  # the case page: its chooser, its drafts
    odd, _ = browser.get("/cases/x%3Fpoint%3Djust_left/assess?point=just_left", typed=True)
    assert odd.status_code == 404  # not a reference: not sent back in a Location either
    assert browser.problems == [], "\n".join(browser.problems)

    def rows(uow: Any) -> tuple[int, int]:
        drafts = select(func.count()).select_from(AssessmentDraft)
        done = select(func.count()).select_from(Assessment).where(Assessment.status == "completed")
        return uow.session.scalar(drafts), uow.session.scalar(done)

    assert seeded.run(rows) == (0, 1)
