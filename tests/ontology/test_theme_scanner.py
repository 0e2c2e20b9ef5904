"""The theme scanner grouped by first character finds exactly what the plain alternation finds.

ontology/themes.py ``_scanner`` regroups the label alternatives by their first character so re can
skip the groups that cannot start at a position; the plain one-group-per-concept regex is the
definition. Both are run over every corpus text (title, summary, body, tags) and over generated text.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ontology.concepts import collapsed, fold, schemes, strip_combining
from ontology.themes import (
    MAX_CHARS,
    _concept_of,
    _plain_scanner,
    _scanner,
    _text_scanner,
    _trie,
    _word_scanner,
    scan,
)
from tests.ontology.test_fast_validation import all_corpus_batches


def _hits(scanner_and_names, text: str) -> list[tuple[tuple[int, int], str, str]]:
    scanner, names = scanner_and_names
    return [(m.span(), m.group(0), str(names[m.lastgroup or ""])) for m in scanner.finditer(text)]


def _labels() -> list[str]:
    theme = schemes()["theme"]
    return [label for kinds in theme.labels.values() for values in kinds.values() for label, _ in values]


def test_the_grouped_scanner_is_used_and_matches_like_the_plain_one(corpus: Path) -> None:
    assert _scanner()[0] is not _plain_scanner()[0]
    raws = [m.raw for batch in all_corpus_batches(corpus) for m in batch if m.raw is not None]
    texts = [v for r in raws for v in (r.title, r.summary, r.body_html, *r.tags) if v]
    texts += _labels() + [" ".join(_labels())]  # every label, alone and in running text
    found = 0
    for text in texts:
        folded = fold(text[:MAX_CHARS])
        want = _hits(_plain_scanner(), folded)
        assert _hits(_scanner(), folded) == want, text
        found += len(want)
        match = _scanner()[0].fullmatch(folded)
        plain = _plain_scanner()[0].fullmatch(folded)
        assert (match and _scanner()[1][match.lastgroup or ""]) == (
            plain and _plain_scanner()[1][plain.lastgroup or ""]
        )
    assert found > 100


LABEL_WORDS = sorted({word for label in _labels() for word in fold(label).replace("*", "").split()})


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(LABEL_WORDS), st.sampled_from([" ", "-", "s", "en", ".", "x", "'"])),
        max_size=30,
    )
)
def test_the_grouped_scanner_matches_like_the_plain_one_on_generated_text(parts: list[str]) -> None:
    text = fold("".join(parts)) if parts else ""
    assert _hits(_scanner(), text) == _hits(_plain_scanner(), text)


def _scan_plain(text: str) -> list[tuple[str, str]]:
    return [(c, word) for _, word, c in _hits(_plain_scanner(), text)]


def test_the_text_scanner_is_used_and_finds_what_the_plain_one_finds(corpus: Path) -> None:
    """``scan`` (separator-first regex without groups, factored by first characters, over " " + text)
    = the plain scanner's (concept, text) list."""
    assert _word_scanner() is not None  # the factored form is in use
    assert _text_scanner()[2] == 1  # and its fallback is the separator-first form
    raws = [m.raw for batch in all_corpus_batches(corpus) for m in batch if m.raw is not None]
    texts = [v for r in raws for v in (r.title, r.summary, r.body_html, *r.tags) if v]
    texts += _labels() + [" ".join(_labels()), "-".join(_labels()), ".".join(_labels())]
    found = 0
    for text in texts:
        folded = fold(text[:MAX_CHARS])
        want = _scan_plain(folded)
        assert [(str(c), w) for c, w in scan(folded)] == want, text
        found += len(want)
    assert found > 100


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(LABEL_WORDS),
            st.sampled_from([" ", "-", "s", "en", ".", "x", "'", "é", "_", "1", "(", "\n", ""]),
        ),
        max_size=30,
    )
)
def test_the_text_scanner_matches_like_the_plain_one_on_generated_text(parts: list[str]) -> None:
    text = fold("".join(parts)) if parts else ""
    assert [(str(c), w) for c, w in scan(text)] == _scan_plain(text)
    raw = "".join(parts)  # unfolded too: any character before or after a label
    assert [(str(c), w) for c, w in scan(raw)] == _scan_plain(raw)


def test_the_factored_alternation_keeps_the_order_of_alternatives_that_start_alike() -> None:
    """``_trie`` factors literal first characters out and keeps each group's order; alternatives that do
    not all start with a literal (a class, a quantified character) stay a flat alternation."""
    assert _trie(["abc", "xy", "abd"]) == "(?:ab(?:c|d)|xy)"
    assert _trie(["ab", "a[\\s-]+b", "as?"]) == "a(?:b|[\\s-]+b|s?)"
    # "." is no literal character, "\." is one
    assert _trie([r"a\.b", "a.b", r"x\.y", r"x\.z"]) == r"(?:a(?:\.b|.b)|x\.(?:y|z))"
    # the first alternative that matches wins in both forms (here the shorter one, listed first)
    flat = re.compile("(?:ab|abc)")
    assert re.compile(_trie(["ab", "abc"])).match("abc").group(0) == flat.match("abc").group(0) == "ab"


def _unicode_scan(folded: str) -> list[tuple[str, str]]:
    """``scan`` with the Unicode word scanner only (its definition before the ASCII variant)."""
    words = _word_scanner()
    assert words is not None
    return [(str(_concept_of(m[1:])), m[1:]) for m in words.findall(" " + folded)]


@settings(max_examples=600, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(LABEL_WORDS),
            # separators ASCII and Unicode classes agree on, and the ones they do not (U+001C-1F are
            # Unicode whitespace but not ASCII \s), plus non-ASCII letters and marks
            st.sampled_from(
                [" ", "  ", "-", "\t", "\n", "\x1c", "\x1f", "_", "s", "0", "é", "\u0301", "ø", "’"]
            ),
        ),
        max_size=30,
    )
)
def test_scan_with_the_ascii_scanner_finds_what_the_unicode_one_finds(parts: list[str]) -> None:
    text = "".join(parts)
    assert [(str(c), w) for c, w in scan(text)] == _unicode_scan(text)
    assert [(str(c), w) for c, w in scan(fold(text))] == _unicode_scan(fold(text))


@settings(max_examples=600, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from([" ", "a", "É", "\t", "\n", "\x1c", "\xa0", "\u2028", "\u3000", "\xad", "’"])
    )
)
def test_collapsed_is_split_and_join(text: str) -> None:
    assert collapsed(text) == " ".join(text.split())


def test_scan_of_every_label_with_every_kind_of_separator() -> None:
    # Multi-word labels joined by separators the ASCII and Unicode classes agree on and by the ones
    # they do not (U+001C-1F): the ASCII scanner must never be used where they would differ.
    found = 0
    for label in _labels():
        words = fold(label).replace("*", "").split()
        for sep in (" ", "  ", "-", "\t", "\n", "\x1c", "\x1d", "\x1e", "\x1f", "\u2028", "\xa0"):
            text = f"x {sep.join(words)}, y"
            want = _unicode_scan(text)
            assert [(str(c), w) for c, w in scan(text)] == want, repr(text)
            found += bool(want)
    assert found > 1000


def _fold_by_definition(text: str) -> str:
    """``fold`` without its shortcuts: casefold, NFKD, combining marks dropped, whitespace collapsed."""
    bare = strip_combining(unicodedata.normalize("NFKD", text.casefold()))
    return " ".join(bare.replace("’", "'").split())


def test_fold_equals_its_definition_around_every_character() -> None:
    # Every BMP character (the inert-text shortcut is decided per character) in a few contexts:
    # with ASCII, with '’', with a final-sigma context and with a combining mark.
    for point in range(0x80, 0x10000, 1):
        if 0xD800 <= point <= 0xDFFF:
            continue
        char = chr(point)
        for text in (char, f"Ab {char}’x", f"ΣA{char}Σ", f"x{char}\u0301 y"):
            assert fold(text) == _fold_by_definition(text), hex(point)
