"""Text analysis done in Python, identically for both search backends.

Elasticsearch's test distribution has no language analysers, no ``stemmer`` and no
``asciifolding`` (``../shared/design/architecture.md`` §7), and the rule is that CI tests
the mapping production uses. So text is analysed here into space-separated tokens that
Elasticsearch indexes with its built-in ``whitespace`` analyser and SQLite FTS5 with
``unicode61``: the same tokens in both, hence the same matches.

Two analyses, each into its own set of fields:

- **folded** (``*_a``): Unicode normalisation, lower-casing and accent folding. Language
  blind; exact words (after folding) match. Used to boost exact matches, and as the only
  field for text in a language we do not analyse.
- **stemmed** (``*_s``), for nl, en, fr and de: stop words dropped, Snowball stems (the
  stem is computed on the accented word, then folded), and for Dutch and German compound
  words, their parts too ("burgerparticipatie" also yields "burger" and "participatie").
  Compound splitting looks the parts up in a lexicon of the language's 60,000 most
  frequent words (the ``wordfreq`` package); the fallback when no lexicon is available, or
  no split is found, is the whole word, so nothing is ever lost.

A query is analysed into *groups*: one group per query word, holding the word's folded form
and its stems in the candidate languages (the language filter if given, else all four).
A document matches when every group has one alternative in the stemmed fields. The
relevance set (``tests/search/relevance.py``) measured that this finds more of the right
items than folding alone; see ``docs/search.md``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache, lru_cache
from operator import itemgetter

import snowballstemmer

_TOKEN = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_TOKENS = 32
#: Languages with stemming, stop words (and for nl/de compound splitting).
LANGUAGES = ("nl", "en", "fr", "de")
#: Dutch: the original (Porter-style) Snowball Dutch stemmer; Snowball 3's "dutch" strips
#: the "ge-" prefix and conflates "gemeente" with "meen" (to mean).
_SNOWBALL = {"nl": "dutch_porter", "en": "english", "fr": "french", "de": "german"}
COMPOUND_LANGUAGES = ("nl", "de")
#: Size of the compound lexicon per language (most frequent words first).
LEXICON_SIZE = 60_000
#: Shortest part a compound is split into, and shortest word worth splitting.
MIN_PART = 4
MIN_COMPOUND = 9
#: Linking elements allowed between the parts of a compound (Dutch "s", German "s", "en", ...).
_LINKS = {"nl": ("", "s", "e", "en"), "de": ("", "s", "es", "n", "en", "er", "e")}

#: Compact stop lists (function words only: a content word must never be dropped).
_STOP_TEXT = {
    "nl": (
        "aan al als bij dan dat de der deze die dit door een en er het hij hoe hun ik in is je "
        "maar met na naar niet nog of om ook op over te ten ter tot u uit van voor want was wat "
        "we wel werd wie wij worden wordt zal ze zich zij zijn zo zou"
    ),
    "en": (
        "a an and are as at be but by for from has have if in into is it its no not of on or "
        "such that the their then there these they this to was were will with"
    ),
    "fr": (
        "a au aux avec ce ces d dans de des du elle en est et il ils j l la le les leur lui m "
        "mais me n ne nos notre nous on ou par pas pour qu que qui s sa se ses son sur t ta te "
        "un une vos votre vous y"
    ),
    "de": (
        "aber als am an auch auf aus bei bin bis das dass dem den der des die dies diese "
        "dieser ein eine einem einen einer eines er es fur hat im in ist mit nach nicht noch "
        "oder sich sie sind so uber um und von vor war wie wir wird zu zum zur"
    ),
}
STOP_WORDS: dict[str, frozenset[str]] = {lang: frozenset(text.split()) for lang, text in _STOP_TEXT.items()}


def fold(text: str) -> str:
    """Lower-case and strip diacritics: 'Überprüfung' -> 'uberprufung', 'Société' -> 'societe'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return (
        decomposed
        if decomposed.isascii()
        else "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    )


def _words(text: str) -> list[str]:
    """Lower-cased (not folded) words, NFC-normalised so the stemmers see real letters."""
    return [t for t in _TOKEN.findall(unicodedata.normalize("NFKC", text.casefold())) if t != "_"]


def tokens(text: str | None) -> list[str]:
    """The folded tokens of a text: punctuation and operators dropped.

    Computed per whitespace-separated chunk, cached: casefold, NFKD and mark removal work
    character by character (a whitespace character starts a new sequence), and every
    whitespace character is a word separator, so the result equals folding the whole text;
    but a corpus repeats its chunks, which makes indexing several times faster.
    """
    if not text:
        return []
    out: list[str] = []
    for chunk in text.split():
        out.extend(_chunk_tokens(chunk))
    return out


@lru_cache(maxsize=500_000)
def _chunk_tokens(chunk: str) -> tuple[str, ...]:
    return tuple(t for t in _TOKEN.findall(fold(chunk)) if t != "_")


#: Chunks cached as the strings the index fields are made of (chunk -> its tokens joined by
#: spaces, "" for none): per-document analysis is then one dict lookup per chunk inside C
#: (``map``/``filter``/``join``), ~5x faster than a Python loop over cached tuples. Plain
#: dicts, emptied when full: a bound, and no LRU bookkeeping per lookup.
CHUNK_CACHE_SIZE = 400_000
_FOLDED: dict[str, str] = {}
_STEMMED: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}


def _joined(chunks: list[str], cache_: dict[str, str], compute: Callable[[str], tuple[str, ...]]) -> str:
    """The cached strings of ``chunks`` joined by single spaces (empty ones left out)."""
    try:
        return " ".join(filter(None, map(cache_.__getitem__, chunks)))
    except KeyError:
        if len(cache_) > CHUNK_CACHE_SIZE:
            cache_.clear()
        out = []
        for chunk in chunks:
            part = cache_.get(chunk)
            if part is None:
                part = cache_[chunk] = " ".join(compute(chunk))
            if part:
                out.append(part)
        return " ".join(out)


def analysed(text: str | None) -> str:
    """Folded tokens joined by spaces, ready for a whitespace tokenizer (the ``*_a`` fields).

    Equal to ``" ".join(tokens(text))`` (tests/search/test_analysis.py), built from the
    per-chunk string cache.
    """
    if not text:
        return ""
    return _joined(text.split(), _FOLDED, _chunk_tokens)


def query_tokens(q: str | None) -> list[str]:
    """Folded tokens of a user query, capped so a pasted essay cannot build a huge query."""
    return tokens(q)[:MAX_QUERY_TOKENS]


def language_of(code: str | None) -> str | None:
    """The analysed language of a language tag ('nl-BE' -> 'nl'), or None when we have none."""
    if not code:
        return None
    base = code.split("-")[0].split("_")[0].lower()
    return base if base in LANGUAGES else None


@cache
def _stemmer(language: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(_SNOWBALL[language])


@lru_cache(maxsize=200_000)
def stem(word: str, language: str) -> str:
    """The folded Snowball stem of a lower-cased word (stemmed before folding: 'résultats' -> 'resultat').

    Dutch: a final double consonant is undoubled as well ("bronnen" -> "bronn" -> "bron"), which
    the Porter-style Dutch stemmer does only for k, d and t, so singular and plural meet.
    """
    stemmed_word = fold(_stemmer(language).stemWord(word))
    if (
        language == "nl"
        and len(stemmed_word) > 3
        and stemmed_word[-1] == stemmed_word[-2]
        and stemmed_word[-1] not in "aeiouy"
    ):
        stemmed_word = stemmed_word[:-1]
    return stemmed_word


@cache
def lexicon(language: str) -> frozenset[str]:
    """Folded words known in a language, for compound splitting; empty when unavailable (fallback)."""
    if language not in COMPOUND_LANGUAGES:
        return frozenset()
    try:
        from wordfreq import top_n_list
    except ImportError:  # the fallback: no splitting, whole words only
        return frozenset()
    stop = STOP_WORDS[language]
    words = (fold(w) for w in top_n_list(language, LEXICON_SIZE))
    return frozenset(w for w in words if len(w) >= MIN_PART and w.isalpha() and w not in stop)


@lru_cache(maxsize=200_000)
def compound_parts(word: str, language: str) -> tuple[str, ...]:
    """The parts of a Dutch or German compound (folded), or () when it is not one we can split.

    Greedy from the right (the head carries the meaning): the longest known head, then the
    modifier, which may itself be a known word or a compound, with an optional linking
    element ("stad-s-ontwikkeling", "Verwaltung-s-reform"). A word of the lexicon itself is
    split too when both parts are known ("proeftuin" -> "proef", "tuin").
    """
    known = lexicon(language)
    if not known or len(word) < MIN_COMPOUND or not word.isalpha():
        return ()
    for cut in range(MIN_PART, len(word) - MIN_PART + 1):
        head = word[cut:]
        if head not in known:
            continue
        left = word[:cut]
        for link in _LINKS[language]:  # no link first: "burger|beteiligung", not "burg-er|..."
            if link and not left.endswith(link):
                continue
            modifier = left[: len(left) - len(link)] if link else left
            if len(modifier) < MIN_PART:
                continue
            if modifier in known:
                return (modifier, head)
            inner = compound_parts(modifier, language)
            if inner:
                return (*inner, head)
    return ()


def index_terms(text: str | None, language: str | None) -> list[str]:
    """The stemmed-field tokens of a text in a language (folded tokens when not analysed)."""
    if not text:
        return []
    lang = language_of(language)
    if lang is None:
        return tokens(text)
    out: list[str] = []
    for chunk in text.split():  # per whitespace chunk, cached (see tokens() for why that is exact)
        out.extend(_chunk_terms(chunk, lang))
    return out


@lru_cache(maxsize=500_000)
def _chunk_terms(chunk: str, lang: str) -> tuple[str, ...]:
    return tuple(term for word in _words(chunk) for term in _word_terms(word, lang))


@lru_cache(maxsize=500_000)
def _word_terms(word: str, lang: str) -> tuple[str, ...]:
    """The stemmed-field tokens of one lower-cased word (cached: vocabularies repeat, texts do not)."""
    folded = fold(word)
    if folded in STOP_WORDS[lang]:
        return ()
    out = [stem(word, lang)]
    if folded != word:  # the stem of the unaccented spelling too, for people who type without accents
        plain = stem(folded, lang)
        if plain != out[-1]:
            out.append(plain)
    if lang in COMPOUND_LANGUAGES:
        out.extend(stem(part, lang) for part in compound_parts(folded, lang))
    return tuple(out)


def stemmed(text: str | None, language: str | None) -> str:
    """:func:`index_terms` joined by spaces (the ``*_s`` fields), from the per-chunk string cache."""
    if not text:
        return ""
    lang = language_of(language)
    if lang is None:
        return analysed(text)
    return _joined(text.split(), _STEMMED[lang], lambda chunk: _chunk_terms(chunk, lang))


#: Per language (None: not analysed), chunk -> its folded tokens joined by spaces, and chunk ->
#: its stemmed-field tokens joined by spaces, each followed by one space ("" for none): a field is
#: then one ``itemgetter`` call over the text's chunks (a C loop of dict lookups; the chunk's
#: hash, computed by the first lookup, is kept in the string for the second) and one join,
#: with no filter and no per-chunk tuple; the trailing space is cut once at the end.
_FOLDED_SP: dict[str | None, dict[str, str]] = {lang: {} for lang in (*LANGUAGES, None)}
_STEMMED_SP: dict[str | None, dict[str, str]] = {lang: {} for lang in (*LANGUAGES, None)}


def _fill_pairs(chunks: list[str], lang: str | None) -> None:
    """Put the chunks missing from the language's two caches into both (emptied first when full)."""
    folded_cache, stemmed_cache = _FOLDED_SP[lang], _STEMMED_SP[lang]
    if len(folded_cache) > CHUNK_CACHE_SIZE:
        folded_cache.clear()
        stemmed_cache.clear()
    for chunk in chunks:
        if chunk in folded_cache and chunk in stemmed_cache:
            continue
        folded = " ".join(_chunk_tokens(chunk))
        stems = folded if lang is None else " ".join(_chunk_terms(chunk, lang))
        folded_cache[chunk] = f"{folded} " if folded else ""
        stemmed_cache[chunk] = f"{stems} " if stems else ""


def analysed_pair(text: str | None, language: str | None) -> tuple[str, str]:
    """``(analysed(text), stemmed(text, language))``: what indexing calls for each text field.

    Per whitespace chunk (exact, see :func:`tokens`), from two caches whose values end with a
    space: ``itemgetter(*chunks)`` looks every chunk up in C and ``"".join`` glues the values;
    the lookups (hashing each chunk, a probe into a large dict) are most of the cost of
    analysing a document once the caches are warm. (A single chunk: the getter returns its
    string, and joining a string's characters gives the string back.)
    """
    if not text:
        return "", ""
    chunks = text.split()
    if not chunks:
        return "", ""
    lang = language_of(language)
    get = itemgetter(*chunks)
    try:
        folded = "".join(get(_FOLDED_SP[lang]))[:-1]
    except KeyError:
        _fill_pairs(chunks, lang)  # fills both caches
        folded = "".join(get(_FOLDED_SP[lang]))[:-1]
    if lang is None:  # not analysed: the stemmed fields hold the folded tokens
        return folded, folded
    return folded, "".join(get(_STEMMED_SP[lang]))[:-1]


def query_groups(q: str | None, languages: list[str] | None = None) -> list[list[str]]:
    """One group of alternatives per query word: its folded form and its stems.

    ``languages``: the language filter of the search, if any (only those stemmers are
    used); otherwise all four. A word that is a stop word in any candidate language is
    dropped: the documents of that language do not index it, and a function word is rarely
    what a search is about ("die" is German, "the" English). When every word is one, the backends match
    the plain folded words in the folded fields instead, so "the" alone still finds something.
    """
    if not q:
        return []
    candidates = [lang for lang in (language_of(x) for x in (languages or [])) if lang] or list(LANGUAGES)
    candidates = list(dict.fromkeys(candidates))
    groups: list[list[str]] = []
    for word in _words(q)[:MAX_QUERY_TOKENS]:
        folded = fold(word)
        folded_parts = _TOKEN.findall(folded)  # folding can split a word ("ǆ" etc.); keep it simple
        if len(folded_parts) != 1:
            continue
        if any(folded in STOP_WORDS[lang] for lang in candidates):
            continue
        alternatives = [folded, *(stem(word, lang) for lang in candidates)]
        groups.append(list(dict.fromkeys(a for a in alternatives if a)))
    return groups
