"""Fast path for the common feed: plain UTF-8 RSS 2.0 or Atom 1.0, read with lxml.

feedparser (crawlers/platforms/feed.py) costs ~1.3 ms per item, mostly its pure-Python SAX
handlers and its HTML sanitiser; the items it produces are then sanitised again with nh3 anyway.
This module reads the same fields from an lxml tree and reproduces feedparser's rules for each
field we keep (which element wins, guid-as-link, the category/tag rules, author e-mail stripping,
its utf-8/latin-1 and cp1252 text fixes, its own date parser), so ``parse_feed`` returns the same
RawItems. It is deliberately narrow: ``fast_entries`` returns None (and the caller uses feedparser)
for anything it does not fully understand — not UTF-8, a DOCTYPE or entity declaration (never
expanded: defusedxml's rule), xml:base, xml:lang outside an Atom root, malformed XML, RSS 0.9x/1.0,
Atom 0.3, xhtml or out-of-line content, and any element inside an item that feedparser has a
handler for but this module does not reproduce (media:title, itunes:summary, atom:link in RSS, ...).
tests/crawlers/test_feed_fastpath.py parses every corpus feed both ways and requires equal items.
Why not fastfeedparser: it normalises dates (the raw string, which we store, is lost) and
synthesises ids and descriptions, so its entries cannot give feedparser's RawItems.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from feedparser.api import StrictFeedParser
from feedparser.datetimes import _parse_date
from feedparser.mixin import _cp1252, _FeedParserMixin
from lxml import etree

__all__ = ["fast_entries", "sorted_attributes"]

ATOM = "http://www.w3.org/2005/Atom"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_HANDLERS = frozenset(name[7:] for name in dir(StrictFeedParser) if name.startswith("_start_"))
# lower-cased namespace URI -> feedparser prefix (filled per instance, so ask an instance)
_PREFIXES: dict[str, str] = dict(StrictFeedParser("", None, "utf-8")._matchnamespaces)
_DECL = re.compile(rb"^<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_EMAIL = re.compile(
    r"""(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"""
)
_LINK_ENTITY = re.compile("&([A-Za-z0-9_]+);")
# Elements inside an item that feedparser handles without touching a field we read.
_HARMLESS = frozenset(
    {"comments", "enclosure", "source", "media_content", "media_thumbnail", "media_credit", "media_player", "itunes_subtitle",
     "itunes_image", "georss_point", "georss_where", "georss_line", "georss_polygon", "georss_box"}
) | {name for name in _HANDLERS if name.startswith("gml_")}  # fmt: skip
_HTML_TYPES = {"text/html", "application/xhtml+xml"}
_ATOM_TYPES = {None: "text/plain", "text": "text/plain", "html": "text/html", "text/plain": "text/plain", "text/html": "text/html"}  # fmt: skip
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


_START_TAG = re.compile(r'<([a-zA-Z][a-zA-Z0-9]*)((?: [^\s="<>/]+="[^"]*")+)(\s*/?)>')
_ATTR = re.compile(r' ([^\s="<>/]+)="([^"]*)"')


def _sort_tag(match: re.Match[str]) -> str:
    attrs = _ATTR.findall(match.group(2))
    if len(attrs) < 2:
        return match.group(0)
    rel = [a for a in attrs if a[0] == "rel"]
    ordered = sorted(a for a in attrs if a[0] != "rel") + rel
    return "<" + match.group(1) + "".join(f' {k}="{v}"' for k, v in ordered) + match.group(3) + ">"


def sorted_attributes(clean_html: str | None) -> str | None:
    """nh3 output with each tag's attributes in feedparser's order (sorted by name and value).

    feedparser's sanitiser sorts attributes before nh3 sees them; nh3 keeps the order it gets and
    appends its own rel="noopener noreferrer" last. Only for nh3 output: there every attribute is
    written as name="value" with quotes escaped, so a regex reads the tags exactly.
    """
    if not clean_html or "=" not in clean_html:
        return clean_html
    return _START_TAG.sub(_sort_tag, clean_html)


# every element feedparser starts an entry at (_start_item/_start_entry), in any position
_ENTRY_TAGS = ("item", "entry", f"{{{ATOM}}}item", f"{{{ATOM}}}entry")
_looks_like_html = _FeedParserMixin.looks_like_html


class _Fallback(Exception):
    """The feed is outside what this module reproduces exactly: use feedparser."""


def _text(value: str | None) -> str:
    """feedparser's treatment of element text in a UTF-8 document (mixin.pop)."""
    out = (value or "").strip()
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        out = out.encode("iso-8859-1").decode("utf-8")
    return out.translate(_cp1252)


def _leaf(el: Any) -> str:
    if len(el):
        raise _Fallback(f"element {el.tag} has child elements")
    return _text(el.text)


def _name(el: Any) -> str:
    """feedparser's handler name for an element: prefix_localname, lower-cased."""
    qname = etree.QName(el)
    local = qname.localname.lower()
    if not qname.namespace:
        return local
    prefix = _PREFIXES.get(qname.namespace.lower(), el.prefix or "")
    return f"{prefix.lower()}_{local}" if prefix else local


def _check_descendants(el: Any, allowed: frozenset[str]) -> None:
    for child in el.iterdescendants():
        if not isinstance(child.tag, str):
            continue
        name = _name(child)
        if name in _HANDLERS and name not in allowed:
            raise _Fallback(f"element {child.tag} needs feedparser")


def _author_name(author: str) -> str | None:
    """feedparser's _sync_author_detail for a bare author string: drop the e-mail address."""
    if not author:
        return None
    match = _EMAIL.search(author)
    if match:
        author = (
            author.replace(match.group(0), "").replace("()", "").replace("<>", "").replace("&lt;&gt;", "")
        )
        author = author.strip()
        if author and author[0] == "(":
            author = author[1:]
        if author and author[-1] == ")":
            author = author[:-1]
        author = author.strip()
    return author or None


def _add_tag(tags: list[tuple[Any, Any, Any]], term: Any, scheme: Any, label: Any) -> None:
    """feedparser's _add_tag: (term, scheme, label) once per item."""
    if not (term or scheme or label):
        return
    if (term, scheme, label) not in tags:
        tags.append((term, scheme, label))


def _end_category(tags: list[tuple[Any, Any, Any]], value: str) -> None:
    """feedparser's _end_category: the text names the last tag if it has no term yet."""
    if not value:
        return
    if tags and not tags[-1][0]:
        tags[-1] = (value, tags[-1][1], tags[-1][2])
    else:
        _add_tag(tags, value, None, None)


_RSS_ITEM = frozenset(
    {"title", "description", "link", "guid", "pubdate", "published", "updated", "category", "author",
     "dc_creator", "dc_author", "itunes_author", "dc_date", "content_encoded", "summary", "itunes_summary",
     "dc_subject", "language", "dc_language"}
) | _HARMLESS  # fmt: skip


def _rss_entry(item: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"authors": [], "tags": []}
    seen: set[str] = set()
    for child in item:
        if not isinstance(child.tag, str):
            continue
        if len(child):
            _check_descendants(child, _HARMLESS)
        name = _name(child)
        if name not in _RSS_ITEM:
            if name in _HANDLERS:
                raise _Fallback(f"item element {child.tag} needs feedparser")
            continue
        if name in _HARMLESS:
            continue
        if name == "title" and name in seen:
            raise _Fallback("item has two titles")
        seen.add(name)
        if name == "link":
            if child.attrib:
                raise _Fallback("RSS link with attributes")
            value = _LINK_ENTITY.sub(r"&\g<1>", _leaf(child).replace("&amp;", "&"))
            entry["link"] = value
        elif name == "guid":
            value = _leaf(child)
            entry["id"] = value
            if child.get("isPermaLink", child.get("ispermalink", "true")) == "true":
                entry.setdefault("link", value)
        elif name == "title":
            entry["title"] = _leaf(child)
        elif name in ("description", "summary", "itunes_summary", "content_encoded"):
            _rss_text_block(entry, name, _leaf(child))
        elif name in ("pubdate", "published"):
            entry["published"] = _leaf(child)
        elif name in ("dc_date", "updated"):
            entry["updated"] = _leaf(child)
        elif name in ("author", "dc_creator", "dc_author", "itunes_author"):
            entry["authors"].append(_author_name(_leaf(child)))
        elif name in ("category", "dc_subject"):
            _add_tag(entry["tags"], None, child.get("domain"), None)
            _end_category(entry["tags"], _leaf(child))
        elif name in ("language", "dc_language"):
            entry["language"] = _leaf(child)
    entry.pop("has_content", None)
    return entry


def _rss_text_block(entry: dict[str, Any], name: str, value: str) -> None:
    """feedparser's summary/content rules (_start_description, _start_summary, _end_content).

    A description or summary that arrives when the item already has a summary (and no content yet)
    becomes content; content:encoded sets content and, if there is no summary yet, the summary.
    Content that feedparser keeps as text/plain is not sanitised by it, so its attributes keep
    their order ("content_sorted").
    """
    if name == "content_encoded":
        entry["has_content"] = True
        entry.setdefault("content", value)
        entry.setdefault("content_sorted", True)
        entry.setdefault("summary", value)
    elif "summary" in entry and not entry.get("has_content"):
        entry["has_content"] = True
        entry.setdefault("content", value)
        entry.setdefault("content_sorted", _looks_like_html(value))
        entry.setdefault("summary", value)
    else:
        entry["summary"] = value


_ATOM_AUTHOR = frozenset({"name", "email", "uri"})


def _atom_content(el: Any) -> str:
    kind = el.get("type")
    if kind not in _ATOM_TYPES or el.get("src") is not None or el.get("mode") is not None:
        raise _Fallback(f"atom {el.tag} of type {kind}")
    return _leaf(el)


def _atom_entry(node: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"authors": [], "tags": []}
    seen: set[str] = set()
    for child in node:
        if not isinstance(child.tag, str):
            continue
        name = _name(child)
        if name in ("title", "summary", "content", "id") and name in seen:
            raise _Fallback(f"entry has two {name} elements")
        seen.add(name)
        if name == "id":
            value = _leaf(child)
            entry["id"] = value
            entry.setdefault("link", value)
        elif name == "title":
            entry["title"] = _atom_content(child)
        elif name == "summary":
            entry["summary"] = _atom_content(child)
        elif name == "content":
            value = _atom_content(child)
            entry["content"] = value
            entry["content_sorted"] = _ATOM_TYPES[child.get("type")] == "text/html"
            entry.setdefault("summary", value)
        elif name == "link":
            _leaf(child)
            href = child.get("href")
            if href is None:
                raise _Fallback("atom link without href")
            rel, kind = child.get("rel", "alternate"), child.get("type")
            if rel != rel.lower() or (kind and kind != kind.lower()):
                raise _Fallback("atom link rel/type not lower-case")
            if rel == "alternate" and (kind or "text/html") in _HTML_TYPES:
                entry["link"] = href
        elif name in ("published", "updated"):
            entry[name] = _leaf(child)
        elif name == "author":
            names = []
            for part in child:
                if not isinstance(part.tag, str):
                    continue
                part_name = _name(part)
                if part_name not in _ATOM_AUTHOR:
                    if part_name in _HANDLERS:
                        raise _Fallback(f"author element {part.tag}")
                    continue
                if part_name == "name":
                    if len(part):
                        raise _Fallback("author name with children")
                    names.append((part.text or "").strip())
            if len(names) > 1:
                raise _Fallback("author with two names")
            entry["authors"].append(names[0] if names else None)
        elif name == "category":
            _add_tag(
                entry["tags"], child.get("term"), child.get("scheme", child.get("domain")), child.get("label")
            )
            _end_category(entry["tags"], _leaf(child))
        elif name in _HARMLESS or name in ("contributor", "rights"):
            if len(child):
                _check_descendants(child, _ATOM_AUTHOR | _HARMLESS)
        elif name in _HANDLERS:
            raise _Fallback(f"entry element {child.tag} needs feedparser")
    return entry


def _prepare(body: bytes, content_type: str | None) -> bytes:
    if content_type:
        media, _, params = content_type.partition(";")
        media = media.strip().lower()
        charset = re.search(r"charset\s*=\s*\"?([^\";\s]+)", params, re.I)
        if charset and charset.group(1).lower() not in ("utf-8", "utf8"):
            raise _Fallback("charset is not utf-8")
        if media.startswith("text/") and not charset:
            raise _Fallback("text/* without charset (feedparser assumes us-ascii)")
        if "xml" not in media:
            raise _Fallback(f"content type {media}")
    start = body[3:4] if body.startswith(b"\xef\xbb\xbf") else body[:1]
    if start != b"<" or b"\x00" in body[:200]:
        raise _Fallback("does not start with '<' (or UTF-16/32)")
    head = _DECL.match(body[3:200] if body.startswith(b"\xef\xbb\xbf") else body[:200])
    declared = head.group(1).lower() if head else b"utf-8"
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body or b"xml:base" in body:
        raise _Fallback("DOCTYPE, entity declaration or xml:base")
    if declared in (b"iso-8859-1", b"latin-1", b"latin1") and not body.startswith(b"\xef\xbb\xbf"):
        if content_type and "charset" in content_type.lower():
            raise _Fallback("declared iso-8859-1 and a charset in the content type")
        return body  # decoded by libxml2 exactly as Python's codec does (one byte, one code point)
    if declared not in (b"utf-8", b"utf8"):
        raise _Fallback("declared encoding is not utf-8 or iso-8859-1")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Fallback("not valid UTF-8") from exc
    return body


def fast_entries(body: bytes, content_type: str | None) -> tuple[list[dict[str, Any]], str | None] | None:
    """(entries as feedparser would give them, feed language), or None when feedparser must read it.

    Each entry has the keys feed.py reads: id, link, title, summary, content (a string), published,
    published_parsed, updated, updated_parsed, language, authors (names or None), tags (terms or None).
    """
    try:
        root = etree.fromstring(_prepare(body, content_type), _PARSER)
    except (_Fallback, etree.XMLSyntaxError, ValueError):
        return None
    try:
        if root.tag == "rss" and root.get("version") == "2.0":
            if b"xml:lang" in body:
                return None
            channels = [c for c in root if c.tag == "channel"]
            if len(channels) != 1 or sum(1 for _ in root.iter(*_ENTRY_TAGS)) != len(
                channels[0].findall("item")
            ):
                return None
            language = None
            for child in channels[0]:
                if isinstance(child.tag, str) and _name(child) in ("language", "dc_language"):
                    language = _leaf(child)
            entries = [_rss_entry(item) for item in channels[0].iterchildren("item")]
        elif root.tag == f"{{{ATOM}}}feed":
            if body.count(b"xml:lang") != (1 if root.get(_XML_LANG) is not None else 0):
                return None
            entry_tag = f"{{{ATOM}}}entry"
            found = root.findall(entry_tag)
            if sum(1 for _ in root.iter(*_ENTRY_TAGS)) != len(found):
                return None
            lang = root.get(_XML_LANG)
            language = lang.replace("_", "-") if lang else None
            entries = [_atom_entry(node) for node in found]
        else:
            return None
    except _Fallback:
        return None
    for entry in entries:
        entry["tags"] = [term for term, _, _ in entry["tags"]]
        entry.setdefault("content_sorted", False)
        for key in ("published", "updated"):
            if key in entry:
                entry[f"{key}_parsed"] = _parse_date(entry[key])
    return entries, language
