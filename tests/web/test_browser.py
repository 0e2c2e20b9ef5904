"""The main flows in real headless Chromium against a real uvicorn serving a harvested fixture.

Walks what the issue names: search, filter by a facet, open an item, switch language,
subscribe links, sign in as a partner, add a source with a live preview; checks keyboard
access, the no-JavaScript path, axe-core (no serious or critical violations on the main
pages) and that a feed item carrying script injections stays inert. Saves a screenshot
of each main page under var/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.web import site
from tests.web.browser import AXE, CHROMIUM, CHROMIUM_ARGS, axe_violations, need, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.integration]

#: A title that only the web layer stands between and the browser (indexed directly, not via mapping).
RAW_TITLE = 'Raw <script>window.__pwned = 3</script><img src=x onerror="window.__pwned=4"> title'


@pytest.fixture(scope="module")
def web(tmp_path_factory, es_url) -> Iterator[site.Site]:
    """Harvest the fixture into Elasticsearch, serve it with uvicorn; yield URLs and the partner key."""
    import uuid

    import httpx

    from search.documents import SearchDocument
    from search.elasticsearch import ElasticsearchBackend

    tmp = tmp_path_factory.mktemp("web")
    alias = f"test-web-{uuid.uuid4().hex[:10]}"
    try:
        with site.harvested(tmp, search_backend="elasticsearch", es_url=es_url, es_index=alias) as (
            settings,
            key,
            feed_url,
        ):
            backend = ElasticsearchBackend(es_url, alias, timeout_s=30)
            backend.upsert(
                [
                    SearchDocument(
                        id="http://innonet.test/id/news/raw/1",
                        type="NewsArticle",
                        title=RAW_TITLE,
                        summary="Rawinjection summary <b onmouseover=alert(1)>bold</b>",
                        network="net-c",
                        source="psy",
                    )
                ]
            )
            backend.refresh()
            backend.close()
            with site.serve_app(settings) as url:
                yield site.Site(
                    url=url, settings=settings, partner_key=key, feed_url=feed_url, feed_dir=tmp / "served"
                )
    finally:
        resolved = httpx.get(f"{es_url}/_resolve/index/{alias}-v*", timeout=30)
        names = [i["name"] for i in resolved.json().get("indices", [])] if resolved.status_code == 200 else []
        if names:
            httpx.delete(f"{es_url}/{','.join(names)}", timeout=30)


@pytest.fixture(scope="module")
def browser():
    need(CHROMIUM, "Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, web):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    p = context.new_page()
    p.dialogs = []  # type: ignore[attr-defined]
    p.on("dialog", lambda d: (p.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    p.set_default_timeout(20_000)
    yield p
    context.close()


def _assert_accessible(page, name: str) -> None:
    need(AXE, "axe-core (npm)")
    bad = axe_violations(page)
    assert bad == [], f"axe found serious/critical violations on {name}: {bad}"


def _params(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_search_filter_open_item_and_linked_data(page, web) -> None:
    page.goto(web.url + "/")
    assert page.get_attribute("html", "lang") == "en"
    assert page.locator("h1").inner_text() == "Learn from what other networks tried"
    screenshot(page, "01-home")
    _assert_accessible(page, "home")

    # Search with the keyboard only: the first Tab reaches the skip link, Enter submits.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.fill("#q", "golf club Florida")
    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r"/find\?q=golf"))
    hits = page.locator("article.hit")
    assert hits.count() >= 1
    first = hits.first
    assert "Trump sues over property tax bill for Florida golf club" in first.locator("h3").inner_text()
    assert first.locator("mark").count() >= 2  # highlights in the title
    # The same Guardian story comes through two networks: one hit, "shared by 2 networks".
    assert "shared by 2 networks" in first.inner_text()
    screenshot(page, "02-search-results")
    _assert_accessible(page, "search results")

    # Filter by a facet: with JavaScript, ticking a box applies it at once.
    page.goto(web.url + "/find")
    total_before = int(page.locator("#results-h").inner_text().split()[0])
    page.locator("fieldset", has_text="Network").get_by_label(re.compile("Observatoire Gamma")).check()
    page.wait_for_url(re.compile(r"network=net-c"))
    assert _params(page.url)["network"] == ["net-c"]
    total_after = int(page.locator("#results-h").inner_text().split()[0])
    assert 0 < total_after <= total_before
    metas = page.locator("article.hit p.meta").all_inner_texts()
    assert metas
    assert all("Observatoire Gamma" in m for m in metas)
    assert page.locator("ul.active a").count() == 1
    screenshot(page, "03-search-filtered")

    # Open an item: provenance trail, themes, linked-data links, related items from other networks.
    page.goto(web.url + "/find?q=golf+club+Florida")
    page.locator("article.hit h3 a").first.click()
    page.wait_for_url(re.compile(r"/items/news/"))
    assert "Trump sues over property tax bill" in page.locator("h1").inner_text()
    trail = page.locator("section.provenance").inner_text()
    assert "Shared with innonet by network" in trail
    assert "Harvested at" in trail
    assert "From the source" in trail
    related = page.locator("section.related article.hit")
    assert related.count() >= 1
    related_networks = related.locator("p.meta").all_inner_texts()
    own_network = page.locator("article.item > p.meta a").first.inner_text()
    assert own_network in ("Lab Alpha", "City Network Beta")
    assert own_network not in related_networks[0]  # other networks come first
    screenshot(page, "04-item")
    _assert_accessible(page, "item")
    ttl_href = page.locator("section.linkeddata a", has_text="Turtle").get_attribute("href")
    r = page.request.get(web.url + ttl_href)
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/turtle")
    assert "schema.org" in r.text()
    jsonld = page.request.get(
        web.url + page.locator("section.linkeddata a", has_text="JSON-LD").get_attribute("href")
    )
    assert jsonld.status == 200
    assert "json" in jsonld.headers["content-type"]
    iri_link = page.request.get(
        web.url + page.locator("section.linkeddata a").first.get_attribute("href"), max_redirects=0
    )
    assert iri_link.status == 303
    assert page.dialogs == []


def test_switch_language_keeps_it_and_labels_follow(page, web) -> None:
    page.goto(web.url + "/find?q=budget")
    page.locator("nav.langs a", has_text="Nederlands").click()
    page.wait_for_url(re.compile(r"lang=nl"))
    assert page.get_attribute("html", "lang") == "nl"
    assert page.locator("h1").inner_text() == "Zoeken"
    assert page.locator("#q").input_value() == "budget"  # same search, other language
    # Theme labels come from the SKOS scheme's Dutch prefLabel.
    assert "Participatie en betrokkenheid van belanghebbenden" in page.locator("form.facets").inner_text()
    # The choice sticks (cookie) on the next page without ?lang=.
    page.goto(web.url + "/events")
    assert page.locator("h1").inner_text() == "Evenementen"
    cookie = next(c for c in page.context.cookies() if c["name"] == "innonet_lang")
    assert cookie["value"] == "nl"
    assert cookie["httpOnly"]
    page.goto(web.url + "/barriers?lang=fr")
    assert page.get_attribute("html", "lang") == "fr"
    assert page.locator("h1").inner_text() == "Obstacles structurels"
    screenshot(page, "08-barriers-fr")
    _assert_accessible(page, "barriers (fr)")


def test_browser_language_is_the_default(browser, web) -> None:
    context = browser.new_context(
        locale="fr-BE", extra_http_headers={"Accept-Language": "fr-BE,fr;q=0.9,en;q=0.5"}
    )
    p = context.new_page()
    p.goto(web.url + "/")
    assert p.get_attribute("html", "lang") == "fr"
    assert p.locator("#q").get_attribute("placeholder") == "p. ex. budget participatif"
    context.close()


def test_subscribe_panel_links_carry_the_query(page, web) -> None:
    page.goto(web.url + "/find?q=europe&network=net-c&language=fr")
    links = page.locator("aside.subscribe a")
    kinds = {
        links.nth(i).get_attribute("data-kind"): links.nth(i).get_attribute("href")
        for i in range(links.count())
    }
    assert "ldes" in kinds
    ldes = _params(kinds["ldes"])
    assert ldes["network"] == ["net-c"]
    assert ldes["language"] == ["fr"]
    for kind, href in kinds.items():
        r = page.request.get(web.url + href)
        assert r.status == 200, (kind, href, r.status)
        if kind in ("atom", "ical"):
            q = _params(href)
            assert q["q"] == ["europe"]
            assert q["network"] == ["net-c"]
    r = page.request.get(web.url + kinds["ldes"], headers={"Accept": "text/turtle"})
    assert "tree" in r.text().lower() or "ldes" in r.text().lower()


def test_events_upcoming_by_date_and_place(page, web) -> None:
    page.goto(web.url + "/events")
    days = page.locator("section.day")
    assert days.count() == 3
    dates = [days.nth(i).locator("h3").inner_text() for i in range(3)]
    assert dates == sorted(dates)
    page.locator("nav.facets a", has_text="Gent, Stadshal").click()
    page.wait_for_url(re.compile(r"place="))
    titles = page.locator("ul.events li > a").all_inner_texts()
    assert sorted(titles) == ["Atelier budget participatif", "Participatiecafé: burgerbudget in de praktijk"]
    screenshot(page, "05-events")
    _assert_accessible(page, "events")


def test_networks_and_a_network_page(page, web) -> None:
    page.goto(web.url + "/networks")
    rows = page.locator("table.grid tbody tr")
    assert rows.count() == 3
    screenshot(page, "06-networks")
    _assert_accessible(page, "networks")
    page.locator("table.grid a", has_text="Observatoire Gamma").click()
    page.wait_for_url(re.compile(r"/networks/net-c"))
    assert page.locator("h1").inner_text() == "Observatoire Gamma"
    assert "Agenda" in page.locator("#sources-h + ul").inner_text()
    works_on = page.locator("section[aria-labelledby=works-on-h]").inner_text()
    assert "Participation and stakeholder engagement" in works_on
    peers = page.locator("section[aria-labelledby=works-with-h] li").all_inner_texts()
    assert any("Lab Alpha" in p for p in peers)  # Lab Alpha's hostile post is also about participation
    screenshot(page, "07-network")
    _assert_accessible(page, "network")


def test_script_injection_from_a_feed_is_inert(page, web) -> None:
    # Through the whole pipeline (feed -> mapping -> index -> page).
    page.goto(web.url + "/find?source=hostile")
    assert page.locator("article.hit").count() == 1
    page.locator("article.hit h3 a").click()
    page.wait_for_url(re.compile(r"/items/"))
    page.wait_for_load_state("load")
    # And text the web layer alone must escape (indexed directly, bypassing the mapping's sanitiser).
    page.goto(web.url + "/find?q=Rawinjection")
    hit = page.locator("article.hit").first
    assert "<script>window.__pwned = 3</script>" in hit.locator("h3").inner_text()  # shown, as text
    assert "<b onmouseover=alert(1)>" in hit.inner_text()
    for path in ("/find?source=hostile", "/find?q=Rawinjection", "/find?q=budget"):
        page.goto(web.url + path)
        page.wait_for_load_state("load")
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert (
            page.locator(
                "main script, main img[onerror], main [onmouseover], main a[href^='javascript:']"
            ).count()
            == 0
        )
        scripts = page.locator("script").evaluate_all("els => els.map(e => e.getAttribute('src'))")
        assert scripts == ["/static/app.js"]
    assert page.dialogs == []
    csp = page.request.get(web.url + "/").headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp


def test_reading_and_searching_work_without_javascript(browser, web) -> None:
    context = browser.new_context(java_script_enabled=False, locale="en-GB")
    p = context.new_page()
    p.goto(web.url + "/")
    p.fill("#q", "psychologue")
    p.click("form.search button[type=submit]")
    p.wait_for_url(re.compile(r"q=psychologue"))
    p.locator("fieldset", has_text="Language").get_by_label(re.compile("French")).check()
    p.click("form.facets button.apply")  # no autosubmit without JS: the button does it
    p.wait_for_url(re.compile(r"language=fr"))
    assert p.locator("article.hit").count() >= 1
    assert all(" fr" in m for m in p.locator("article.hit p.meta").all_inner_texts())
    if p.locator("nav.paging a[rel=next]").count():
        p.click("nav.paging a[rel=next]")
        p.wait_for_url(re.compile(r"page=2"))
    context.close()


def test_mobile_layout(browser, web) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB", is_mobile=True)
    p = context.new_page()
    p.goto(web.url + "/find?q=budget")
    width = p.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    screenshot(p, "12-mobile-search")
    context.close()


def test_partner_sign_in_health_and_add_a_source_with_live_preview(page, web) -> None:
    page.goto(web.url + "/partners")
    page.wait_for_url(re.compile(r"/partners/sign-in"))
    screenshot(page, "09-partner-sign-in")
    _assert_accessible(page, "partner sign-in")
    page.fill("#key", "inn_000000000000_wrong")
    page.click("form.stack button[type=submit]")
    assert "unknown or has been revoked" in page.locator("div.errors").inner_text()
    page.fill("#key", web.partner_key)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(re.compile(r"/partners$"))
    cookie = next(c for c in page.context.cookies() if c["name"] == "innonet_partner")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/partners"
    assert page.evaluate("document.cookie").find("inn_") == -1  # no script can read the key

    # Health in plain words: the plain-text "feed" failed, the Guardian works.
    assert page.locator("h1").inner_text() == "Sources of Lab Alpha"
    broken = page.locator("li.source", has_text="Plain text")
    assert "failing" in broken.inner_text()
    assert "The last harvest failed" in broken.inner_text()
    good = page.locator("li.source", has_text="Guardian")
    assert "The last harvest worked" in good.inner_text()
    assert page.locator("li.source", has_text="heise").count() == 0  # another network's source
    screenshot(page, "10-partner-dashboard")
    _assert_accessible(page, "partner dashboard")

    # Add a source: typing the address previews it live (script), nothing stored yet.
    page.click("a.button")
    page.wait_for_url(re.compile(r"/partners/sources/new"))
    page.fill("#id", "heise-lab")
    page.fill("#title", "heise for Lab Alpha")
    page.fill("#tag_map", "Wissenschaft = participation")
    page.fill("#url", web.feed_url + "/heise_de_atom.xml")
    page.locator("#url").dispatch_event("change")
    page.wait_for_selector("#preview section.preview")
    preview = page.locator("#preview").inner_text()
    assert page.url.endswith("/partners/sources/new")  # no reload
    assert "Looks good" in preview or "Partly usable" in preview
    assert re.search(r"\d+ read, \d+ usable", preview)
    assert page.locator("#preview ol.preview-items > li").count() >= 1
    screenshot(page, "11-partner-add-source-preview")
    _assert_accessible(page, "add source with preview")
    r = page.request.get(
        web.url + "/partner/v1/sources", headers={"Authorization": f"Bearer {web.partner_key}"}
    )
    assert "heise-lab" not in {s["id"] for s in r.json()}

    # A URL that is not a feed: a plain-language refusal in the preview.
    page.fill("#url", web.feed_url + "/not_a_feed.txt")
    page.locator("#url").dispatch_event("change")
    page.locator("#preview section.preview", has_text="Not usable").wait_for()

    page.fill("#url", web.feed_url + "/heise_de_atom.xml")
    page.click("button[value=add]")
    page.wait_for_url(re.compile(r"/partners/sources/heise-lab\?added=1"))
    assert "The source was added" in page.locator("p.notice").inner_text()
    assert "Participation and stakeholder engagement" in page.locator("table.mapping").inner_text()
    page.fill(
        "section[aria-labelledby=tagmap-h] textarea", "Wissenschaft = foresight\nPolitik = participation"
    )
    page.click("section[aria-labelledby=tagmap-h] button[type=submit]")
    page.wait_for_url(re.compile(r"saved=1"))
    table = page.locator("table.mapping").inner_text()
    assert "Futures, foresight and long-term focus" in table
    assert "Politik" in table
    screenshot(page, "13-partner-source")
    _assert_accessible(page, "partner source")
    r = page.request.get(
        web.url + "/partner/v1/sources/heise-lab", headers={"Authorization": f"Bearer {web.partner_key}"}
    )
    assert r.json()["tag_map"] == {
        "Wissenschaft": "https://w3id.org/innonet/concepts/theme/foresight",
        "Politik": "https://w3id.org/innonet/concepts/theme/participation",
    }
    page.click("form[action='/partners/sign-out'] button") if page.locator(
        "form[action='/partners/sign-out']"
    ).count() else None
