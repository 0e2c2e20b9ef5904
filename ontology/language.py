"""Language of untagged text, restricted to the languages our networks publish in.

A detector restricted to a handful of languages is both faster and more accurate than an
open-world one; lingua's low-accuracy mode costs ~30 µs per text here. Text too short to
judge yields ``None`` (the literal then stays untagged rather than wrongly tagged).
"""

from __future__ import annotations

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


def detect_language(text: str | None) -> str | None:
    """The BCP 47 primary tag (``nl``, ``en``, ``fr``, ``de``) or None when unsure or too short."""
    if not text or len(text.strip()) < MIN_CHARS:
        return None
    return _detect(text[:1000])


@lru_cache(maxsize=8192)
def _detect(text: str) -> str | None:
    # Bounded cache: a harvest re-maps every item of a feed each cycle (unchanged ones too), and the
    # same text is detected again each time; lingua costs ~0.1 ms per call, a hit ~0.1 µs.
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
