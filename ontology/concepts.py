"""Our SKOS concept schemes as lookup tables, loaded once from ontology/vocab/concepts.ttl.

Mappers resolve a source's value ("Missiegericht", "mission-oriented", "local", a concept IRI)
to one concept of a scheme by notation, IRI or any label in any language. The Turtle file is
the only truth: tables are derived from it, never typed twice.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from rdflib import Graph, Literal, URIRef

from ontology.namespaces import SCHEMES, SKOS

CONCEPTS_TTL = Path(__file__).parent / "vocab" / "concepts.ttl"


def _char_class(points: list[int]) -> str:
    """A regex character class (``[...]``) of exactly these code points (ascending), as ranges."""
    ranges, start = [], points[0]
    for prev, cur in zip(points, [*points[1:], None], strict=True):
        if cur != prev + 1:
            ranges.append(
                f"{re.escape(chr(start))}-{re.escape(chr(prev))}" if prev > start else re.escape(chr(start))
            )
            start = cur
    return "[" + "".join(ranges) + "]"


def _combining_class(limit: int = sys.maxunicode) -> re.Pattern[str]:
    """A character class of exactly the code points up to ``limit`` that ``unicodedata.combining`` marks."""
    return re.compile(_char_class([i for i in range(limit + 1) if unicodedata.combining(chr(i))]) + "+")


_COMBINING = _combining_class()
#: The same class for the Basic Multilingual Plane only: re compiles a BMP class to a bitmap (one
#: lookup per character) but checks a class with astral ranges range by range (~6x slower on text).
_COMBINING_BMP = _combining_class(0xFFFF)
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def strip_combining(text: str) -> str:
    """``text`` without combining marks (``_COMBINING.sub("", text)``, faster when no astral characters)."""
    return (_COMBINING if _ASTRAL.search(text) else _COMBINING_BMP).sub("", text)


def collapsed(text: str) -> str:
    """``" ".join(text.split())``, without the split and join when they would change nothing.

    Most texts reaching ``fold`` are collapsed already (``clean_text`` and ``html_text`` output). A
    printable string has no whitespace but the ASCII space (Python's ``isprintable`` is False for
    every other separator and control character), so with no double, leading or trailing space
    the split and join give the text back; both tests run in C (~0.2 instead of ~2 µs per text).
    """
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(text.split())


def _inert(char: str) -> bool:
    """A character ``fold`` leaves as it is: casefold, lower and NFKD keep it, not a combining mark."""
    return (
        char.casefold() == char
        and char.lower() == char
        and unicodedata.normalize("NFKD", char) == char
        and not unicodedata.combining(char)
    )


@lru_cache(maxsize=1)
def _not_inert_bmp() -> re.Pattern[str]:
    """A class of the non-ASCII BMP characters that are not ``_inert`` (and the surrogates).

    Made on first use (~0.1 s over the BMP). BMP only, so re compiles it to a bitmap (one lookup per
    character; ``_COMBINING_BMP`` says why); texts with astral characters never take its path.
    """
    return re.compile(
        _char_class([i for i in range(0x80, 0x10000) if 0xD800 <= i <= 0xDFFF or not _inert(chr(i))])
    )


def fold(text: str) -> str:
    """Lower case, accents stripped, whitespace collapsed: the form labels are compared in."""
    if text.isascii():
        # Same result, cheaper: ASCII has no decompositions or combining marks, casefold == lower.
        return collapsed(text.lower())
    if _ASTRAL.search(text) is None and _not_inert_bmp().search(text) is None:
        # Every non-ASCII character is one casefold, lower and NFKD keep and no combining mark (’, “,
        # –, ...: English and Dutch text): casefold is per character, so it equals lower() here (whose
        # one context rule, final sigma, is for a character that is not inert), NFKD changes and
        # reorders nothing (no combining marks), nothing is stripped. ~3x cheaper on such text.
        return collapsed(text.lower().replace("’", "'"))
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = strip_combining(decomposed)  # one regex pass instead of a Python loop per character
    return collapsed(bare.replace("’", "'"))


@dataclass
class Scheme:
    """One concept scheme: its concepts, and every way a source may name them."""

    iri: URIRef
    concepts: set[URIRef] = field(default_factory=set)
    lookup: dict[str, URIRef] = field(default_factory=dict)
    labels: dict[URIRef, dict[str, list[tuple[str, str]]]] = field(default_factory=dict)

    def resolve(self, value: str | None) -> URIRef | None:
        """The concept a value names, or None."""
        if not value:
            return None
        if value in self.lookup:
            return self.lookup[value]
        return self.lookup.get(fold(value))


@lru_cache(maxsize=1)
def concepts_graph() -> Graph:
    return Graph().parse(CONCEPTS_TTL, format="turtle")


@lru_cache(maxsize=1)
def schemes() -> dict[str, Scheme]:
    """scheme name (``theme``, ``facet``, ``stage``, ``level``, ``barrier``) -> its tables."""
    g = concepts_graph()
    out: dict[str, Scheme] = {}
    for name, iri in SCHEMES.items():
        scheme = Scheme(URIRef(iri))
        for concept in g.subjects(SKOS.inScheme, URIRef(iri)):
            assert isinstance(concept, URIRef)
            scheme.concepts.add(concept)
            scheme.lookup[str(concept)] = concept
            notation = g.value(concept, SKOS.notation)
            if notation is not None:
                scheme.lookup[fold(str(notation))] = concept
            kinds: dict[str, list[tuple[str, str]]] = {"pref": [], "alt": [], "hidden": []}
            for kind, prop in (
                ("pref", SKOS.prefLabel),
                ("alt", SKOS.altLabel),
                ("hidden", SKOS.hiddenLabel),
            ):
                for label in g.objects(concept, prop):
                    if isinstance(label, Literal):
                        kinds[kind].append((str(label), label.language or ""))
                        if kind != "hidden":
                            scheme.lookup.setdefault(fold(str(label)), concept)
            scheme.labels[concept] = kinds
        out[name] = scheme
    return out


def resolve(scheme: str, value: str | None) -> URIRef | None:
    """Shortcut: ``resolve("facet", "Missiegericht")``."""
    return schemes()[scheme].resolve(value)
