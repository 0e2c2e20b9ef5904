"""The lxml fast path (crawlers/platforms/fastfeed.py) gives feedparser's RawItems, or steps aside.

Every feed file of the corpus (rss_atom, feedparser_tests) and of crawlers/samples/feeds is parsed
twice: with the fast path and with feedparser only. Wherever the fast path accepts a feed, the item
lists (and errors) must be equal; the number of accepted files is checked so a fast path that
silently refuses everything fails too.
"""

from __future__ import annotations

import itertools
import re
import sys
from pathlib import Path

import nh3
import pytest
from feedparser.encodings import convert_to_utf8

from crawlers.platforms import fastfeed
from crawlers.platforms.fastfeed import _to_utf8, fast_entries, refusal
from crawlers.platforms.feed import _undeclared_utf16, parse_feed
from pipeline.contracts import SourceSpec

ROOT = Path(__file__).resolve().parents[2]
SOURCE = SourceSpec(id="s", network="n", title="t", url="http://x", language="xx")


def _files(corpus: Path) -> list[Path]:
    dirs = [corpus / "rss_atom", corpus / "feedparser_tests", ROOT / "crawlers" / "samples" / "feeds"]
    return sorted(
        p for d in dirs for p in d.rglob("*") if p.is_file() and p.suffix in (".xml", ".rdf", ".atom", ".rss")
    )


def _dump(outcome) -> tuple:
    return (
        [item.model_dump() for item in outcome.items],
        [(e.code, e.item, e.message) for e in outcome.errors],
        outcome.fatal is None,
        outcome.warnings,
    )


def test_fast_path_equals_feedparser_on_every_corpus_feed(corpus: Path) -> None:
    files = _files(corpus)
    assert len(files) >= 80
    fast, differing = [], []
    for path in files:
        body = path.read_bytes()
        if fast_entries(_undeclared_utf16(body), None) is None:
            continue
        fast.append(path.name)
        if _dump(parse_feed(body, SOURCE)) != _dump(parse_feed(body, SOURCE, use_fast=False)):
            differing.append(path.name)
    assert differing == []
    applet = b"<rss><channel><item><title>t</title><description>&lt;applet&gt;a&lt;/applet&gt;</description></item></channel></rss>"
    assert refusal(applet, None) == "applet in HTML (feedparser's sanitiser drops its content)"
    real = [n for n in fast if not n.startswith("fp_")]
    print(f"fast path took {len(fast)} of {len(files)} files: {sorted(fast)}")
    # Real-world feeds in the corpus are mostly plain UTF-8 RSS 2.0 / Atom 1.0.
    assert len(real) >= 20
    # A feed with leading whitespace, one in another encoding, one without a declaration.
    assert {
        "google_alerts_atom.xml",
        "cerclepsy_fr_latin1_no_decl.xml",
        "feed_whitespace_before_decl.xml",
    } <= set(fast)


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/rss+xml",
        "application/xml; charset=utf-8",
        "text/xml",  # feedparser decodes as us-ascii
        "application/xml; charset=iso-8859-1",
        "text/html",  # feedparser flags it (NonXMLContentType) and reads it anyway
    ],
)
@pytest.mark.parametrize("title", ["A", "caf\u00e9"])
def test_content_type_decides_like_feedparser(content_type: str | None, title: str) -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<item><title>{title}</title><guid>urn:a</guid></item></channel></rss>"
    ).encode()
    fast = parse_feed(body, SOURCE, content_type)
    assert _dump(fast) == _dump(parse_feed(body, SOURCE, content_type, use_fast=False))
    assert fast.items
    if title == "A" or content_type in (None, "application/rss+xml", "application/xml; charset=utf-8"):
        assert refusal(body, content_type) is None


_RSS_ITEMS = {
    "charrefs": "<title>a &#60;b&#62; c</title><description>x &#60;p&#62;hi&#60;/p&#62;</description>",
    "hexrefs": "<title>a &#x3c;b&#x3E; &#x2F; &#233; &#x26; c</title><description>&#x3c;b&#x3e;y</description>",
    "escaped": "<title>a &lt;b&gt; &amp; d</title><description>&lt;p&gt;&amp;amp; &quot;q&quot;&lt;/p&gt;</description>",
    "cdata": '<title><![CDATA[a <b>x</b> & y]]></title><description><![CDATA[<p><a href="x?a=1&amp;b=2">l</a></p>]]></description>',
    "amp_link": '<title>t</title><link>http://a/?x=1&amp;y=2</link><category domain="http://d/?a&amp;b">c&amp;d</category>',
    "guid": '<title>t</title><guid isPermaLink="false">a&amp;b</guid>',
    "guid_cdata": '<title>t</title><guid isPermaLink="false"><![CDATA[a&b<c]]></guid><category><![CDATA[x&y]]></category>',
    "guid_escaped": '<title>t</title><guid isPermaLink="false">a&lt;b&gt;"d</guid><author>a&apos;b</author>',
    "link_escaped": "<title>t</title><link>http://a/&lt;x&gt;&quot;</link>",
    "charref_plain": '<title>t</title><guid isPermaLink="false">caf&#233;</guid><category>caf&#233;</category>',
    "dc": "<title>t</title><dc:creator>Jo &amp; Al</dc:creator><dc:date>2020-01-01T00:00:00Z</dc:date>",
    "author": "<title>t</title><author>jo@x.com (Jo)</author><pubDate>Mon, 01 Jan 2020 00:00:00 GMT</pubDate>",
    "content": '<title>t</title><content:encoded><![CDATA[<p class="x" id="y" onclick="a=\'1\'">hi</p>]]></content:encoded>',
    "content_escaped": "<title>t</title><content:encoded>&lt;p&gt;a &amp;amp; b &#38; c&lt;/p&gt;</content:encoded>",
    "second_title": "<title>t</title><title>u</title><media:title>m</media:title>",
    "media_title_first": "<media:title>m</media:title><title>t</title>",
    # feedparser's sanitiser writes href="" for a scheme outside its list; nh3 alone would drop it or keep it
    "hrefs": '<title>t</title><content:encoded><![CDATA[<a href="javascript:void(0)" onclick="x=\'1\';">G</a>'
    '<a href=\'data:text/html,x\'>d</a><a href=tel:1>e</a><a HREF="jav&#97;script:x">e</a><a href=" tel:1 ">e</a>'
    '<a href="ja\nvascript:x">e</a><a href="http://a/?b=1&amp;c=2">r</a><a href="file:///etc">f</a>'
    '<a title="href=javascript:x" href="/">t</a><a href="tel&#58;1">e</a><p>href=javascript:x</p>'
    '<a href="http://[::1">v6</a><a href="https://a/]">b</a><a href="HTTP://A">u</a>]]></content:encoded>',
    "quotes_literal": "<title>t</title><category>angie's list</category><author>O'Brien</author><guid>a'b\"c</guid>",
    "quotes_cdata": '<title>t</title><category><![CDATA[angie\\\'s "list"]]></category>',
    "quotes_refs": "<title>t</title><category>a&apos;b</category><category>a&quot;b</category><category>a&#x27;b</category>",
    "quotes_ref_link": "<title>t</title><link>http://a/b&apos;c</link>",
    "hex_refs_plain": "<title>t</title><category>caf&#xe9; &#x41;</category><link>http://a/&#x41;&#x2F;b</link>",
    "dcterms_dates": '<title>t</title><dcterms:created xmlns:dcterms="http://purl.org/dc/terms/">2019-02-03T04:05:06Z</dcterms:created>'
    "<expirationDate>Mon, 01 Jan 2030 00:00:00 GMT</expirationDate>",
    "dcterms_order": '<title>t</title><pubDate>Mon, 01 Jan 2020 00:00:00 GMT</pubDate><dcterms:issued xmlns:dcterms="http://purl.org/dc/terms/">'
    '2021-01-01</dcterms:issued><dcterms:modified xmlns:dcterms="http://purl.org/dc/terms/">2022-01-01T00:00:00+02:00</dcterms:modified>',
    "whitespace": "<title>\n  t  \n</title><description>  a\n b </description>",
    "script": "<title>t</title><description>&lt;script&gt;alert(1)&lt;/script&gt;x</description>",
    "comment_pi": "<title>t<!-- c --></title><?foo bar?><description>a<!-- c -->b</description>",
}
_ATOM_ENTRIES = {
    "html": '<title type="html">a &lt;b&gt;x&lt;/b&gt; &amp;amp;</title><content type="html">&lt;p&gt;x&lt;/p&gt;</content>',
    "text": '<title type="text">a &lt;b&gt; &amp; c</title><summary>x &lt; y &#60; z</summary>',
    "link": '<title>t</title><link href="http://a/?x=1&amp;y=2" rel="alternate"/><link rel="enclosure" href="http://e"/>',
    "cdata": '<title type="html"><![CDATA[a <b>x</b>]]></title><content type="html"><![CDATA[<p>y &amp; z</p>]]></content>',
    "category": '<title>t</title><category term="a&amp;b" label="L"/><author><name>A &amp; B</name></author>',
    "plain": '<title>t</title><content type="text/plain">&lt;p&gt;x&lt;/p&gt;</content>',
    # type="xhtml": the wrapping div's content, written as HTML
    "xhtml": '<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">A <b>bold</b> &amp; <i>x</i></div></title>'
    '<summary type="xhtml"> <div xmlns="http://www.w3.org/1999/xhtml"><p>s &lt; t</p></div> </summary>'
    '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">\n<p class="c" id="i">a<br/>b<img src="http://i/x.png" alt="q&quot;"/></p>'
    '<p/><a href="javascript:x" title="t">l</a><mark>m</mark><ul><li>1</li><li>2</li></ul><pre>  code\n  </pre>\n</div></content>',
    # Media RSS in Atom (YouTube): media:description is the summary, a later media:title is ignored
    "media": '<title>t</title><media:group xmlns:media="http://search.yahoo.com/mrss/"><media:title>m</media:title>'
    '<media:thumbnail url="http://t"/><media:description>d &lt;b&gt;x&lt;/b&gt; &amp;amp;</media:description></media:group>',
    "media_and_summary": '<title>t</title><summary>s</summary><media:group xmlns:media="http://search.yahoo.com/mrss/">'
    "<media:description>d</media:description></media:group>",
    "media_title_first": '<media:group xmlns:media="http://search.yahoo.com/mrss/"><media:title>m</media:title></media:group><title>t</title>',
    # out-of-line content (src): feedparser keeps an empty value
    "src_first": '<content type="text/html" src="http://d/x"/><title>t</title><summary>s &lt;b&gt;</summary>'
    '<link href="http://l"/><author><name>n</name></author><published>2020-01-01T00:00:00Z</published>',
    "src_pdf_last": '<title>t</title><summary>s</summary><content type="application/pdf" src="http://d/x.pdf"/>',
    "src_with_text": '<title>t</title><content type="text/html" src="http://d/x">text</content>',
    "xhtml_prefixed": '<content type="xhtml"><x:div xmlns:x="http://www.w3.org/1999/xhtml"><x:p>a</x:p></x:div></content><title>t</title>',
    "xhtml_text_beside": '<title>t</title><content type="xhtml">t <div xmlns="http://www.w3.org/1999/xhtml">a</div></content>',
    "xhtml_svg": '<title>t</title><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><svg xmlns="http://www.w3.org/2000/svg" '
    'xmlns:xlink="http://www.w3.org/1999/xlink" width="1">\n <g style="fill:red">\n\t<clipPath id="c">\n <path d="M0"/></clipPath>'
    '<a xlink:href="#x"><text>T</text></a>\n <radialGradient>\n\t<stop offset="0"/></radialGradient></g>\n </svg>a<p>b</p></div></content>',
    "xhtml_svg_html": '<title>t</title><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><svg xmlns="http://www.w3.org/2000/svg">'
    "<g><p>x</p></g></svg></div></content>",
    "xhtml_svg_style": '<title>t</title><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><svg xmlns="http://www.w3.org/2000/svg">'
    "<style>p {}</style></svg></div></content>",
    "xhtml_math": '<title>t</title><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><math xmlns="http://www.w3.org/1998/Math/MathML">'
    "<mi>x</mi></math></div></content>",
    "xhtml_lang": '<title>t</title><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p lang="en">a</p></div></content>',
}


_RSS = '<rss version="2.0"><channel><title>c</title>{}</channel></rss>'
_RDF = (
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel rdf:about="http://c"><title>c</title>'
    "<dc:language>de</dc:language></channel>{}</rdf:RDF>"
)
_DOCUMENTS = {
    # where feedparser starts entries: any case, any namespace it maps to '', attributes on the item
    "upper_item": _RSS.format("<item><title>a</title></item><ITEM><title>b</title></ITEM>"),
    "item_default_ns": _RSS.format('<item><title>a</title></item><item xmlns="http://x/"><title>b</title></item>'),
    "item_rss1_ns": _RSS.format('<item><title>a</title></item><r:item xmlns:r="http://purl.org/rss/1.0/"><r:title>b</r:title></r:item>'),
    "item_about": _RSS.format(
        '<item xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" rdf:about="urn:about"><title>a</title></item>'
    ),
    "item_about_guid": _RSS.format(
        '<item xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" rdf:about="urn:about"><title>a</title>'
        "<guid>urn:g</guid></item>"
    ),
    # an empty item inside an item (FeedBurner): feedparser ends the entry there and adds an empty one
    "nested_empty": _RSS.format(
        '<item><title>a</title><link>http://a</link><item/><x:y xmlns:x="http://x/">1</x:y></item><item><title>b</title></item>'
    ),
    "nested_then_guid": _RSS.format("<item><title>a</title><item/><guid>urn:g</guid></item>"),
    "nested_then_language": _RSS.format("<item><title>a</title><item/><language>de</language></item>"),
    "nested_not_empty": _RSS.format("<item><title>a</title><item><title>b</title></item></item>"),
    "item_href": _RSS.format('<item href="http://h"><title>a</title></item>'),
    # unknown namespaces: feedparser names them by the first prefix declared for the URI
    "ns_two_prefixes": _RSS.format(
        '<item xmlns:a="http://u/" xmlns:b="http://u/"><title>t</title><b:x>1</b:x></item>'
    ),
    "ns_known_prefix_other_uri": _RSS.format(
        '<item xmlns:dc="http://not-dc/"><title>t</title><dc:creator>c</dc:creator></item>'
    ),
    "ns_prefix_rebound": _RSS.format(
        '<item xmlns:a="http://u/"><title>t</title><a:x>1</a:x></item><item xmlns:a="http://v/"><title>u</title></item>'
    ),
    # elements in namespaces feedparser does not know are skipped in C; what they contain is not
    "inert_wrapping_title": _RSS.format(
        '<item xmlns:g="http://g/"><g:x>1</g:x><title>t</title><g:wrap><g:y/><description>d</description></g:wrap></item>'
    ),
    "inert_wrapping_media_title": _RSS.format(
        '<item xmlns:g="http://g/" xmlns:media="http://search.yahoo.com/mrss/"><g:wrap><media:title>m</media:title>'
        "</g:wrap><title>t</title></item>"
    ),
    "inert_after_title": _RSS.format(
        '<item xmlns:g="http://g/" xmlns:media="http://search.yahoo.com/mrss/"><title>t</title><g:wrap>'
        "<media:title>m</media:title><g:z>1</g:z></g:wrap><g:w/></item>"
    ),
    "handler_prefix_unknown_uri": _RSS.format(
        '<item xmlns:media="http://not-media/"><title>t</title><media:title>m</media:title></item>'
    ),
    "entity_in_namespace": _RSS.format(
        '<item xmlns:g="http://g/?a=1&amp;b=2"><title>t</title><g:wrap><description>d</description></g:wrap></item>'
    ),
    "atom_inert": (
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:g="http://g/"><entry><id>i</id><title>t</title>'
        "<g:wrap><g:x>1</g:x></g:wrap><author><name>n</name><g:a>1</g:a></author></entry></feed>"
    ),
    "atom_inert_wrapping_title": (
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:g="http://g/"><entry><id>i</id>'
        "<g:wrap><title>x</title></g:wrap><title>t</title></entry></feed>"
    ),
    "rdf": _RDF.format(
        '<item rdf:about="http://a/1"><title>A &amp; B</title><link>http://a/1</link><description>d</description>'
        "<dc:date>2020-01-01T00:00:00Z</dc:date><dc:creator>Jo</dc:creator><dc:subject>s</dc:subject>"
        '<dc:publisher>p</dc:publisher><dc:rights>r</dc:rights></item><item rdf:about="http://a/2"><title>B</title></item>'
    ),
    "rdf_item_in_channel": _RDF.format("").replace("</channel>", "<item><title>x</title></item></channel>"),
    "rdf_two_channels": _RDF.format('<channel rdf:about="x"><title>c2</title></channel><item><title>x</title></item>'),
}  # fmt: skip


def _crafted() -> list[tuple[str, bytes]]:
    out = [
        (f"doc-{name}", f'<?xml version="1.0" encoding="utf-8"?>{doc}'.encode())
        for name, doc in _DOCUMENTS.items()
    ]
    for lead in ("", "\n", " \r\n\t "):
        for name, item in _RSS_ITEMS.items():
            body = (
                f'{lead}<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
                'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
                'xmlns:media="http://search.yahoo.com/mrss/"><channel><title>c</title>'
                f"<item>{item}</item><item><title>two</title><guid>urn:2</guid></item></channel></rss>"
            )
            out.append((f"rss-{name}-{len(lead)}", body.encode()))
        for name, entry in _ATOM_ENTRIES.items():
            body = (
                f'{lead}<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
                f"<title>f</title><entry><id>urn:1</id>{entry}</entry></feed>"
            )
            out.append((f"atom-{name}-{len(lead)}", body.encode()))
    return out


def test_fast_path_equals_feedparser_on_crafted_feeds() -> None:
    """Entities, CDATA, markup in plain fields, duplicate titles; also after leading whitespace,
    where feedparser's strict parser fails on the declaration and its loose parser reads the feed."""
    accepted = []
    for name, body in _crafted():
        if refusal(body, None) is None:
            accepted.append(name)
            assert _dump(parse_feed(body, SOURCE)) == _dump(parse_feed(body, SOURCE, use_fast=False)), name
    assert len([n for n in accepted if n.endswith("-0")]) >= 20
    assert {
        "doc-rdf",
        "doc-item_about",
        "doc-item_about_guid",
        "doc-inert_after_title",
        "doc-atom_inert",
    } <= set(accepted)
    assert not {
        "doc-inert_wrapping_title",
        "doc-inert_wrapping_media_title",
        "doc-entity_in_namespace",
    } & set(accepted)
    # after whitespace only markup-free feeds are read by the fast path (with feedparser's warning)
    assert {"rss-whitespace-1", "rss-quotes_literal-1", "rss-hrefs-1", "rss-cdata-1"} <= set(accepted)
    assert not {"rss-guid-1", "rss-quotes_refs-1", "rss-quotes_ref_link-1"} & set(accepted)
    assert parse_feed(dict(_crafted())["rss-whitespace-5"], SOURCE).warnings == [
        "feed is not well-formed (SAXParseException: <unknown>:3:2: XML or text declaration not at start of"
        " entity); read what could be read"
    ]


@pytest.mark.parametrize(
    "body",
    [
        # entity declarations are never expanded by the fast path: feedparser (and its rules) decide
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "y">]><rss version="2.0"><channel>'
        b"<item><title>&x;</title></item></channel></rss>",
        b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd"><rss version="2.0"><channel>'
        b"<item><title>a</title></item></channel></rss>",
        b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd" [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<rss version="2.0"><channel><item><title>&x;</title></item></channel></rss>',
        b'<?xml version="1.0" encoding="utf-16"?><!DOCTYPE r [<!ENTITY x "y">]><rss version="2.0"><channel>'
        b"<item><title>&x;</title></item></channel></rss>",
        "<?xml version='1.0' encoding='utf-16'?><!DOCTYPE r [<!ENTITY x 'y'>]><rss version='2.0'><channel>"
        "<item><title>&x;</title></item></channel></rss>".encode("utf-16"),
        # not well-formed
        b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>a</item></channel></rss>',
        # RSS 1.0, xml:base, MathML in xhtml content, media:title before the title (its title rule is not reproduced)
        b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>',
        b'<?xml version="1.0"?><rss version="2.0" xml:base="http://a/"><channel><item><title>a</title>'
        b"</item></channel></rss>",
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry><id>a</id>'
        b'<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><m:math xmlns:m="http://www.w3.org/1998/Math/MathML"/>'
        b"a</div></title></entry></feed>",
        b'<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
        b"<item><media:title>b</media:title><title>a</title></item></channel></rss>",
    ],
)
def test_fast_path_steps_aside(body: bytes) -> None:
    assert fast_entries(body, None) is None


def test_content_markup_like_feedparser() -> None:
    """Every tag nh3 allows, with every attribute it allows, closed, unclosed and inside <p>: the fast
    path's content (nh3 alone) equals feedparser's (its sanitiser, then nh3); also after leading
    whitespace, where feedparser reads the feed with its loose parser."""
    attributes = nh3.ALLOWED_ATTRIBUTES
    differing = []
    for tag, lead in itertools.product(sorted(nh3.ALLOWED_TAGS), ("", "\n")):
        attrs = " ".join(
            f'{a}="v{i}"'
            for i, a in enumerate(sorted(attributes.get(tag, set()) | attributes.get("*", set())))
        )
        for fragment in (
            f"<{tag} {attrs}>x</{tag}> after",
            f"<{tag} {attrs}>x after",
            f"<p>a<{tag}>b</{tag}></p>",
        ):
            body = (
                f'{lead}<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
                'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><item><title>t</title>'
                f"<content:encoded><![CDATA[{fragment}]]></content:encoded></item></channel></rss>"
            ).encode()
            assert refusal(body, None) is None
            if _dump(parse_feed(body, SOURCE)) != _dump(parse_feed(body, SOURCE, use_fast=False)):
                differing.append(fragment)
    assert differing == []
    applet = b"<rss><channel><item><title>t</title><description>&lt;applet&gt;a&lt;/applet&gt;</description></item></channel></rss>"
    assert refusal(applet, None) == "applet in HTML (feedparser's sanitiser drops its content)"


@pytest.mark.parametrize(
    "content_type",
    [None, "application/xml", "application/rss+xml; charset=utf-8", "application/atom+xml; charset=UTF-8", "text/xml",
     "Application/XML", "application/xml; charset=iso-8859-1", "text/html"],
)  # fmt: skip
def test_utf8_shortcut_is_feedparsers_conversion(corpus: Path, content_type: str | None) -> None:
    """fastfeed._to_utf8 gives convert_to_utf8's bytes, encoding and bozo on every corpus feed and
    crafted declarations (the shortcut is taken for most of them, feedparser's function for the rest)."""
    bodies = [path.read_bytes() for path in _files(corpus)] + [
        b'<?xml version="1.0"?><rss/>',
        b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n<rss/>",
        b'<?xml version="1.0" encoding = "utf-8"?><rss/>',
        b'<?xml version="1.0" encoding="utf8"?><rss/>',
        b"<rss>caf\xc3\xa9</rss>",
        b"<rss>caf\xe9</rss>",
        b'<?xml version="1.0" encoding="utf-8"?><rss>\xed\xa0\x80</rss>',
        b"\n<?xml version='1.0'?><rss/>",
        b"\xef\xbb\xbf<rss/>",
        b"\xef\xbb\xbf<?xml version='1.0' encoding='utf-8'?>\n<rss>caf\xc3\xa9</rss>",
        b'\xef\xbb\xbf<?xml version="1.0"?><rss/>',
        b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?><rss>caf\xe9</rss>',
        b'\xef\xbb\xbf<?xml version="1.0" encoding="iso-8859-1"?><rss>caf\xe9</rss>',
        b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-16"?><rss/>',
        b"\xef\xbb\xbf\xef\xbb\xbf<rss/>",
        b"\xef\xbb\xbf\xff\xfe<\x00r\x00/\x00>\x00",
        b"\xef\xbb\xbf\n<?xml version='1.0'?><rss/>",
    ]
    headers = {"content-type": content_type} if content_type else {}
    for body in bodies:
        expected: dict = {}
        data = convert_to_utf8(headers, body, expected)
        got, result = _to_utf8(body, content_type)
        assert got == data
        assert result.get("encoding") == expected.get("encoding")
        assert repr(result.get("bozo_exception")) == repr(expected.get("bozo_exception"))


_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*\?>")


def _mutations(body: bytes) -> list[tuple[str, bytes, str | None]]:
    """The same feed behind a BOM, whitespace, a DOCTYPE without entities, a comment and PI, in
    windows-1252 and UTF-16 (declared), and under a content type that names another charset."""
    head = _DECLARATION.match(body)
    rest = body[head.end() :] if head else body
    decl = head.group(0).strip() if head else b""
    out = [
        ("bom", b"\xef\xbb\xbf" + body, None),
        ("whitespace", b"\r\n  " + body, None),
        (
            "doctype",
            decl + b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "x.dtd">' + rest,
            None,
        ),
        ("comment_pi", decl + b"<!-- c --><?pi x?>" + rest, None),
        ("content_type", body, "application/rss+xml; charset=utf-8"),
    ]
    try:
        text = rest.decode("utf-8")
        out.append(("cp1252", b'<?xml version="1.0" encoding="windows-1252"?>' + text.encode("cp1252"), None))
        out.append(("utf16", ('<?xml version="1.0" encoding="utf-16"?>' + text).encode("utf-16"), None))
        out.append(("latin1_header", rest, "application/xml; charset=iso-8859-1"))
    except UnicodeError:
        pass
    return out


def test_fast_path_equals_feedparser_on_mutated_corpus_feeds(corpus: Path) -> None:
    """Every real-world corpus feed, changed in ways that only its bytes or prologue differ: where
    the fast path reads a variant, items, errors and warnings equal feedparser's."""
    accepted, differing = 0, []
    paths = sorted((corpus / "rss_atom").glob("*.xml")) + sorted(
        (ROOT / "crawlers" / "samples" / "feeds").glob("*.xml")
    )
    for path in paths:
        for name, body, content_type in _mutations(path.read_bytes()):
            body = _undeclared_utf16(body)
            if refusal(body, content_type) is not None:
                continue
            accepted += 1
            fast = _dump(parse_feed(body, SOURCE, content_type))
            if fast != _dump(parse_feed(body, SOURCE, content_type, use_fast=False)):
                differing.append(f"{path.name}:{name}")
    assert differing == []
    assert accepted >= 150


def test_a_fast_path_bug_falls_back_to_feedparser(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Fault injection: an unexpected error inside the fast path costs speed, never the feed
    (refusal(), which the tests above use, lets such an error through so they fail on it)."""
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>A</title><guid>urn:a</guid></item></channel></rss>'

    def broken(_: object, __: object = None) -> None:
        raise KeyError("bug")

    monkeypatch.setattr(fastfeed, "_rss_entry", broken)
    with caplog.at_level("WARNING", logger="innonet.feed"):
        outcome = parse_feed(body, SOURCE)
    assert [item.title for item in outcome.items] == ["A"]
    assert "feed fast path failed" in caplog.text
    with pytest.raises(KeyError):
        refusal(body, None)


def test_the_applet_search_is_the_lower_cased_substring_test() -> None:
    """``fastfeed._APPLET`` finds "<applet" in any case exactly where ``"<applet" in text.lower()`` does:
    no character but these ASCII letters and '<' lower-cases to text that contains one of them."""
    others = [chr(i) for i in range(sys.maxunicode + 1) if chr(i) not in "<APLETaplet"]
    assert not [c for c in others if set(c.lower()) & set("<aplet")]
    for text in ("<APPLET code=x>", "<aPpLeT>", "< applet", "<applet", "x<Applet", "<appl et", "‹applet"):
        assert (fastfeed._APPLET.search(text) is not None) == ("<applet" in text.lower()), text


def _sorted_attributes_reference(clean_html: str) -> str:
    """sorted_attributes as first written: every tag with attributes rebuilt from its sorted list."""

    def sort_tag(match: re.Match[str]) -> str:
        attrs = re.findall(r' ([^\s="<>/]+)="([^"]*)"', match.group(2))
        if len(attrs) < 2:
            return match.group(0)
        rel = [a for a in attrs if a[0] == "rel"]
        ordered = sorted(a for a in attrs if a[0] != "rel") + rel
        return "<" + match.group(1) + "".join(f' {k}="{v}"' for k, v in ordered) + match.group(3) + ">"

    return re.sub(r'<([a-zA-Z][a-zA-Z0-9]*)((?: [^\s="<>/]+="[^"]*")+)(\s*/?)>', sort_tag, clean_html)


def test_sorted_attributes_rebuilds_only_tags_out_of_order() -> None:
    attrs = ['href="http://x"', 'title="t"', 'alt="a b"', 'src="s"', 'rel="noopener noreferrer"', 'class=""']
    tags = [
        f"<{name} {' '.join(chosen)}{end}>text</{name}>"
        for name in ("a", "img", "p")
        for n in (1, 2, 3)
        for chosen in itertools.permutations(attrs, n)
        for end in ("", " /")
    ]
    for html in [*tags, "".join(tags), "<br>", "a=b", ""]:
        cleaned = nh3.clean(html)
        for value in (html, cleaned):
            assert fastfeed.sorted_attributes(value) == (
                _sorted_attributes_reference(value) if value else value
            )
