"""The pages without a browser: languages, catalogues, security headers, escaping, no-JS forms.

Runs on the embedded backend over a real harvest of corpus feeds (fast; the browser
tests in test_browser.py run the flows on Elasticsearch).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.web import i18n
from api.web.highlight import highlight, snippet
from api.web.render import safe_html
from tests.web import site

WEB = Path(__file__).resolve().parents[2] / "api" / "web"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """One harvested instance (embedded backend) for the whole module: harvesting is the slow part."""
    with site.harvested(tmp_path_factory.mktemp("pages")) as (settings, key, _feed_url):
        client = TestClient(create_app(settings))
        with client as c:
            c.partner_key = key  # type: ignore[attr-defined]
            yield c


def test_every_catalogue_has_every_key_and_every_used_key_exists() -> None:
    catalogues = {lang: json.loads((WEB / "i18n" / f"{lang}.json").read_text()) for lang in i18n.LANGUAGES}
    keys = set(catalogues["en"])
    for lang, messages in catalogues.items():
        assert set(messages) == keys, f"{lang}: missing {keys - set(messages)}, extra {set(messages) - keys}"
        for key, text in messages.items():
            placeholders = set(re.findall(r"\{(\w+)\}", text))
            assert placeholders == set(re.findall(r"\{(\w+)\}", catalogues["en"][key])), (lang, key)
    used = set()
    for template in (WEB / "templates").glob("*.html"):
        used |= set(re.findall(r"""t\(["']([a-z_.]+)["']\s*[,)]""", template.read_text()))
    for module in WEB.glob("*.py"):
        used |= set(re.findall(r"""translate\(lang, "([a-z_.]+)"\s*[,)]""", module.read_text()))
    assert used, "no message keys found: the pattern is wrong"
    assert used - keys == set()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("nl-BE,nl;q=0.9,en;q=0.8", "nl"),
        ("de-DE,fr;q=0.7,en;q=0.8", "en"),
        ("de-DE,fr;q=0.9,en;q=0.8", "fr"),
        ("es", None),
        ("fr;q=0, nl;q=0.1", "nl"),
        ("", None),
    ],
)
def test_accept_language(header: str, expected: str | None) -> None:
    assert i18n.from_accept_language(header) == expected


def test_language_choice_beats_cookie_beats_browser() -> None:
    assert i18n.choose("fr", "nl", "en") == "fr"
    assert i18n.choose(None, "nl", "fr") == "nl"
    assert i18n.choose("xx", "yy", "fr-CA") == "fr"
    assert i18n.choose(None, None, None) == "en"


def test_highlight_escapes_and_marks_stems() -> None:
    out = str(highlight("Les <b>budgets</b> participatifs & Européennes", "budget européen", "fr"))
    assert "<b>" not in out
    assert "&lt;b&gt;" in out
    assert "<mark>budgets</mark>" in out
    assert "<mark>Européennes</mark>" in out
    assert "&amp;" in out
    long = "word " * 200 + "target here " + "word " * 200
    assert "<mark>target</mark>" in str(snippet(long, "target", "en"))


def test_safe_html_keeps_text_drops_scripts_and_handlers() -> None:
    out = str(
        safe_html(
            '<p onclick="x()">Hi <script>alert(1)</script><img src=x onerror=alert(1)><a href="javascript:alert(1)">a</a></p>'
        )
    )
    assert "script" not in out
    assert "onerror" not in out
    assert "onclick" not in out
    assert "javascript:" not in out
    assert out.startswith("<p>Hi")


def test_pages_answer_in_the_browser_language_with_security_headers(client) -> None:
    r = client.get("/", headers={"Accept-Language": "nl-BE,nl;q=0.9"})
    assert r.status_code == 200
    assert '<html lang="nl">' in r.text
    assert "Leer van wat andere netwerken probeerden" in r.text
    assert r.headers["content-language"] == "nl"
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    # No inline script and no style attribute anywhere (the CSP would block them).
    assert re.findall(r"<script(?![^>]*\bsrc=)", r.text) == []
    assert " style=" not in r.text
    r = client.get("/find?q=budget&lang=fr")
    assert '<html lang="fr">' in r.text
    assert r.cookies.get(i18n.COOKIE) == "fr"
    assert '<html lang="fr">' in client.get("/events").text  # the choice sticks
    client.cookies.clear()  # the module shares this client


def test_json_api_keeps_its_paths(client) -> None:
    assert (
        client.get("/search", params={"q": "budget"}).headers["content-type"].startswith("application/json")
    )
    assert client.get("/find", params={"q": "budget"}).headers["content-type"].startswith("text/html")


def test_every_form_field_has_a_label(client) -> None:
    pages = ["/", "/find?q=europe", "/events", "/partners/sign-in"]
    for path in pages:
        html = client.get(path).text
        ids = set(re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html))
        labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', html))
        visible = {
            i for i in ids if f'id="{i}"' in html and 'type="hidden"' not in html.split(f'id="{i}"')[0][-80:]
        }
        assert visible <= labelled, (path, visible - labelled)


def test_injected_feed_item_is_escaped_in_html(client) -> None:
    html = client.get("/find", params={"source": "hostile"}).text
    main = html.split('<main id="main"', 1)[1]
    assert "<script" not in main
    assert (
        "onerror=" not in main.replace("onerror=&#34;", "").replace("onerror=&quot;", "")
        or "<img" not in main
    )
    assert "<img" not in main


def test_search_paging_and_facets_without_javascript(client) -> None:
    first = client.get("/find").text
    assert 'rel="next"' in first
    assert "Page 1 of" in first
    second = client.get("/find?page=2").text
    assert "Page 2 of" in second
    titles_1 = re.findall(r'<article class="hit">\s*<h3><a href="([^"]+)"', first)
    titles_2 = re.findall(r'<article class="hit">\s*<h3><a href="([^"]+)"', second)
    assert len(titles_1) == 10
    assert set(titles_1).isdisjoint(titles_2)
    filtered = client.get("/find?network=net-c").text
    assert 'name="network" value="net-c" checked' in filtered
    assert "Observatoire Gamma" in filtered


def test_unknown_item_and_network_are_404_pages(client) -> None:
    r = client.get("/items/news/nope/nothing")
    assert r.status_code == 404
    assert "There is no such item." in r.text
    assert client.get("/networks/nope").status_code == 404


def test_partner_pages_need_a_key_and_keep_it_in_a_strict_cookie(client) -> None:
    r = client.get("/partners", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/partners/sign-in"
    r = client.post("/partners/sign-in", data={"key": "inn_nope"})
    assert r.status_code == 401
    assert "unknown or has been revoked" in r.text
    r = client.post("/partners/sign-in", data={"key": client.partner_key}, follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Path=/partners" in cookie
    client.cookies.set("innonet_partner", client.partner_key, path="/partners")
    dashboard = client.get("/partners")
    assert "Sources of Lab Alpha" in dashboard.text
    # the Guardian's own categories match none of our themes: the source page lists them to map next
    source_page = client.get("/partners/sources/guardian").text
    assert "Your tags we could not place yet" in source_page
    listed = re.findall(r'<ul class="unmapped"[^>]*>(.*?)</ul>', source_page, re.S)
    assert listed
    assert listed[0].count("<li>") == 20
    # Preview without JavaScript: the form posts and the page shows the result, storing nothing.
    r = client.post(
        "/partners/sources/new",
        data={
            "action": "preview",
            "id": "x",
            "url": "http://10.0.0.1/feed.xml",
            "platform": "feed",
            "kind": "news",
        },
    )
    assert r.status_code == 200
    assert "Refused" in r.text
    r = client.post(
        "/partners/sources/new",
        data={"action": "add", "id": "bad", "url": "http://127.0.0.1:1/x", "tag_map": "foo = not-a-theme"},
    )
    assert r.status_code == 422
    assert "not one of innonet&#39;s themes" in r.text
