"""Fast path for the common feed: RSS (any version, 0.90/1.0 as RDF) and Atom 1.0, read with lxml.

feedparser (crawlers/platforms/feed.py) costs ~1.3 ms per item, mostly its pure-Python SAX
handlers and its HTML sanitiser; the items it produces are then sanitised again with nh3 anyway.
This module reads the same fields from an lxml tree and reproduces feedparser's rules for each
field we keep (which element wins, guid-as-link, rdf:about, the category/tag rules, author e-mail
stripping, its utf-8/latin-1 and cp1252 text fixes, its own date parser, its sanitiser's tag list
and href rule), so ``parse_feed`` returns the same RawItems, warnings included. Bytes are decoded by
feedparser's own ``convert_to_utf8`` (any encoding it reads) and a DOCTYPE without entities is
removed by its ``replace_doctype``. It is deliberately narrow: ``fast_entries`` returns None (and
the caller uses feedparser; ``refusal`` says why) for anything it does not fully understand — an
entity declaration (never expanded: defusedxml's rule), xml:base, xml:lang outside an Atom root,
malformed XML, Atom 0.3, out-of-line or SVG-carrying xhtml content, feeds feedparser would read
with its loose parser unless their plain fields are free of markup characters, and any element
inside an item that feedparser has a handler for but this module does not reproduce
(itunes:summary, atom:link in RSS, media:group, ...).
tests/crawlers/test_feed_fastpath.py parses every corpus feed and many crafted ones both ways and
requires equal items. Why not fastfeedparser: it normalises dates (the raw string, which we store,
is lost) and synthesises ids and descriptions, so its entries cannot give feedparser's RawItems.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import itertools
import logging
import re
from typing import Any
from xml.sax import SAXParseException

import nh3
from feedparser import encodings
from feedparser.api import StrictFeedParser
from feedparser.encodings import convert_to_utf8
from feedparser.mixin import _cp1252, _FeedParserMixin
from feedparser.sanitizer import _HTMLSanitizer, replace_doctype
from feedparser.urls import make_safe_absolute_uri
from lxml import etree

from crawlers.platforms.feeddates import feed_date

__all__ = [
    "blank_unsafe_hrefs",
    "fast_entries",
    "feedparser_markup",
    "nh3_options",
    "refusal",
    "sorted_attributes",
]

log = logging.getLogger("innonet.feed")

ATOM = "http://www.w3.org/2005/Atom"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RDF_ABOUT = f"{{{RDF}}}about"
_HANDLERS = frozenset(name[7:] for name in dir(StrictFeedParser) if name.startswith("_start_"))
# lower-cased namespace URI -> feedparser prefix (filled per instance, so ask an instance)
_PREFIXES: dict[str, str] = dict(StrictFeedParser("", None, "utf-8")._matchnamespaces)
_EMAIL = re.compile(
    r"""(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"""
)
_LINK_ENTITY = re.compile("&([A-Za-z0-9_]+);")
# Elements inside an item that feedparser handles without touching a field we read.
_HARMLESS = frozenset(
    {"comments", "enclosure", "source", "dc_publisher", "webmaster", "dc_rights", "rights", "media_content", "media_thumbnail", "media_credit", "media_player", "itunes_subtitle",
     "itunes_image", "georss_point", "georss_where", "georss_line", "georss_polygon", "georss_box"}
) | {name for name in _HANDLERS if name.startswith("gml_")}  # fmt: skip
_HARMLESS_TITLED = _HARMLESS | {"media_title"}
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


# a start tag with two or more attributes (one alone is in order already)
_START_TAG = re.compile(r'<([a-zA-Z][a-zA-Z0-9]*)((?: [^\s="<>/]+="[^"]*"){2,})(\s*/?)>')
_ATTR = re.compile(r' ([^\s="<>/]+)="([^"]*)"')


def _sort_tag(match: re.Match[str]) -> str:
    written = match.group(2)
    # Two attributes (each has exactly one '="' then: values hold no '"' and, here, end in no '='),
    # the second nh3's rel: in order as written (the common <a href=".." rel="..">).
    if written.count('="') == 2 and '" rel="' in written and not written.startswith(' rel="'):
        return match.group(0)
    attrs = _ATTR.findall(written)
    rel = [a for a in attrs if a[0] == "rel"]
    ordered = sorted(a for a in attrs if a[0] != "rel") + rel
    if ordered == attrs:  # the tag as written is what joining them would give
        return match.group(0)
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


# an href attribute in HTML: name, then a double-quoted, single-quoted or unquoted value
_HREF = re.compile(r"""(?i)(\shref\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""")


def _blank_href(match: re.Match[str]) -> str:
    value = (
        match.group(2)
        if match.group(2) is not None
        else match.group(3)
        if match.group(3) is not None
        else match.group(4)
    )
    # http(s) without brackets: urlparse's scheme is http(s) and it cannot raise, so feedparser keeps it
    if value.startswith(("http://", "https://")) and "[" not in value and "]" not in value:
        return match.group(0)
    if make_safe_absolute_uri(value):
        return match.group(0)
    return match.group(1) + '""'


def blank_unsafe_hrefs(fragment: str | None) -> str | None:
    """feedparser's sanitiser rule for href: a scheme outside its list (javascript:, data:, tel: ...) becomes "".

    nh3 drops such an href (or keeps tel: and the like), feedparser keeps href=""; applied to the
    HTML feedparser would have sanitised, before nh3, so both paths give the same markup.
    """
    if not fragment or "href" not in fragment.lower():
        return fragment
    return _HREF.sub(_blank_href, fragment)


_NH3_ONLY = sorted(nh3.ALLOWED_TAGS - set(_HTMLSanitizer.acceptable_elements))
# tags feedparser's sanitiser drops (keeping their text) that nh3 would keep, and </br> (which
# feedparser ignores and an HTML parser reads as <br>)
_DROPPED_TAGS = re.compile(rf"(?i)</?(?:{'|'.join(_NH3_ONLY)})\b[^>]*>|</br\s*>")


def feedparser_markup(fragment: str | None) -> str | None:
    """HTML feedparser would sanitise, prepared so nh3 alone gives what feedparser + nh3 give.

    Removes the tags feedparser drops and nh3 allows (mark, ruby, wbr, summary, ... : dropped
    before nh3 parses, so a block tag no longer closes an open <p>), and blanks hrefs feedparser
    blanks (``blank_unsafe_hrefs``). Call nh3 with ``nh3_options()``.
    """
    if not fragment or "<" not in fragment:
        return fragment
    return blank_unsafe_hrefs(_DROPPED_TAGS.sub("", fragment))


def nh3_options() -> dict[str, Any]:
    """nh3.clean options for ``feedparser_markup`` output (feeds with <applet>, whose content
    feedparser's sanitiser drops and nh3 keeps, are refused by the fast path)."""
    return {"tags": nh3.ALLOWED_TAGS - set(_NH3_ONLY)}


# every element feedparser starts an entry at (_start_item/_start_entry), in any position
# every element whose local name is item or entry in any case, in any or no namespace: feedparser
# starts an entry at those its name rules call "item"/"entry" (_check_entries compares them with
# the elements read here); lxml matches these tag patterns in C
_ENTRY_CANDIDATES = tuple(
    "{*}" + "".join(variant)
    for word in ("item", "entry")
    for variant in itertools.product(*((c, c.upper()) for c in word))
)
_ITEM_CANDIDATES = tuple(tag for tag in _ENTRY_CANDIDATES if tag[3:].lower() == "item")
_looks_like_html = _FeedParserMixin.looks_like_html


class _Fallback(Exception):
    """The feed is outside what this module reproduces exactly: use feedparser."""


_C1 = re.compile("[\x80-\x9f]")  # the only code points feedparser's _cp1252 table maps
assert all(0x80 <= point <= 0x9F for point in _cp1252)


def _text(value: str | None) -> str:
    """feedparser's treatment of element text in a UTF-8 document (mixin.pop).

    ASCII text is returned as is: the latin-1/UTF-8 round trip and the cp1252 table leave it
    unchanged, and most feed text is ASCII.
    """
    out = (value or "").strip()
    if out.isascii():
        return out
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        out = out.encode("iso-8859-1").decode("utf-8")
    return out.translate(_cp1252) if _C1.search(out) else out


def _leaf(el: Any) -> str:
    if len(el):
        raise _Fallback(f"element {el.tag} has child elements")
    return _text(el.text)


# Clark tag ({namespace}local or local) -> feedparser's handler name; "" for a namespace feedparser
# does not know (the document's prefix decides). Bounded: cleared when full.
_NAMES: dict[str, str] = {}


def _name(el: Any) -> str:
    """feedparser's handler name for an element: prefix_localname, lower-cased."""
    tag = el.tag
    name = _NAMES.get(tag)
    if name:
        return name
    if name is None:
        namespace, _, local = tag[1:].partition("}") if tag[:1] == "{" else ("", "", tag)
        lower = namespace.lower()
        if "backend.userland.com/rss" in lower:  # feedparser: any of these is .../rss
            lower = "http://backend.userland.com/rss"
        known = _PREFIXES.get(lower) if namespace else ""
        name = "" if known is None else f"{known.lower()}_{local.lower()}" if known else local.lower()
        if len(_NAMES) >= 4096:
            _NAMES.clear()
        _NAMES[tag] = name
        if name:
            return name
    return _unknown_name(tag, el.prefix or "")


@functools.lru_cache(maxsize=4096)
def _unknown_name(tag: str, prefix: str) -> str:
    """The name of an element in a namespace feedparser does not know: the document's prefix."""
    local = tag.rpartition("}")[2].lower()
    return f"{prefix.lower()}_{local}" if prefix else local


class _Walk:
    """The elements of one document that could be feedparser handlers, found without asking lxml
    for the tag of elements in "inert" namespaces.

    An inert namespace is one feedparser does not know, bound in the document to exactly one prefix
    that starts no handler name (gdacs:, geo:, ...): feedparser names its elements prefix_local,
    never a handler. Asking lxml for an element's tag builds a string and costs about as much as
    everything else this module does with it; lxml's tag patterns ({}* and {uri}* for every other
    namespace declared) skip inert elements in C.
    """

    def __init__(self, patterns: tuple[str, ...] | None) -> None:
        self.patterns = patterns

    def descendants(self, el: Any) -> Any:
        return el.iterdescendants(*self.patterns) if self.patterns else el.iterdescendants()


_NO_WALK = _Walk(None)


@functools.lru_cache(maxsize=256)
def _walk(patterns: tuple[str, ...] | None) -> _Walk:
    return _Walk(patterns)


@functools.lru_cache(maxsize=1024)
def _prefix_starts_a_handler(prefix: str) -> bool:
    return any(name.startswith(f"{prefix.lower()}_") for name in _HANDLERS)


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
     "dc_subject", "language", "dc_language", "dcterms_issued", "dcterms_modified", "dcterms_created", "expirationdate"}
) | _HARMLESS  # fmt: skip


def _entry_start(node: Any) -> dict[str, Any]:
    """feedparser's _start_item/_start_entry: rdf:about is the id; CDF href/lastmod are refused."""
    entry: dict[str, Any] = {"authors": [], "tags": []}
    for key in node.attrib:
        local = key.rpartition("}")[2].lower()
        if local in ("href", "lastmod"):
            raise _Fallback(f"entry attribute {key}")
    about = node.get(_RDF_ABOUT)
    if about:
        entry["id"] = about
    return entry


# what _rss_entry does with a child of an item, by feedparser name (a name absent here is not in
# _RSS_ITEM: ignored, or refused if feedparser has a handler for it)
_SKIP, _LINK, _GUID, _TITLE, _TEXT_BLOCK, _EXPIRES, _PUBLISHED, _CREATED, _UPDATED, _AUTHOR, _CATEGORY, _LANGUAGE = range(12)  # fmt: skip
_RSS_ACTIONS: dict[str, int] = {
    **dict.fromkeys(_HARMLESS, _SKIP),
    "link": _LINK, "guid": _GUID, "title": _TITLE,
    **dict.fromkeys(("description", "summary", "itunes_summary", "content_encoded"), _TEXT_BLOCK),
    "expirationdate": _EXPIRES,
    **dict.fromkeys(("pubdate", "published", "dcterms_issued"), _PUBLISHED),
    "dcterms_created": _CREATED,
    **dict.fromkeys(("dc_date", "updated", "dcterms_modified"), _UPDATED),
    **dict.fromkeys(("author", "dc_creator", "dc_author", "itunes_author"), _AUTHOR),
    **dict.fromkeys(("category", "dc_subject"), _CATEGORY),
    **dict.fromkeys(("language", "dc_language"), _LANGUAGE),
}  # fmt: skip
assert _RSS_ACTIONS.keys() == _RSS_ITEM


def _rss_entry(item: Any, walk: _Walk = _NO_WALK) -> dict[str, Any]:
    entry = _entry_start(item)
    # feedparser keeps the first non-empty title: a later title or media:title (at any depth) is
    # ignored (mixin.pop's title_depth rule), so it is harmless once a title is set. Kept in
    # locals (``titled`` follows entry["title"], set below only), not looked up per element.
    titled = nested = title_seen = False
    names, actions = _NAMES, _RSS_ACTIONS
    # one pass in document order: children are read, deeper elements only checked
    for child in walk.descendants(item):
        tag = child.tag
        if not isinstance(tag, str):
            continue
        name = names.get(tag) or _name(child)
        if nested and name in _HANDLERS:
            raise _Fallback(f"element {tag} after an item nested in an item")
        if child.getparent() is not item:
            if name in _HANDLERS and name not in (_HARMLESS_TITLED if titled else _HARMLESS):
                raise _Fallback(f"element {tag} needs feedparser")
            continue
        action = actions.get(name)
        if action is None:  # not a field of an item
            if name == "item":
                # An empty item inside an item (real FeedBurner output): feedparser starts a second,
                # empty entry there and leaves both (what follows belongs to the channel). Only
                # elements without a feedparser handler may follow.
                if len(child) or child.attrib or (child.text or "").strip():
                    raise _Fallback("item nested in an item")
                nested = entry["_nested"] = True
                entry["_nested_element"] = child  # the entry feedparser starts there (_check_entries)
            elif name in _HANDLERS and not (titled and name == "media_title"):
                raise _Fallback(f"item element {child.tag} needs feedparser")
            continue
        if action == _SKIP:
            continue
        if action == _TITLE:
            if titled:
                continue
            if title_seen:
                raise _Fallback("item has a second title after an empty one")
            title_seen = True
            entry["title"] = _leaf(child)
            titled = bool(entry["title"])
        elif action == _CATEGORY:
            tags = entry["tags"]
            _add_tag(tags, None, child.get("domain"), None)
            _end_category(tags, _leaf(child))
        elif action == _LINK:
            if child.attrib:
                raise _Fallback("RSS link with attributes")
            value = _leaf(child)
            if "&" in value:
                value = _LINK_ENTITY.sub(r"&\g<1>", value.replace("&amp;", "&"))
            entry["link"] = value
        elif action == _GUID:
            value = _leaf(child)
            entry["id"] = value
            if child.get("isPermaLink", child.get("ispermalink", "true")) == "true":
                entry.setdefault("link", value)
        elif action == _TEXT_BLOCK:
            _rss_text_block(entry, name, _leaf(child))
        elif action == _PUBLISHED:
            entry["published"] = _leaf(child)
        elif action == _UPDATED:
            entry["updated"] = _leaf(child)
        elif action == _AUTHOR:
            entry["authors"].append(_author_name(_leaf(child)))
        elif action == _CREATED:
            entry["created"] = _leaf(child)
        elif action == _LANGUAGE:
            entry["language"] = _leaf(child)
        else:  # _EXPIRES: feedparser keeps it as "expired", a field not read here
            _leaf(child)
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
_ATOM_DEEP = _ATOM_AUTHOR | _HARMLESS  # handlers allowed below an entry's children


def _atom_content(el: Any) -> str:
    kind = el.get("type")
    if el.get("mode") is not None:
        raise _Fallback(f"atom {el.tag} with a mode")
    if el.get("src") is not None:  # out-of-line content: feedparser keeps an empty value
        if (
            len(el)
            or (el.text or "").strip()
            or el.tag != f"{{{ATOM}}}content"
            or kind in ("xhtml", "html", "text")
        ):
            raise _Fallback(f"atom {el.tag} out of line")
        return ""
    if kind == "xhtml":
        return _xhtml(el)
    if kind not in _ATOM_TYPES:
        raise _Fallback(f"atom {el.tag} of type {kind}")
    return _leaf(el)


_XHTML = "http://www.w3.org/1999/xhtml"
_SVG = "http://www.w3.org/2000/svg"
_SVG_KEPT = frozenset(name.lower() for name in _HTMLSanitizer.svg_elements)
# start tags that make an HTML parser leave SVG (HTML standard, "in foreign content")
_BREAKOUT = frozenset(
    {"b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt", "em", "embed", "h1", "h2",
     "h3", "h4", "h5", "h6", "head", "hr", "i", "img", "li", "listing", "menu", "meta", "nobr", "ol", "p", "pre",
     "ruby", "s", "small", "span", "strong", "strike", "sub", "sup", "table", "tt", "u", "ul", "var", "font"}
) | set(_HTMLSanitizer.unacceptable_elements_with_end_tag)  # fmt: skip
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"})  # fmt: skip
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTRIBUTE_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


def _xhtml(el: Any) -> str:
    """Atom type="xhtml": the markup inside the one wrapping div, as feedparser hands it on.

    feedparser re-writes the elements from parser events (lower-case names and attribute names,
    escaped text and values), drops the wrapping div (mixin.pop) and sanitises the result like
    HTML. Here the div's content is written as HTML (void elements without end tag) so nh3 reads
    the same markup; inline SVG as ``_write_svg_content`` says. Refused: MathML and other
    namespaces, namespaced or lang/base attributes (feedparser tracks those), text beside the div.
    """
    if (el.text or "").strip() or len(el) != 1:
        raise _Fallback("xhtml content is not one div")
    div = el[0]
    if div.tag != f"{{{_XHTML}}}div" or (div.tail or "").strip() or div.attrib:
        raise _Fallback("xhtml content is not one plain div")
    out: list[str] = [(div.text or "").translate(_TEXT_ESCAPES)]
    for child in div:
        _write_xhtml(child, out)
        out.append((child.tail or "").translate(_TEXT_ESCAPES))
    return _text("".join(out))


def _write_svg_content(el: Any, out: list[str]) -> None:
    """What of an inline SVG reaches nh3 after feedparser's sanitiser: the elements of its SVG list
    (nh3 then drops them all, keeping whitespace as an HTML parser reads it in SVG), elements
    outside it dropped with their text kept. Attributes never reach the output; HTML elements
    inside SVG (which an HTML parser may read as leaving it) and script/style (feedparser drops
    their text) are refused."""
    out.append((el.text or "").translate(_TEXT_ESCAPES))
    for child in el:
        tag = child.tag
        if not isinstance(tag, str) or not tag.startswith(f"{{{_SVG}}}"):
            raise _Fallback(f"svg content with {tag}")
        local = tag.partition("}")[2].lower()
        kept = local in _SVG_KEPT
        if local in _BREAKOUT or local == "svg" or (not kept and local in _HTMLSanitizer.acceptable_elements):
            raise _Fallback(f"svg element {local} that is also HTML")
        if kept:
            out.append(f"<{local}>")
        _write_svg_content(child, out)
        if kept:
            out.append(f"</{local}>")
        out.append((child.tail or "").translate(_TEXT_ESCAPES))


def _write_xhtml(el: Any, out: list[str]) -> None:
    tag = el.tag
    if not isinstance(tag, str) or tag[:1] != "{":
        raise _Fallback("xhtml content with a non-element or an element without namespace")
    namespace, _, local = tag[1:].partition("}")
    local = local.lower()
    if namespace == _SVG and local == "svg":
        out.append("<svg>")
        _write_svg_content(el, out)
        out.append("</svg>")
        return
    if namespace != _XHTML:  # MathML, ...
        raise _Fallback(f"xhtml content with {tag}")
    out.append("<" + local)
    for key, value in el.attrib.items():
        name = key.lower()
        if (
            key[:1] == "{"
            or name in ("lang", "base", "xmlns")
            or (name in ("rel", "type") and value != value.lower())
        ):
            raise _Fallback(f"xhtml attribute {key}")
        out.append(f' {name}="{value.translate(_ATTRIBUTE_ESCAPES)}"')
    out.append(">")
    if local in _VOID:
        if len(el) or el.text:
            raise _Fallback(f"void element {local} with content")
        return
    out.append((el.text or "").translate(_TEXT_ESCAPES))
    for child in el:
        _write_xhtml(child, out)
        out.append((child.tail or "").translate(_TEXT_ESCAPES))
    out.append(f"</{local}>")


def _atom_entry(node: Any, walk: _Walk = _NO_WALK) -> dict[str, Any]:
    entry = _entry_start(node)
    seen: set[str] = set()
    # one pass in document order: children are read, deeper elements only checked
    for child in walk.descendants(node):
        tag = child.tag
        if not isinstance(tag, str):
            continue
        name = _NAMES.get(tag) or _name(child)
        if name in _MEDIA:  # Media RSS (YouTube): a group, its title and description, at any depth
            _atom_media(entry, name, child)
            continue
        if child.getparent() is not node:
            if name in _HANDLERS and name not in _ATOM_DEEP:
                raise _Fallback(f"element {tag} needs feedparser")
            continue
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
            entry["content_sorted"] = (
                child.get("type") == "xhtml" or _ATOM_TYPES.get(child.get("type")) == "text/html"
            )
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
            pass  # their descendants are checked in the pass above
        elif name in _HANDLERS:
            raise _Fallback(f"entry element {child.tag} needs feedparser")
    descriptions = entry.pop("media_descriptions", [])
    if descriptions:
        if len(descriptions) > 1 or "summary" in entry or "content" in entry:
            raise _Fallback("media:description beside a summary, content or another description")
        entry["summary"] = descriptions[0]
    return entry


_MEDIA = frozenset({"media_group", "media_title", "media_description"})


def _atom_media(entry: dict[str, Any], name: str, el: Any) -> None:
    """feedparser's Media RSS rules inside an Atom entry, for what they can touch here.

    media:group does nothing; media:title after the entry's title is ignored (mixin.pop's
    title_depth rule); media:description is a description: the summary when the entry has no
    summary or content (anything else is refused, checked at the end of the entry).
    """
    if name == "media_title":
        if not entry.get("title"):
            raise _Fallback("media:title before the entry's title")
    elif name == "media_description":
        if el.attrib:
            raise _Fallback("media:description with attributes")
        entry.setdefault("media_descriptions", []).append(_leaf(el))


_NEW_DECLARATION = b"<?xml version='1.0' encoding='utf-8'?>\n"
_HEAD_END = re.compile(rb"<\w")
_XML_DECL = re.compile(rb"<\?xml[ \t\r\n]")


_UNSNIFFED_STARTS = (
    codecs.BOM_UTF32_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF8,
    encodings.EBCDIC_MARKER, encodings.UTF16BE_MARKER, encodings.UTF16LE_MARKER, encodings.UTF32BE_MARKER,
    encodings.UTF32LE_MARKER,
)  # fmt: skip
_UTF8_DECLARATION = b"<?xml version='1.0' encoding='utf-8'?>"


def _to_utf8(body: bytes, content_type: str | None) -> tuple[bytes, dict[str, Any]]:
    """feedparser's ``convert_to_utf8`` (bytes, result), without its cost for the common UTF-8 case.

    For a body with no BOM (but UTF-8's) or sniffed marker, whose content type (none, or an application XML
    type with no charset or charset utf-8) and XML declaration lead feedparser to try UTF-8 first,
    and that decodes as UTF-8, feedparser's result is the body with its declaration replaced by its
    own (or its own prepended): built here from the bytes, without the str round trip and the
    whole-document regex substitution (7 of the 9 ms it spends on a 1.5 MB feed). Anything else:
    feedparser's function. tests/crawlers/test_feed_fastpath.py compares both on every corpus feed.
    """
    headers = {"content-type": content_type} if content_type else {}
    if content_type:
        media, charset = encodings.parse_content_type(content_type)
        xml_media = media in (
            "application/xml",
            "application/xml-dtd",
            "application/xml-external-parsed-entity",
        )
        if not (
            xml_media or (media.startswith("application/") and media.endswith("+xml"))
        ) or charset not in (
            "",
            "utf-8",
        ):
            return _convert(headers, body)
    original = body
    if body.startswith(codecs.BOM_UTF8):
        # feedparser drops a UTF-8 BOM and reads the rest as below (its BOM encoding is utf-8, the
        # same first choice); anything the rest does not pass below goes to its function whole.
        body = body[len(codecs.BOM_UTF8) :]
    if body.startswith(_UNSNIFFED_STARTS):
        return _convert(headers, original)
    declared = encodings.RE_XML_PI_ENCODING.match(body)
    if declared and declared.group(1).decode("utf-8", "replace").lower() != "utf-8":
        return _convert(headers, original)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return _convert(headers, original)
    declaration = encodings.RE_XML_DECLARATION.match(text)
    if declaration:
        data = _UTF8_DECLARATION + body[len(declaration.group(0).encode("utf-8")) :]
    else:
        data = _UTF8_DECLARATION + b"\n" + body
    return data, {"encoding": "utf-8"}


def _convert(headers: dict[str, str], body: bytes) -> tuple[bytes, dict[str, Any]]:
    result: dict[str, Any] = {}
    return convert_to_utf8(headers, body, result), result


def _prepare(body: bytes, content_type: str | None) -> tuple[bytes, Exception | None, bool]:
    """The document as feedparser's strict parser would see it (UTF-8), and feedparser's bozo.

    The bytes are decoded by feedparser's own ``convert_to_utf8`` (HTTP charset, BOM, XML
    declaration, its fallbacks), so every encoding Python decodes is read exactly as feedparser
    reads it. A DOCTYPE without entity declarations is removed by feedparser's own
    ``replace_doctype``; anything with an entity declaration is refused (never expanded).
    Whitespace before the XML declaration makes feedparser's strict parser fail on the declaration
    and read the feed with its loose parser: that case is read here only when ``_loose_safe`` finds
    nothing the loose parser treats differently (third value True: the caller must ask it), and
    feedparser's SAX error is returned as its bozo.
    """
    data, result = _to_utf8(body, content_type)
    if not result.get("encoding"):
        raise _Fallback("encoding unknown to feedparser")
    bozo = result.get("bozo_exception")
    match = _HEAD_END.search(data)
    head = data[: match.start()] if match else data
    if b"<!ENTITY" in data:
        raise _Fallback("entity declaration")
    if b"<!DOCTYPE" in head:
        if b"[" in head:
            raise _Fallback("DOCTYPE with an internal subset")
        _, data, _ = replace_doctype(data)
        match = _HEAD_END.search(data)
        head = data[: match.start()] if match else data
    if b"<!DOCTYPE" in data:
        raise _Fallback("DOCTYPE left after feedparser's replace_doctype")
    if b"xml:base" in data:
        raise _Fallback("xml:base")
    if len(_XML_DECL.findall(head)) > 1:
        rest = head[len(_NEW_DECLARATION) :] if head.startswith(_NEW_DECLARATION) else b""
        space = rest[: len(rest) - len(rest.lstrip(b" \t\r\n"))]
        if not _XML_DECL.match(rest.lstrip(b" \t\r\n")) or len(_XML_DECL.findall(rest)) != 1:
            raise _Fallback("XML declaration not at the start")
        lines = space.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        line, column = 2 + lines.count(b"\n"), len(lines) - lines.rfind(b"\n") - 1
        bozo = SAXParseException(
            "XML or text declaration not at start of entity", None, _Locator(line, column)
        )
        end = data.index(b"?>", len(_NEW_DECLARATION) + len(space)) + 2
        data = _NEW_DECLARATION + data[end:]
    return data, bozo, isinstance(bozo, SAXParseException)


class _Locator:
    """Where expat reports the error (SAXParseException reads these four methods)."""

    def __init__(self, line: int, column: int) -> None:
        self.line, self.column = line, column

    def getLineNumber(self) -> int:  # noqa: N802 - the SAX Locator interface
        return self.line

    def getColumnNumber(self) -> int:  # noqa: N802
        return self.column

    def getSystemId(self) -> None:  # noqa: N802
        return None

    def getPublicId(self) -> None:  # noqa: N802
        return None


_MARKUP = re.compile(r"[&<>]")
_QUOTES = re.compile(r"[\"']")
_QUOTE_REFERENCES = re.compile(rb"(?i)&(?:quot|apos|#x0*2[27]);")


def _loose_safe(entries: list[dict[str, Any]], data: bytes) -> None:
    """Refuse what feedparser's loose (sgmllib) parser reads differently from an XML parser.

    The loose parser keeps '&amp;', '&lt;', '&gt;' (also from CDATA), '&quot;', '&apos;' and hex
    references to quotes escaped in ids, links, tags and authors, and mangles them in links: those
    fields must be free of them. Titles, summaries and content go through nh3 on both paths and
    come out the same (tests/crawlers/test_feed_fastpath.py: crafted entity/CDATA cases and every
    nh3 tag, after leading whitespace too).
    """
    quote_references = _QUOTE_REFERENCES.search(data) is not None
    for entry in entries:
        values = [entry.get(key) for key in ("id", "link", "published", "updated", "language")]
        values += entry["authors"] + [t for tag in entry["tags"] for t in tag]
        for value in values:
            if value and (_MARKUP.search(value) or (quote_references and _QUOTES.search(value))):
                raise _Fallback("loose parser and markup characters in an id, link, date, author or tag")


FastFeed = tuple[list[dict[str, Any]], str | None, Exception | None]
#: "<applet" in any case: the same test as ``"<applet" in value.lower()`` (no character other than
#: these ASCII letters lower-cases to one of them) without a lower-cased copy of every text.
_APPLET = re.compile("<[aA][pP][pP][lL][eE][tT]")


def fast_entries(body: bytes, content_type: str | None) -> FastFeed | None:
    """(entries as feedparser would give them, feed language, feedparser's bozo exception or None),
    or None when feedparser must read it.

    Each entry has the keys feed.py reads: id, link, title, summary, content (a string), published,
    published_parsed, updated, updated_parsed, language, authors (names or None), tags (terms or None).
    A *_parsed value is feeddates.feed_date's: an aware UTC datetime, or feedparser's struct_time.
    """
    try:
        return _read(body, content_type)
    except _Fallback:
        return None
    except Exception:  # noqa: BLE001 - a fast-path bug must not lose a feed feedparser can read
        log.warning("feed fast path failed; feedparser reads this feed", exc_info=True)
        return None


def refusal(body: bytes, content_type: str | None) -> str | None:
    """Why the fast path hands this feed to feedparser (None when it reads it itself)."""
    try:
        _read(body, content_type)
    except _Fallback as exc:
        return str(exc)
    return None


def _check_entries(root: Any, read: list[Any]) -> None:
    """Refuse unless the elements read are exactly those feedparser starts an entry at."""
    starts = [el for el in root.iter(*_ENTRY_CANDIDATES) if _name(el) in ("item", "entry")]
    if len(starts) != len(read) or any(a is not b for a, b in zip(starts, read, strict=True)):
        raise _Fallback("entries elsewhere than where this module reads them")


_NS_DECLARATION = re.compile(rb"""xmlns(?::([^\s=]+))?\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _check_namespaces(data: bytes) -> _Walk:
    """Refuse documents where feedparser's names for unknown namespaces could differ from ours.

    feedparser (expat, no qnames) names an element in a namespace it does not know by the first
    prefix ever declared for that URI in the document; ``_name`` uses the element's own prefix.
    They agree when each prefix is bound to one URI and each unknown URI to one prefix (or to
    none, used as a default namespace only). Returns the document's ``_Walk``.
    """
    uris: dict[bytes, bytes] = {}
    prefixes: dict[bytes, set[bytes | None]] = {}
    declared: set[bytes] = set()
    for prefix, double, single in _NS_DECLARATION.findall(data):
        uri = double or single
        declared.add(uri)
        if prefix and uris.setdefault(prefix, uri) != uri:
            raise _Fallback(f"namespace prefix {prefix!r} bound twice")
        lower = uri.decode("utf-8", "replace").lower()
        if "backend.userland.com/rss" in lower or lower in _PREFIXES:
            continue
        prefixes.setdefault(uri, set()).add(prefix or None)
        if len(prefixes[uri]) > 1:
            raise _Fallback(f"namespace {uri!r} bound to two prefixes")
    inert = {
        uri
        for uri, (prefix,) in prefixes.items()
        if prefix and not _prefix_starts_a_handler(prefix.decode("utf-8", "replace"))
    }
    if not inert or any(b"&" in uri for uri in declared):
        return _NO_WALK  # nothing to skip, or a URI lxml reads differently from these bytes
    others = sorted(uri.decode("utf-8") for uri in declared - inert)
    return _walk(("{}*", *(f"{{{uri}}}*" for uri in others)))


def _read(body: bytes, content_type: str | None) -> FastFeed:
    data, bozo, loose = _prepare(body, content_type)
    try:
        root = etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise _Fallback(f"lxml: {exc}") from exc
    walk = _check_namespaces(data)
    rss = _name(root) == "rss"  # any version: feedparser reads every RSS version's items alike
    if rss or root.tag == f"{{{RDF}}}RDF":
        if b"xml:lang" in data:
            raise _Fallback("xml:lang in RSS")
        channels = [c for c in root if isinstance(c.tag, str) and _name(c) == "channel"]
        if len(channels) > 1:
            raise _Fallback("two channels")
        # RSS: items in the channel; RSS 0.90/1.0 (rdf:RDF): items beside it (_check_entries: none elsewhere)
        parent = (channels[0] if channels else None) if rss else root
        items = (
            [c for c in parent.iterchildren(*_ITEM_CANDIDATES) if _name(c) == "item"]
            if parent is not None
            else []
        )
        if not rss and not items:  # feedparser may then see no version and call it "not a feed"
            raise _Fallback("RSS 1.0 without items")
    elif root.tag == f"{{{ATOM}}}feed":
        if data.count(b"xml:lang") != (1 if root.get(_XML_LANG) is not None else 0):
            raise _Fallback("xml:lang below the Atom root")
        found = root.findall(f"{{{ATOM}}}entry")
        _check_entries(root, found)
        lang = root.get(_XML_LANG)
        language = lang.replace("_", "-") if lang else None
        entries = [_atom_entry(node, walk) for node in found]
    else:
        raise _Fallback(f"root {root.tag} version {root.get('version')}")
    if root.tag != f"{{{ATOM}}}feed":
        language = None
        for child in channels[0] if channels else ():
            if isinstance(child.tag, str) and _name(child) in ("language", "dc_language"):
                language = _leaf(child)
        entries = []
        read = []  # the elements entries were read at, with the empty items nested in items
        for item in items:
            entry = _rss_entry(item, walk)
            entries.append(entry)
            read.append(item)
            nested = entry.pop("_nested_element", None)
            if entry.pop("_nested", False):
                entries.append({"authors": [], "tags": []})
                read.append(nested)
        # _rss_entry saw every child of an item (it refuses a second nested item), so ``read`` is
        # what feedparser starts an entry at, in order, if nothing else in the document is one
        _check_entries(root, read)
    if loose:
        _loose_safe(entries, data)
    for entry in entries:
        title, summary, content = entry.get("title"), entry.get("summary"), entry.get("content")
        # content is often the summary itself (content:encoded, Atom content without summary)
        for value in (title, summary) if content is summary else (title, summary, content):
            if value and _APPLET.search(value):
                raise _Fallback("applet in HTML (feedparser's sanitiser drops its content)")
        entry["tags"] = [term for term, _, _ in entry["tags"]]
        entry.setdefault("content_sorted", False)
        for key in ("published", "updated", "created"):
            if key in entry:
                entry[f"{key}_parsed"] = feed_date(entry[key])
    return entries, language, bozo
