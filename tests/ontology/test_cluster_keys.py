"""Cluster keys are persisted (store/clusters.py): a faster ``keys_of`` must give the same keys.

The reference below is the straightforward definition ``ontology/cluster.py`` started from (one
blake2b and one ``int.from_bytes`` per shingle, ``struct.pack`` per band, the URL path trimmed with a
regex, every query parsed); stored band keys and signatures of earlier runs must keep matching.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from ontology.cluster import (
    BANDS,
    ROWS,
    SHINGLE,
    TRACKING,
    Clusterer,
    ClusterInput,
    _minhash,
    _minhash_reference,
    _tokens,
    _tokens_by_regex,
    canonical_url,
    keys_of,
)
from ontology.concepts import fold
from pipeline.store import cluster_input
from tests.ontology.test_fast_validation import all_corpus_batches


def reference_url(url: str | None) -> str | None:
    if not url or "://" not in url:
        return None
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    if not host:
        return None
    port = f":{parts.port}" if parts.port and parts.port not in (80, 443) else ""
    query = urlencode(
        sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING.match(k))
    )
    path = re.sub(r"/+$", "", parts.path) or "/"
    return urlunsplit(("https", host + port, path, query, ""))


def reference_tokens(text: str) -> list[str]:
    return [t for t in re.findall(r"\w+", fold(text)) if len(t) > 1]


def reference_bands(signature: list[int]) -> list[str]:
    out = []
    for b in range(BANDS):
        band = struct.pack(f">{ROWS}Q", *signature[b * ROWS : (b + 1) * ROWS])
        out.append(f"lsh:{b}:{hashlib.blake2b(band, digest_size=8).hexdigest()}")
    return out


def test_keys_of_every_corpus_item_equal_the_reference(corpus: Path) -> None:
    inputs = [
        cluster_input(m.iri, m.raw)
        for batch in all_corpus_batches(corpus)
        for m in batch
        if m.raw is not None
    ]
    with_bands = 0
    for item in inputs:
        keys = keys_of(item)
        url = reference_url(item.url)
        assert (url is None) or keys.exact[0] == "url:" + url
        tokens = _tokens(" ".join(t for t in (item.title, item.summary) if t))
        assert tokens == reference_tokens(" ".join(t for t in (item.title, item.summary) if t))
        assert tokens == _tokens_by_regex(" ".join(t for t in (item.title, item.summary) if t))
        if len(tokens) >= 5:
            with_bands += 1
            assert keys.signature == _minhash_reference(tokens)
            assert all(type(v) is int for v in keys.signature)
            assert keys.bands == reference_bands(keys.signature)
        else:
            assert keys.signature == []
            assert keys.bands == []
    assert with_bands > 300


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "bb", "cc", "dd", "ée", "ff", "gg", "hh"]), max_size=12))
def test_minhash_equals_the_reference_for_any_token_list(tokens: list[str]) -> None:
    assert SHINGLE == 2
    assert _minhash(tokens) == _minhash_reference(tokens)


#: Characters on each of ``_tokens``' ways: ASCII, marks that NFKD splits off (U+0300-U+036F, and
#: U+034F, which is not combining), separators (« ” – U+00A0 U+2060 ...), all of which keep a text on
#: the byte way; letters and digits that stay or turn ASCII (ß ª ² µ ﬁ ᴬ ⁰ ⁱ, Cyrillic, CJK), a mark
#: outside U+0300-U+036F, a lone surrogate: those send it to the regex.
BYTE_WAY_CHARS = (
    "ab é_1-’ \u0301\u2028\t.ÉZ\u00ab\u00bb\u201c\u2013\u00a0\u00b7\u00bf\u034f\u0308\u0327\u036f"
    "\u2060\u203f\u00d7\u00c7"
)
TOKEN_CHARS = (
    BYTE_WAY_CHARS + "\u00df\u4e00\u00aa\u00b2\u00b5\u0483\u20d0\ufb01\u1d2c\u2070\u2071\u207f\u0436\ud800"
)


#: Every character cp1252 encodes (the cp1252 way), with a few that leave it.
CP1252_CHARS = "".join(bytes([b]).decode("cp1252", "ignore") for b in range(256)) + "\u0301\u0153\u2122\u0142"


@settings(max_examples=1200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(BYTE_WAY_CHARS), max_size=30)
    | st.text(alphabet=st.sampled_from(CP1252_CHARS), max_size=30)
    | st.text(alphabet=st.sampled_from(TOKEN_CHARS), max_size=30)
    | st.text(max_size=30)
)
def test_tokens_equal_the_reference_for_any_text(text: str) -> None:
    assert _tokens(text) == reference_tokens(text)
    assert _tokens(text) == _tokens_by_regex(text)


URL_PARTS = st.sampled_from(
    ["http://", "https://", "HTTP://www.", "https://WWW.Ex.org", "ex.org", ":8080", ":443", "/", "//", "/a/", "?", "?utm_source=x",
     "&b=2", "&a=", "#frag", "?q=1&q=0", "%20", "\n", " ", "fbclid=1", "/path//", "?", "&", "u@", "[::1]", "]",
     "%zZ", "\t", "\r", "\x01", "Www.", "www.", "H", "/Ä", "\\", ".", ":", ";x", "=", "=x", "+", "~", "?ref=1", "a"]
)  # fmt: skip


def _outcome(function, url: str) -> tuple[str, str | None]:
    try:
        return "ok", function(url)
    except ValueError as exc:  # a port out of range: both must fail alike
        return "error", str(exc)


@settings(max_examples=2000, deadline=None)
@given(st.lists(URL_PARTS, max_size=10).map("".join))
def test_canonical_url_equals_the_reference(url: str) -> None:
    assert _outcome(canonical_url, url) == _outcome(reference_url, url)


def test_a_short_text_has_no_bands() -> None:
    assert keys_of(ClusterInput(iri="x", title="one two three")).bands == []


def test_assign_all_gives_one_by_one_clusters_and_skips_bands_of_known_copies(corpus: Path) -> None:
    """A batch assigns what ``assign`` item by item assigns; a copy whose exact key is known (earlier
    in the run, earlier in its batch, or stored by an earlier run) gets no signature computed."""
    inputs = [
        cluster_input(m.iri, m.raw)
        for batch in all_corpus_batches(corpus)
        for m in batch
        if m.raw is not None
    ]
    again = [replace(x, iri=x.iri + "/again") for x in inputs]  # a re-harvest: same URLs and texts
    one = Clusterer(lambda key: key)
    expected = [one.assign(x)[0] for x in inputs + again]
    batched = Clusterer(lambda key: key)
    got = [batched.assign_all(inputs[i : i + 20] + again[i : i + 20]) for i in range(0, len(inputs), 20)]
    assert [cluster for batch in got for cluster, _ in batch] == sorted_like(expected, len(inputs))
    first = [keys for batch in got for _, keys in batch[: len(batch) // 2]]
    copies = [keys for batch in got for _, keys in batch[len(batch) // 2 :]]
    assert sum(bool(k.bands) for k in first) > 300
    assert all(k.bands == [] and k.signature == [] for k in copies if k.exact)
    # The next run reads this run's keys from the store: every copy finds its cluster.
    index, signatures = dict(batched.index), dict(batched.signatures)
    later = Clusterer(
        lambda key: "new:" + key,
        lookup=lambda keys: {k: index[k] for k in keys if k in index},
        signatures=lambda ids: {c: signatures[c] for c in ids if c in signatures},
    )
    rerun = [cluster for i in range(0, len(inputs), 20) for cluster, _ in later.assign_all(again[i : i + 20])]
    assert rerun == expected[len(inputs) :]


def sorted_like(expected: list[str], n: int) -> list[str]:
    """One-by-one results (all originals, then all copies) in the batches' order (20 + their 20 copies)."""
    return [
        c
        for i in range(0, n, 20)
        for c in expected[i : min(i + 20, n)] + expected[n + i : n + min(i + 20, n)]
    ]
