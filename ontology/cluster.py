"""Clusters: copies of the same story or event from different networks, every copy kept.

Three kinds of evidence, cheapest first, each reduced to *keys* so that a persistent
key -> cluster table (store/clusters.py) finds earlier copies without comparing all pairs:

* ``url:``   the canonical URL (lower-cased host, no ``www.``, no fragment, tracking parameters
             such as ``utm_*``/``fbclid`` stripped, query sorted, http == https);
* ``hash:``  a hash of the folded title + summary (exact copies under another URL);
* ``event:`` start instant (UTC, to the minute) + place (rounded coordinates, else folded place
             name): language-independent, so a Dutch and a French announcement of one event meet;
* ``lsh:``   MinHash bands over word shingles of title + summary (near-duplicates: a re-titled
             or shortened copy). A near-duplicate joins a cluster only when at least
             ``MIN_BANDS`` bands agree, which keeps near-misses (same topic, other story) apart.

Clustering adds ``innonet:cluster`` to an item's derived graph; it never merges or drops items.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from ontology.concepts import strip_combining

TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|msclkid|yclid|igshid|mc_cid|mc_eid|_ga|_gl|ref|ref_src|cmpid|wt_mc|at_\w+|xtor|ns_\w+|spm|share|from)$",
    re.IGNORECASE,
)
SHINGLE = 2
BANDS, ROWS = 16, 3
#: Estimated shingle Jaccard a band candidate must reach to join (checked on the full signature).
MIN_SIMILARITY = 0.5
_SEEDS = [
    int.from_bytes(hashlib.sha256(f"seed{i}".encode()).digest()[:8], "big") for i in range(BANDS * ROWS)
]
_MASK = (1 << 64) - 1
#: The same seeds and multiplier as uint64 arrays: numpy's uint64 arithmetic wraps modulo 2**64,
#: which is exactly ``& _MASK``, so the vectorised signature equals the pure-Python one bit for bit.
_SEED_ARRAY = np.array(_SEEDS, dtype=np.uint64)
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_WORDS = re.compile(r"\w\w+")


#: An http(s) URL without user, port, IPv6 brackets, %-escapes in the host, or the tab/CR/LF that
#: urlsplit deletes, whose query (if any) has only unreserved characters, ``&`` and ``=`` (nothing
#: for parse_qsl to decode or urlencode to escape): its canonical form is plain string work
#: (urlsplit, the hostname and port properties, parse_qsl, urlencode and urlunsplit cost ~5 µs per
#: item). tests/ontology/test_cluster_keys.py compares canonical_url with the urlsplit definition
#: on corpus URLs and generated ones.
_SIMPLE_URL = re.compile(
    r"https?://([^/?#@:\[\]%\t\r\n]+)(/[^?#\t\r\n]*)?(?:\?([\w.~&=-]*))?(?:#[^\t\r\n]*)?", re.ASCII
).fullmatch


def _simple_query(query: str) -> str | None:
    """``urlencode(sorted(...))`` of the query's non-tracking pairs, or None when a value holds ``=``."""
    pairs = []
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            if "=" in value:
                return None  # urlencode would write it as %3D
            if not TRACKING.match(name):
                pairs.append((name, value))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def canonical_url(url: str | None) -> str | None:
    """The URL as every copy of one page would name it, or None for relative or empty links."""
    if not url or "://" not in url:
        return None
    simple = _SIMPLE_URL(url.strip()) if url.isascii() else None
    if simple is not None:
        host_text, path, query_text = simple.groups()
        query = _simple_query(query_text) if query_text else ""
        if query is not None:
            host = host_text.lower().removeprefix("www.")
            if not host:
                return None
            path = (path or "").rstrip("/") or "/"
            return f"https://{host}{path}?{query}" if query else f"https://{host}{path}"
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    if not host:
        return None
    port = f":{parts.port}" if parts.port and parts.port not in (80, 443) else ""
    query = (
        urlencode(
            sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING.match(k))
        )
        if parts.query
        else ""  # what urlencode(sorted([])) gives, without parsing nothing
    )
    # urlsplit removed any newline, so rstrip is the old ``re.sub(r"/+$", "", path)``.
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("https", host + port, path, query, ""))


def _tokens(text: str) -> list[str]:
    r"""The folded text's words of two or more characters (``\w\w+`` runs of the folded text).

    ``ontology.concepts.fold`` without its last steps: collapsing whitespace and turning ’ into '
    change only characters that are not ``\w``, so the words are the same without them. The words
    are cut with byte operations when the text is ASCII, when its folded form is cp1252 text whose
    every character stands for one ASCII letter or a separator (``_CP1252_WORDS``), or when it is,
    decomposed, ASCII apart from the separators and marks below (~2-3x cheaper than the regex;
    ``_tokens_by_regex`` is the definition, and the rest of the texts go to it: ~4 % of the non-ASCII
    corpus texts). tests/ontology/test_cluster_keys.py compares them.
    """
    return [word.decode() for word in _token_bytes(text)]


def _token_bytes(text: str) -> list[bytes]:
    """``_tokens`` UTF-8 encoded: what the text hash and the word-pair digests are made of, so the
    byte ways never decode their words (nor the digests encode them again)."""
    if text.isascii():
        words = text.encode().translate(_ASCII_LOWER_WORDS).split()
        return [word for word in words if len(word) > 1]
    folded = text.casefold()
    try:
        # Western European text: each cp1252 character stands for its folded base letter or a space.
        data = folded.encode("cp1252").translate(_CP1252_WORDS)
    except UnicodeEncodeError:
        data = b"\x80"
    if not data.isascii():
        decomposed = unicodedata.normalize("NFKD", folded)
        # Combining marks deleted (what strip_combining does to them), punctuation turned to spaces.
        data = _SEPARATORS.sub(b" ", _MARKS.sub(b"", decomposed.encode("utf-8", "surrogatepass")))
        if not data.isascii():  # another letter, mark or sign: the regex decides
            return [word.encode() for word in _WORDS.findall(strip_combining(decomposed))]
        data = data.translate(_ASCII_WORDS)
    return [word for word in data.split() if len(word) > 1]


def _tokens_by_regex(text: str) -> list[str]:
    r"""``_tokens``' definition: the ``\w\w+`` runs of the lower-cased or folded text."""
    if text.isascii():
        return _WORDS.findall(text.lower())
    return _WORDS.findall(strip_combining(unicodedata.normalize("NFKD", text.casefold())))


_WORD_CHAR = re.compile(r"\w").match
#: Byte tables for ``bytes.translate``: an ASCII word character (``\w``) stays, any other byte becomes
#: a space, so ``split()`` gives the ``\w`` runs; the second also lower-cases A-Z (``str.lower`` of ASCII).
_ASCII_WORDS = bytes(b if b < 128 and _WORD_CHAR(chr(b)) else 32 for b in range(256))
_ASCII_LOWER_WORDS = bytes(b + 32 if 65 <= b <= 90 else b for b in _ASCII_WORDS)


def _cp1252_words() -> bytes:
    """A ``bytes.translate`` table for cp1252-encoded folded text: each byte becomes what NFKD and
    ``strip_combining`` leave of its character when that is one ASCII word character (é -> e, ª -> a,
    ² -> 2), a space when it holds no word character (’ “ – « € NBSP ...), else 0x80: a character
    that turns into several word characters or a non-ASCII one (™ ½ œ æ ø µ ...), or a byte cp1252
    does not define; a text with one of those takes the next way (``isascii`` tells)."""
    table = bytearray(_ASCII_WORDS)
    for b in range(128, 256):
        try:
            char = bytes([b]).decode("cp1252")
        except UnicodeDecodeError:
            table[b] = 0x80
            continue
        bare = strip_combining(unicodedata.normalize("NFKD", char))
        # (an empty ``bare`` would join its neighbours into one word, which a space does not do)
        if bare and not any(_WORD_CHAR(c) for c in bare):
            table[b] = 32
        elif len(bare) == 1 and bare.isascii():
            table[b] = ord(bare)
        else:
            table[b] = 0x80
    return bytes(table)


_CP1252_WORDS = _cp1252_words()


def _utf8_class(chars: list[str]) -> re.Pattern[bytes]:
    """A bytes pattern matching exactly the UTF-8 encoding of one of ``chars`` (grouped by lead bytes)."""
    tails: dict[bytes, list[int]] = {}
    for char in chars:
        encoded = char.encode()
        tails.setdefault(encoded[:-1], []).append(encoded[-1])
    return re.compile(
        b"|".join(
            re.escape(lead) + b"[" + b"".join(re.escape(bytes([t])) for t in sorted(last)) + b"]"
            for lead, last in sorted(tails.items())
        )
    )


#: The combining marks of U+0300-U+036F (accents that NFKD splits off; strip_combining deletes them),
#: and the punctuation, spaces and signs of U+00A0-U+00BF and U+2000-U+206F that are not ``\w`` (’ “ ”
#: – « » ...): each only separates words. Both sets are checked here, character by character.
_MARKS = _utf8_class([chr(c) for c in range(0x300, 0x370) if unicodedata.combining(chr(c))])
_SEPARATORS = _utf8_class(
    [
        chr(c)
        for c in (*range(0xA0, 0xC0), 0x34F, *range(0x2000, 0x2070))
        if not unicodedata.combining(chr(c)) and not _WORD_CHAR(chr(c))
    ]
)


def _shingles(tokens: list[str]) -> set[str]:
    if SHINGLE == 2 and len(tokens) >= 2:
        return {f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)}
    return {" ".join(tokens[i : i + SHINGLE]) for i in range(max(1, len(tokens) - SHINGLE + 1))}


def _shingle_bytes(tokens: list[bytes]) -> set[bytes]:
    """``_shingles`` of UTF-8 encoded tokens (the same word pairs, encoded)."""
    if SHINGLE == 2 and len(tokens) >= 2:
        return set(map(b" ".join, zip(tokens, tokens[1:], strict=False)))
    return {b" ".join(tokens[i : i + SHINGLE]) for i in range(max(1, len(tokens) - SHINGLE + 1))}


def _signature_array(tokens: list[str]) -> np.ndarray:
    """The MinHash signature as uint64s (``_minhash_reference``'s values)."""
    blake = hashlib.blake2b
    # The 8-byte digests joined and read as big-endian uint64s: int.from_bytes(digest, "big") each.
    digests = b"".join([blake(s.encode(), digest_size=8).digest() for s in _shingles(tokens)])
    hashes = np.frombuffer(digests, dtype=">u8").astype(np.uint64)
    # One (shingles x seeds) array instead of 48 Python loops: ~20x cheaper, same values.
    return ((hashes[:, None] ^ _SEED_ARRAY[None, :]) * _MULTIPLIER).min(axis=0)


def _minhash(tokens: list[str]) -> list[int]:
    return _signature_array(tokens).tolist()


def _minhash_reference(tokens: list[str]) -> list[int]:
    """The pure-Python definition of the signature; tests check ``_minhash`` against it."""
    shingles = {" ".join(tokens[i : i + SHINGLE]) for i in range(max(1, len(tokens) - SHINGLE + 1))}
    hashes = [int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big") for s in shingles]
    return [min((h ^ seed) * 0x9E3779B97F4A7C15 & _MASK for h in hashes) for seed in _SEEDS]


@dataclass
class ClusterInput:
    """What clustering looks at; built from a RawItem or a stored graph."""

    iri: str
    title: str | None = None
    summary: str | None = None
    url: str | None = None
    start: str | None = None  # UTC ISO instant
    place: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass
class ItemKeys:
    """Exact keys (join on any) and near-duplicate band keys (join on MIN_BANDS)."""

    exact: list[str] = field(default_factory=list)
    bands: list[str] = field(default_factory=list)
    signature: list[int] = field(default_factory=list)


def keys_of(item: ClusterInput) -> ItemKeys:
    return keys_of_many([item])[0]


#: Items whose MinHash arithmetic shares one numpy pass (bounds the shingles x seeds array: ~5 MB).
_CHUNK = 256


def keys_of_many(items: list[ClusterInput]) -> list[ItemKeys]:
    """``keys_of`` of every item; the signatures of up to ``_CHUNK`` items in one numpy pass.

    Per item the numpy calls (buffer, broadcast, min, conversions) cost more than their arithmetic;
    one pass over the concatenated shingle hashes with ``minimum.reduceat`` gives the same rows.
    """
    outs: list[ItemKeys] = []
    signed: list[tuple[ItemKeys, list[bytes]]] = []
    for item in items:
        out, tokens = _exact_keys(item)
        outs.append(out)
        if len(tokens) >= 5:
            signed.append((out, tokens))
    for start in range(0, len(signed), _CHUNK):
        _add_signatures(signed[start : start + _CHUNK])
    return outs


def _add_signatures(signed: list[tuple[ItemKeys, list[bytes]]]) -> None:
    blake = hashlib.blake2b
    digests: list[bytes] = []
    offsets: list[int] = []
    for _, tokens in signed:
        offsets.append(len(digests))
        # Never empty: five or more tokens give at least one shingle, so no reduceat segment is empty.
        digests += [blake(s, digest_size=8).digest() for s in _shingle_bytes(tokens)]
    if not signed:
        return
    # The 8-byte digests read as big-endian uint64s: int.from_bytes(digest, "big") each.
    hashes = np.frombuffer(b"".join(digests), dtype=">u8").astype(np.uint64)
    mixed = (hashes[:, None] ^ _SEED_ARRAY[None, :]) * _MULTIPLIER
    signatures = np.minimum.reduceat(mixed, offsets, axis=0)
    # Each band's rows as big-endian uint64 bytes: struct.pack(">3Q", *rows) for every band at once.
    packed = signatures.astype(">u8").tobytes()
    width, row_bytes = 8 * ROWS, 8 * BANDS * ROWS
    for i, ((out, _), signature) in enumerate(zip(signed, signatures.tolist(), strict=True)):
        out.signature = signature
        base = i * row_bytes
        out.bands = [
            f"lsh:{b}:{blake(packed[base + b * width : base + (b + 1) * width], digest_size=8).hexdigest()}"
            for b in range(BANDS)
        ]


def _exact_keys(item: ClusterInput) -> tuple[ItemKeys, list[bytes]]:
    """The item's exact keys, and the tokens (UTF-8) its MinHash signature is made of."""
    exact = []
    url = canonical_url(item.url)
    if url:
        exact.append("url:" + url)
    title, summary = item.title, item.summary
    # " ".join of the non-empty ones
    tokens = _token_bytes(f"{title} {summary}" if title and summary else title or summary or "")
    if len(tokens) >= 4:
        exact.append("hash:" + hashlib.sha256(b" ".join(tokens)).hexdigest()[:32])
    if item.start:
        if item.latitude is not None and item.longitude is not None:
            where = f"{item.latitude:.3f},{item.longitude:.3f}"
        else:
            where = " ".join(_tokens(item.place or ""))
        if where:
            exact.append(f"event:{item.start[:16]}@{where}")
    return ItemKeys(exact), tokens


Lookup = Callable[[Iterable[str]], dict[str, str]]
SignatureLookup = Callable[[Iterable[str]], dict[str, list[int]]]


def similarity(a: list[int], b: list[int]) -> float:
    """Estimated Jaccard similarity of two MinHash signatures."""
    if not a or len(a) != len(b):
        return 0.0
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


class Clusterer:
    """Assigns cluster ids; ``lookup``/``signatures`` find what earlier runs stored (may be None)."""

    def __init__(
        self,
        new_id: Callable[[str], str],
        lookup: Lookup | None = None,
        signatures: SignatureLookup | None = None,
    ) -> None:
        self.index: dict[str, str] = {}
        self.signatures: dict[str, list[int]] = {}
        self.new_id = new_id
        self.lookup = lookup
        self.signature_lookup = signatures
        #: Stored keys read ahead by ``assign_all`` (key -> cluster), and every key already asked for.
        self._stored: dict[str, str] = {}
        self._asked: set[str] = set()

    def _known(self, keys: list[str]) -> dict[str, str]:
        # One pass: this run's index first, then stored keys read ahead, else still to be asked.
        index, stored, asked = self.index, self._stored, self._asked
        found: dict[str, str] = {}
        missing: list[str] = []
        for k in keys:
            cluster = index.get(k)
            if cluster is None:
                cluster = stored.get(k)
            if cluster is not None:
                found[k] = cluster
            elif k not in asked:
                missing.append(k)
        if missing and self.lookup is not None:
            found.update(self.lookup(missing))
        return found

    def _read_ahead(self, keys: Iterable[str]) -> None:
        """Ask the store once for every key not asked yet (``_known`` then finds them in ``_stored``)."""
        if self.lookup is not None:
            fresh = [k for k in dict.fromkeys(keys) if k not in self._asked]
            if fresh:
                self._stored.update(self.lookup(fresh))
                self._asked.update(fresh)

    def assign_all(self, items: list[ClusterInput]) -> list[tuple[str, ItemKeys]]:
        """``assign`` for a batch, with the stored keys read ahead in two lookups for the whole batch.

        The store does not change while a batch is assigned (its keys are saved afterwards), so
        reading the keys ahead gives each item what its own lookup would have found.

        An item with an exact key that is already known (this run, the store, or an earlier item of
        the batch) joins that key's cluster whatever its bands say, so its MinHash signature and
        bands (~50 blake2b digests for word pairs, 16 for bands) are not computed: a re-harvested
        item, a relay under the same URL, an exact copy under another one. Its band keys are then not
        recorded for its cluster either; the cluster keeps the bands of the copy that founded it
        (whose signature every later candidate is compared with) and of copies found by bands only.
        """
        exact = [_exact_keys(item) for item in items]
        self._read_ahead(k for keys, _ in exact for k in keys.exact)
        index, stored = self.index, self._stored
        earlier: set[str] = set()  # exact keys of this batch's earlier items: in the index by their turn
        signed: list[tuple[ItemKeys, list[bytes]]] = []
        for keys, tokens in exact:
            known = any(k in index or k in stored or k in earlier for k in keys.exact)
            earlier.update(keys.exact)
            if not known and len(tokens) >= 5:
                signed.append((keys, tokens))
        for start in range(0, len(signed), _CHUNK):
            _add_signatures(signed[start : start + _CHUNK])
        self._read_ahead(k for keys, _ in signed for k in keys.bands)
        out: list[tuple[str, ItemKeys]] = []
        for item, (keys, _) in zip(items, exact, strict=True):
            if keys.bands:
                out.append(self.assign(item, keys))
                continue
            # ``assign`` without bands: every exact key was read ahead (or there is no store), so
            # the first one known, in this run's index or stored, names the cluster; else a new one.
            cluster = None
            for k in keys.exact:
                cluster = index.get(k)
                if cluster is None:
                    cluster = stored.get(k)
                if cluster is not None:
                    break
            if cluster is None:
                cluster = self.new_id((keys.exact or [item.iri])[0])
            for k in keys.exact:
                index.setdefault(k, cluster)
            out.append((cluster, keys))
        return out

    def _signature(self, cluster: str) -> list[int]:
        if cluster not in self.signatures and self.signature_lookup is not None:
            self.signatures.update(self.signature_lookup([cluster]))
        return self.signatures.get(cluster, [])

    def assign(self, item: ClusterInput, keys: ItemKeys | None = None) -> tuple[str, ItemKeys]:
        """The item's cluster id (an existing one when a copy is known) and its keys."""
        keys = keys if keys is not None else keys_of(item)
        known = self._known(keys.exact + keys.bands)
        cluster = next((known[k] for k in keys.exact if k in known), None)
        if cluster is None:
            candidates = sorted({known[k] for k in keys.bands if k in known})
            scored = [(similarity(keys.signature, self._signature(c)), c) for c in candidates]
            best = max(scored, default=None)
            if best is not None and best[0] >= MIN_SIMILARITY:
                cluster = best[1]
        if cluster is None:
            cluster = self.new_id((keys.exact or keys.bands or [item.iri])[0])
            if keys.signature:
                self.signatures[cluster] = keys.signature
        for k in keys.exact + keys.bands:
            self.index.setdefault(k, cluster)
        return cluster, keys
