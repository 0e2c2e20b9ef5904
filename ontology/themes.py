"""Multilingual theme classifier: keywords, source tags and a per-source tag map -> SKOS concepts.

Why rules and not a model: the labels *are* the vocabulary (ontology/vocab/concepts.ttl), partners
can read and correct them, and the result is explainable ("matched 'burgerbudget' in the title").
Source tags go first through the source's own ``tag_map``, then through our labels; a tag that
maps nowhere is returned as *unmapped* so a partner can map it (pipeline/store.py records it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, lru_cache

from rdflib import URIRef

from ontology.concepts import concepts_graph, fold, schemes
from ontology.namespaces import SKOS

CLASSIFIER_VERSION = "1"
#: Weight of one keyword hit per field; a concept is assigned at THRESHOLD.
WEIGHTS = {"title": 2.0, "summary": 1.0, "body": 0.5}
THRESHOLD = 1.0
#: Only the start of long bodies is scanned (the lede says what an item is about).
MAX_CHARS = 4000


@dataclass
class Classification:
    """Concepts found, why, and the source tags nothing mapped."""

    concepts: list[URIRef] = field(default_factory=list)
    evidence: dict[URIRef, list[str]] = field(default_factory=dict)
    unmapped_tags: list[str] = field(default_factory=list)


def _pattern(label: str) -> str:
    text = fold(label)
    prefix = text.endswith("*")
    body = re.escape(text.rstrip("*")).replace(r"\ ", r"[\s-]+").replace(r"\-", r"[\s-]?")
    return body + (r"\w*" if prefix else r"s?")


@cache
def _alternatives(concept: URIRef) -> tuple[str, ...]:
    """The concept's label patterns in the order the regex tries them (longest pattern first)."""
    kinds = schemes()["theme"].labels[concept]
    labels = {label for values in kinds.values() for label, _ in values if len(label) >= 3}
    return tuple(sorted((_pattern(label) for label in labels), key=len, reverse=True))


def _alternation(concept: URIRef) -> str:
    return "|".join(_alternatives(concept))


@lru_cache(maxsize=1)
def _matchers() -> dict[URIRef, re.Pattern[str]]:
    """One compiled alternation per theme concept (labels of every language), for tags."""
    return {
        c: re.compile(r"(?:" + _alternation(c) + r")") for c in sorted(schemes()["theme"].labels, key=str)
    }


@lru_cache(maxsize=1)
def _plain_scanner() -> tuple[re.Pattern[str], dict[str, URIRef]]:
    """All concepts in one regex with a named group each: one pass over the text, not one per concept."""
    names = {f"c{i}": c for i, c in enumerate(sorted(schemes()["theme"].labels, key=str))}
    body = "|".join(f"(?P<{n}>{_alternation(c)})" for n, c in names.items())
    return re.compile(r"(?<!\w)(?:" + body + r")(?!\w)"), names


@lru_cache(maxsize=1)
def _scanner() -> tuple[re.Pattern[str], dict[str, URIRef]]:
    """``_plain_scanner`` with its alternatives grouped by their first character: the same matches.

    At each word start the plain scanner tries every concept's group in turn (~500 alternatives);
    here the top-level branches start with a literal character, which re's matcher skips with one
    comparison, so only the alternatives that can start with the current character are tried, in
    their original relative order (concept order, then longest pattern first). An alternative that
    cannot match at this character fails in the plain scanner too, so the first alternative that
    leads to a match, its group's concept and the match text are the same. A label that does not
    start with a plain word character keeps the plain scanner.
    """
    concepts = sorted(schemes()["theme"].labels, key=str)
    buckets: dict[str, list[tuple[URIRef, str]]] = {}
    for concept in concepts:
        for alternative in _alternatives(concept):
            first = alternative[:1]
            if not (first.isalnum() and re.escape(first) == first) or alternative[1:2] in (
                "?",
                "*",
                "+",
                "{",
            ):
                return _plain_scanner()  # not a plain first character that every match starts with
            buckets.setdefault(first, []).append((concept, alternative[1:]))
    names: dict[str, URIRef] = {}
    branches = []
    for first, entries in buckets.items():
        groups: list[str] = []
        for concept, rest in entries:
            if groups and names[f"c{len(names) - 1}"] == concept:  # same concept: one group
                groups[-1] = groups[-1][:-1] + "|" + rest + ")"
                continue
            name = f"c{len(names)}"
            names[name] = concept
            groups.append(f"(?P<{name}>{rest})")
        branches.append(re.escape(first) + "(?:" + "|".join(groups) + ")")
    return re.compile(r"(?<!\w)(?:" + "|".join(branches) + r")(?!\w)"), names


@lru_cache(maxsize=1)
def _text_scanner() -> tuple[re.Pattern[str], dict[str, URIRef], int]:
    r"""``_scanner`` for running text: (regex, group names, separator length).

    The regex starts with the one non-word character before the label (``\W``) instead of the
    lookbehind ``(?<!\w)``, and runs over ``" " + text``. A pattern that starts with a character
    class lets re's search skip, in C, every position whose character is a word character (~80 %
    of a text) instead of starting a match attempt at each. The same matches: every alternative
    starts with a word character (``_scanner`` checks it) and a match is followed by a non-word
    character (``(?!\w)``), so the separator a match needs is never inside the previous match; each
    match is the plain one with its separator in front (tests/ontology/test_theme_scanner.py).
    """
    scanner, names = _scanner()
    head = r"(?<!\w)(?:"
    if scanner is _plain_scanner()[0] or not scanner.pattern.startswith(head):
        return scanner, names, 0
    return re.compile(r"\W(?:" + scanner.pattern[len(head) :]), names, 1


_SPECIAL = frozenset("\\.^$*+?{}[]|()")
_QUANTIFIERS = frozenset("?*+{")


def _literal_head(alternative: str) -> tuple[str, str] | None:
    """(the character every match of the pattern starts with, the pattern after it), or None when
    the pattern does not start with one literal character (a class, a group, a quantified character)."""
    if alternative[:1] == "\\" and alternative[1:2] and not alternative[1].isalnum():
        char, rest = alternative[1], alternative[2:]
    elif alternative[:1] and alternative[0] not in _SPECIAL:
        char, rest = alternative[0], alternative[1:]
    else:
        return None
    return None if rest[:1] in _QUANTIFIERS else (char, rest)


def _trie(alternatives: list[str]) -> str:
    """The alternation of ``alternatives`` (in this order) with common literal first characters
    factored out, recursively: ``abc|abd|xy`` -> ``(?:ab(?:c|d)|xy)``.

    The same matches: two alternatives that start with different literal characters cannot both
    match at one position, so grouping by that character, keeping the order inside each group,
    leaves the first alternative that matches at any position, and what it matches, as in the flat
    alternation. re skips a branch that starts with a literal with one comparison, so at each
    position only the branches of the current character are entered, then of the next ...
    Alternatives that do not all start with a literal character are left as they are.
    """
    if len(alternatives) == 1:
        return alternatives[0]
    heads = [_literal_head(a) for a in alternatives]
    if any(head is None for head in heads):
        return "(?:" + "|".join(alternatives) + ")"
    groups: dict[str, list[str]] = {}
    for char, rest in heads:  # type: ignore[misc] - None excluded above
        groups.setdefault(char, []).append(rest)
    parts = [re.escape(char) + _trie(rests) for char, rests in groups.items()]
    return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"


@lru_cache(maxsize=1)
def _word_scanner() -> re.Pattern[str] | None:
    r"""One regex without groups for running text: ``\W`` + every concept's alternatives (in
    ``_plain_scanner``'s order) as a ``_trie`` + ``(?!\w)``; None when a label does not start with
    a plain word character (``scan`` then uses ``_text_scanner``).

    It matches what ``_text_scanner`` matches, without named groups (a branch that opens a group
    cannot be skipped by its first character); the concept of a match is ``_concept_of`` its text.
    """
    concepts = sorted(schemes()["theme"].labels, key=str)
    alternatives = [alternative for concept in concepts for alternative in _alternatives(concept)]
    heads = [_literal_head(a) for a in alternatives]
    if not alternatives or not all(head is not None and head[0].isalnum() for head in heads):
        return None
    return re.compile(r"\W" + _trie(alternatives) + r"(?!\w)")


@lru_cache(maxsize=8192)
def _concept_of(word: str) -> URIRef:
    """The concept of a scanner match: the first concept (in ``_plain_scanner`` order) with an
    alternative that spells the whole matched text.

    That is the concept of the alternative that matched: an earlier alternative that spells the
    text would have matched at that position first. Cached: matches are label words (a few
    hundred forms), met again and again.
    """
    scanner, names = _scanner()
    match = scanner.fullmatch(word)
    if match is None or not match.lastgroup:
        raise ValueError(f"theme scanner match {word!r} spells no label")  # cannot happen: see above
    return names[match.lastgroup]


@lru_cache(maxsize=1)
def _ascii_word_scanner() -> re.Pattern[str] | None:
    r"""``_word_scanner`` compiled with ``re.ASCII``, for ASCII text (most text is, once folded).

    On an ASCII string the ASCII and Unicode classes of ``\W`` and ``\w`` hold the same characters;
    ``\s`` differs on U+001C-U+001F only (Unicode whitespace, not ASCII), which ``scan`` sends to the
    Unicode scanner (they are not printable). re tests an ASCII class with a table lookup instead of
    Unicode database queries at every position: ~30 % less scanning time (bench: 5.2 -> 3.8 µs/item).
    """
    words = _word_scanner()
    return re.compile(words.pattern, re.ASCII) if words is not None and words.pattern.isascii() else None


def scan(folded: str) -> list[tuple[URIRef, str]]:
    """(concept, matched text) of every label match in a folded text, in text order."""
    words = _word_scanner()
    if words is not None:
        if folded.isascii() and folded.isprintable():
            words = _ascii_word_scanner() or words
        return [(_concept_of(m[1:]), m[1:]) for m in words.findall(" " + folded)]
    scanner, names, lead = _text_scanner()
    if lead:
        return [(names[m.lastgroup or ""], m.group(0)[1:]) for m in scanner.finditer(" " + folded)]
    return [(names[m.lastgroup or ""], m.group(0)) for m in scanner.finditer(folded)]


@lru_cache(maxsize=1)
def _broader() -> dict[URIRef, list[URIRef]]:
    g = concepts_graph()
    return {
        c: [b for b in g.objects(c, SKOS.broader) if isinstance(b, URIRef)]
        for c in schemes()["theme"].concepts
    }


def match_tag(tag: str) -> URIRef | None:
    """The first concept (in ``_matchers`` order) one of whose labels the whole tag spells.

    One ``fullmatch`` of the scanner instead of one per concept: its named groups are the same
    alternations in the same order, and a regex alternation fully matches with the first branch
    that can, so this equals ``next(c for c, rx in _matchers().items() if rx.fullmatch(fold(tag)))``
    (tests/ontology/test_fast_validation.py checks it on every corpus tag and label).
    """
    scanner, names = _scanner()
    match = scanner.fullmatch(fold(tag))
    return names[match.lastgroup] if match is not None and match.lastgroup else None


def _from_tag_map(tag: str, tag_map: dict[str, str], folded: dict[str, str] | None = None) -> URIRef | None:
    if folded is None:
        folded = {fold(k): v for k, v in tag_map.items()}
    target = tag_map.get(tag) or folded.get(fold(tag))
    return schemes()["theme"].resolve(target) if target else None


@lru_cache(maxsize=8192)
def _vocabulary_tag(tag: str) -> URIRef | None:
    """The concept a source tag names through our own labels (no tag map): a label, else a label match.

    Cached: the vocabulary does not change while the process runs, and feeds repeat their
    categories on every item (one fold and one scanner match per tag otherwise).
    """
    return schemes()["theme"].resolve(tag) or match_tag(tag)


def classify(
    *,
    title: str | None = None,
    summary: str | None = None,
    body: str | None = None,
    tags: list[str] | None = None,
    tag_map: dict[str, str] | None = None,
) -> Classification:
    """Themes of one item. Deterministic: the same input gives the same concepts, in IRI order."""
    result = Classification()
    scores: dict[URIRef, float] = {}
    folded_map = {fold(k): v for k, v in tag_map.items()} if tag_map else None  # once per item, not per tag
    for tag in tags or []:
        if not tag or not tag.strip():
            continue
        concept = (_from_tag_map(tag, tag_map, folded_map) if tag_map else None) or _vocabulary_tag(tag)
        if concept is None:
            result.unmapped_tags.append(tag.strip())
            continue
        scores[concept] = scores.get(concept, 0.0) + THRESHOLD
        result.evidence.setdefault(concept, []).append(f"tag '{tag.strip()}'")
    for name, text in (("title", title), ("summary", summary), ("body", body)):
        if not text:
            continue
        found = scan(fold(text[:MAX_CHARS]))
        if not found:
            continue  # most texts name no label at all
        hits: dict[URIRef, set[str]] = {}
        for concept, word in found:
            hits.setdefault(concept, set()).add(word)
        for concept, words in hits.items():
            scores[concept] = scores.get(concept, 0.0) + WEIGHTS[name] * len(words)
            result.evidence.setdefault(concept, []).extend(f"{name} '{w}'" for w in sorted(words))
    if not scores:
        return result  # no tag or text named a concept: no concepts, no evidence (what the rest gives)
    chosen = {c for c, score in scores.items() if score >= THRESHOLD}
    for concept in list(chosen):
        chosen.update(_broader().get(concept, []))
    result.concepts = sorted(chosen, key=str)
    result.evidence = {c: result.evidence.get(c, ["broader of a matched concept"]) for c in result.concepts}
    return result
