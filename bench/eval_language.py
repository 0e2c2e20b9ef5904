"""Language detection on corpus news: accuracy against the feed's declared language, agreement, cost.

Run: ``.venv/bin/python -m bench.eval_language`` (hold the bench lock: it times the detector).
Input: every item of the corpus feeds in ../shared/corpus/rss_atom/ whose item or feed declares
nl/en/fr/de; the declared tag is hidden and the text the mappers detect on (clean title + clean
summary, joined) is detected with ``ontology.language`` at several prefix lengths. A text the
detector leaves untagged (too short, or unsure) counts as a miss for accuracy. ``agree`` compares
each prefix with the 1,000-character prefix the mappers used before (issue 4, map speed).
"""

from __future__ import annotations

import logging
import os
import sys
import time

from lingua import LanguageDetectorBuilder
from rdflib import Graph, Literal

from bench.bench_ingest import CORPUS, SOURCE
from crawlers.platforms.feed import parse_feed
from ontology.language import DETECTED, MIN_CHARS, function_word_vote, normalise_tag
from ontology.mapping.common import clean_text

RDF_DIRS = ("dcat", "edm", "skos", "oslo")
FORMATS = {".ttl": "turtle", ".nt": "nt", ".rdf": "xml", ".xml": "xml", ".jsonld": "json-ld"}


def rdf_literals() -> list[tuple[str, str]]:
    """(language, text) of every nl/en/fr/de-tagged literal of 40+ characters in the corpus' RDF files."""
    out: set[tuple[str, str]] = set()
    logging.disable(logging.CRITICAL)  # rdflib logs every odd literal of these files
    for name in RDF_DIRS:
        for path in sorted((CORPUS.parent / name).glob("*")):
            fmt = FORMATS.get(path.suffix)
            if fmt is None:
                continue
            graph = Graph()
            try:
                graph.parse(path, format=fmt)
            except Exception:  # noqa: BLE001,S112 - files rdflib cannot read offline are skipped
                continue
            for obj in graph.objects():
                lang = (obj.language or "").split("-")[0] if isinstance(obj, Literal) else ""
                if lang in ("nl", "en", "fr", "de") and len(" ".join(str(obj).split())) >= 40:
                    out.add((lang, " ".join(str(obj).split())))
    logging.disable(logging.NOTSET)
    return sorted(out)


def texts() -> tuple[list[tuple[str, str]], list[str]]:
    """(declared primary tag, text) of declared nl/en/fr/de items, and the texts of all other items.

    The others are the undeclared items and those declared in another language (es, pt, ru ...):
    the mappers detect only on undeclared text, but a feed without its declaration would be read so.
    """
    declared, undeclared = [], []
    for path in sorted(CORPUS.glob("*.xml")):
        try:
            items = parse_feed(path.read_bytes(), SOURCE).items
        except Exception:  # noqa: BLE001 - unreadable corpus files are not items
            continue
        for item in items:
            joined = " ".join(t for t in (clean_text(item.title), clean_text(item.summary)) if t)
            if not joined or len(joined.strip()) < MIN_CHARS:
                continue
            tag = normalise_tag(item.language)
            primary = tag.split("-")[0] if tag else None
            if primary in ("nl", "en", "fr", "de"):
                declared.append((primary, joined))
            else:  # undeclared, or declared in a language we do not detect (hidden here too)
                undeclared.append(joined)
    return declared, undeclared


def main() -> None:
    detector = (
        LanguageDetectorBuilder.from_languages(*DETECTED)
        .with_preloaded_language_models()
        .with_low_accuracy_mode()
        .with_minimum_relative_distance(0.05)
        .build()
    )

    def before(text: str) -> str | None:  # ontology/language.py before the function-word vote
        found = detector.detect_language_of(text[:1000])
        return found.iso_code_639_1.name.lower() if found is not None else None

    def after(text: str) -> str | None:  # = detect_language without its cache
        voted = function_word_vote(text[:1000])
        return voted if voted is not None else before(text)

    feeds, undeclared = texts()
    sets = {"feed items, declared": feeds, "RDF literals, tagged": rdf_literals()}
    print(f"load {os.getloadavg()}")
    print(
        "| texts | n (nl/en/fr/de) | before: right | after: right | decided by vote | vote wrong | after = before |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, pairs in sets.items():
        counts = "/".join(str(sum(lang == x for lang, _ in pairs)) for x in ("nl", "en", "fr", "de"))
        old = [before(t) for _, t in pairs]
        new = [after(t) for _, t in pairs]
        votes = [function_word_vote(t[:1000]) for _, t in pairs]
        right_old = sum(o == lang for o, (lang, _) in zip(old, pairs, strict=True))
        right_new = sum(o == lang for o, (lang, _) in zip(new, pairs, strict=True))
        decided = sum(v is not None for v in votes)
        wrong = sum(v is not None and v != lang for v, (lang, _) in zip(votes, pairs, strict=True))
        same = sum(o == n for o, n in zip(old, new, strict=True))
        print(
            f"| {name} | {len(pairs)} ({counts}) | {right_old} ({100 * right_old / len(pairs):.1f} %) | "
            f"{right_new} ({100 * right_new / len(pairs):.1f} %) | {decided} | {wrong} | {same} |"
        )
        if "--wrong" in sys.argv:
            for (lang, text), o, n in zip(pairs, old, new, strict=True):
                if o != lang or n != lang:
                    print("   declared", lang, "before", o, "after", n, repr(text[:100]))
    old_u = [before(t) for t in undeclared]
    new_u = [after(t) for t in undeclared]
    decided_u = sum(function_word_vote(t[:1000]) is not None for t in undeclared)
    same_u = sum(o == n for o, n in zip(old_u, new_u, strict=True))
    print(f"| feed items, undeclared | {len(undeclared)} | - | - | {decided_u} | - | {same_u} |")
    if "--wrong" in sys.argv:
        for text, o, n in zip(undeclared, old_u, new_u, strict=True):
            if o != n:
                print("   undeclared before", o, "after", n, repr(text[:100]))
    for label, fn in (("before (lingua)", before), ("after (vote, else lingua)", after)):
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for t in undeclared:
                fn(t)
            best = min(best, time.perf_counter() - start)
        print(f"{label}: {1e6 * best / len(undeclared):.1f} µs per undeclared feed text (best of 5)")


if __name__ == "__main__":
    main()
