"""The cached analysis equals the plain one: whole text, no caches, word by word.

Indexing analyses each document through per-chunk string caches (search.analysis
``_joined``); these tests compute the same fields from first principles (fold or split the
whole text at once, then the word rules) over real corpus files in many languages and
random strings with accents, marks, punctuation and odd whitespace, including the second
call (served from the caches) and a cache emptied half way.
"""

from __future__ import annotations

import random
import unicodedata
from pathlib import Path

import pytest

from search import analysis
from search.analysis import _TOKEN, _word_terms, _words, analysed, analysed_pair, fold, language_of, stemmed

LANGS = ("nl", "en", "fr", "de", "es", None)


def reference_folded(text: str) -> str:
    return " ".join(t for t in _TOKEN.findall(fold(text)) if t != "_")


def reference_stemmed(text: str, language: str | None) -> str:
    lang = language_of(language)
    if lang is None:
        return reference_folded(text)
    return " ".join(term for word in _words(text) for term in _word_terms(word, lang))


def corpus_texts(corpus: Path) -> list[str]:
    files = sorted(p for p in corpus.rglob("*") if p.is_file() and p.stat().st_size < 400_000)
    texts = []
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        texts.extend(text[i : i + 3000] for i in range(0, min(len(text), 30_000), 3000))
    return texts


def random_texts(count: int) -> list[str]:
    rnd = random.Random(5)
    alphabet = (
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        "éèêëàâäîïôöûüçñßÉÖÜŒœæĳǆ_-'’.,;:!?()[]\"<>/\\@#&*+= \t\n\u00a0\u2003"
        "\u0301\u0308\u200b\ufb01①²"
    )
    words = ["burgerparticipatie", "Verwaltungsreform", "gemeenten", "résultats", "Überprüfung", "the", "de"]
    out = []
    for _ in range(count):
        parts = [
            rnd.choice(words)
            if rnd.random() < 0.3
            else "".join(rnd.choices(alphabet, k=rnd.randrange(1, 12)))
            for _ in range(rnd.randrange(0, 30))
        ]
        out.append(" ".join(parts))
    return out


@pytest.fixture
def texts(corpus: Path) -> list[str]:
    found = corpus_texts(corpus)
    assert len(found) > 200
    return found + random_texts(5000) + ["", "   ", "_ _", "a\u0301", "ﬁnance"]


def test_cached_fields_equal_the_whole_text_analysis(texts: list[str]) -> None:
    for round_ in range(2):  # the second round is answered from the caches
        for i, text in enumerate(texts):
            lang = LANGS[i % len(LANGS)]
            assert analysed(text) == reference_folded(text), (round_, text)
            assert stemmed(text, lang) == reference_stemmed(text, lang), (round_, lang, text)


def test_a_full_cache_is_emptied_and_refilled(texts: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analysis, "CHUNK_CACHE_SIZE", 50)
    analysis._FOLDED.clear()
    longest = max(len(text.split()) for text in texts[:800])
    for i, text in enumerate(texts[:800]):
        lang = LANGS[i % len(LANGS)]
        assert analysed(text) == reference_folded(text)
        assert stemmed(text, lang) == reference_stemmed(text, lang)
        assert len(analysis._FOLDED) <= 50 + 1 + longest  # emptied on the first miss when full
    assert unicodedata.is_normalized("NFC", analysed("Société"))


def test_the_pair_indexing_uses_equals_the_two_fields(texts: list[str]) -> None:
    for round_ in range(2):
        for i, text in enumerate(texts):
            lang = LANGS[i % len(LANGS)]
            assert analysed_pair(text, lang) == (reference_folded(text), reference_stemmed(text, lang)), (
                round_,
                text,
            )


def test_the_pair_caches_are_bounded_and_stay_exact(
    texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(analysis, "CHUNK_CACHE_SIZE", 50)
    for lang in analysis._FOLDED_SP:
        analysis._FOLDED_SP[lang].clear()
        analysis._STEMMED_SP[lang].clear()
    longest = max(len(text.split()) for text in texts[:800])
    for i, text in enumerate(texts[:800]):
        lang = LANGS[i % len(LANGS)]
        assert analysed_pair(text, lang) == (reference_folded(text), reference_stemmed(text, lang))
        key = language_of(lang)
        assert len(analysis._FOLDED_SP[key]) <= 50 + 1 + longest  # emptied on the first miss when full
        assert analysis._FOLDED_SP[key].keys() == analysis._STEMMED_SP[key].keys()
    one_word = {"Société": ("societe", "societ"), "  de  ": ("de", ""), " \t ": ("", "")}
    for text, pair in one_word.items():  # a single chunk: the getter returns a string, not a tuple
        assert analysed_pair(text, "fr") == pair
