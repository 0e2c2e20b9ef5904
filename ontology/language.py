"""Language of untagged text, restricted to the languages our networks publish in.

A detector restricted to a handful of languages is both faster and more accurate than an
open-world one; lingua's low-accuracy mode costs ~30 µs per text here. Text too short to
judge yields ``None`` (the literal then stays untagged rather than wrongly tagged).
"""

from __future__ import annotations

import re
from functools import lru_cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder

#: Languages we detect; anything else is left untagged unless the source says otherwise.
DETECTED = (Language.DUTCH, Language.ENGLISH, Language.FRENCH, Language.GERMAN)
MIN_CHARS = 12


@lru_cache(maxsize=1)
def _detector() -> LanguageDetector:
    return (
        LanguageDetectorBuilder.from_languages(*DETECTED)
        .with_preloaded_language_models()
        .with_low_accuracy_mode()
        .with_minimum_relative_distance(0.05)
        .build()
    )


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Function words that occur in one of the four languages only (not "de", "die", "in", "is", "of",
#: "als", "wie", "des", "du", "an", "er", "was" ...: each of those is common in two of them).
STOPWORDS: dict[str, frozenset[str]] = {
    "nl": _words(
        "het een van voor niet zijn met ook naar bij wordt worden deze dat maar nog wel hun uit zal"
        " heeft hebben werd waar zoals tot door tussen omdat wij onze ons hoe wat jullie dit geen"
        " meer moet kunnen zich"
    ),
    "en": _words(
        "the and to with for that this are from by have has will their which it be been its or how"
        " what about after into we our you they were would can not more than new"
    ),
    "fr": _words(
        "le la les un une et est pour dans sur par avec qui que pas plus au aux ce cette ces sont son"
        " sa ses nous vous il elle ont été leur entre mais ou où se lui très"
    ),
    "de": _words(
        "der und das ist nicht mit für auf ein eine einen dem sich im zu zum zur bei auch wird werden"
        " sind von aus nach oder über unter durch mehr noch kann können haben hat wir sie es dass vor"
        " einem einer"
    ),
    # Not a language we tag: Spanish, Portuguese and Italian function words ("la", "se", "un",
    # "que", "il" are French too). A text with any of them goes to lingua, which the four-language
    # restriction forces to pick one of ours: the vote must not pick a different one.
    "other": _words(
        "el los las del por para con una como más pero sus ha han fue muy está este esta hay"
        " también su em não os uma com pelo pela nas dos ao é são foi seu sua mas menos di che"
        " gli della degli sono anche nel nella alla questo è"
    ),
}
#: The shortcut decides when one language has at least this many function words, at least
#: DOMINANCE times as many as any other, and the text has no "other" function word; otherwise
#: lingua decides (docs/vocabulary.md, table).
MIN_VOTES = 2
DOMINANCE = 3
_WORDS = re.compile(r"[^\W\d_]+")
#: word -> its language (the lists are disjoint: tests/ontology/test_language.py).
_LANGUAGE_OF = {word: lang for lang, words in STOPWORDS.items() for word in words}


def detect_language(text: str | None) -> str | None:
    """The BCP 47 primary tag (``nl``, ``en``, ``fr``, ``de``) or None when unsure or too short."""
    if not text or len(text.strip()) < MIN_CHARS:
        return None
    return _detect(text[:1000])


def function_word_vote(text: str) -> str | None:
    """The language whose exclusive function words clearly dominate ``text``, else None.

    Why: lingua costs ~0.05-0.1 ms per text (it scores every trigram against four models); a text
    with several function words of one language only is decided by counting them (~5 µs). On the
    corpus texts with a declared language it is right wherever it decides, and on every corpus
    feed text it decides it agrees with lingua (docs/vocabulary.md, bench/eval_language.py).
    """
    votes = dict.fromkeys(STOPWORDS, 0)
    language_of = _LANGUAGE_OF
    for word in _WORDS.findall(text.lower()):
        lang = language_of.get(word)
        if lang is not None:
            votes[lang] += 1
    ranked = sorted(votes.items(), key=lambda kv: kv[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    if votes["other"] == 0 and top >= MIN_VOTES and top >= DOMINANCE * second:
        return best
    return None


@lru_cache(maxsize=8192)
def _detect(text: str) -> str | None:
    # Bounded cache: a harvest re-maps every item of a feed each cycle (unchanged ones too), and the
    # same text is detected again each time; lingua costs ~0.1 ms per call, a hit ~0.1 µs.
    voted = function_word_vote(text)
    if voted is not None:
        return voted
    found = _detector().detect_language_of(text)
    return found.iso_code_639_1.name.lower() if found is not None else None


def forget_detections() -> None:
    """Drop the per-text cache, for benchmarks that must meet every text for the first time."""
    _detect.cache_clear()


@lru_cache(maxsize=1024)
def normalise_tag(tag: str | None) -> str | None:
    """``nl_BE`` / ``NL-be`` -> ``nl-be``; anything not shaped like a language tag -> None."""
    value = (tag or "").strip().replace("_", "-").lower()
    if value and all(part.isalnum() and len(part) <= 8 for part in value.split("-")) and value[:2].isalpha():
        return value
    return None
