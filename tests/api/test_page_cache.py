"""The closed-page cache of the event stream: bounded by the bytes of its bodies, then by count.

The real app's use of it (``ldes_cache_max_bytes``) is tested in test_ldes.py, beside its stream.
"""

from __future__ import annotations

from api.page_cache import PageCache


def _key(n: int) -> tuple[str, str]:
    return (f"/ldes/feed/by-time?day=2026-01-0{n}|http://x", "text/turtle")


def test_drops_least_recently_used_past_the_byte_budget() -> None:
    cache = PageCache(max_bytes=10)
    cache.put(_key(1), b"aaaa", "e1")
    cache.put(_key(2), b"bbbb", "e2")
    cache.move_to_end(_key(1))  # read: now the most recent
    cache.put(_key(3), b"cccc", "e3")  # 12 bytes > 10: the least recently used (2) goes
    assert list(cache) == [_key(1), _key(3)]
    assert cache.size == 8


def test_drops_past_the_count_too() -> None:
    cache = PageCache(max_bytes=1000, max_entries=2)
    for n in (1, 2, 3):
        cache.put(_key(n), b"x", f"e{n}")
    assert list(cache) == [_key(2), _key(3)]
    assert cache.size == 2


def test_a_body_over_the_whole_budget_is_not_kept_and_evicts_nothing() -> None:
    cache = PageCache(max_bytes=10)
    cache.put(_key(1), b"aaaa", "e1")
    cache.put(_key(2), b"b" * 11, "e2")
    assert list(cache) == [_key(1)]
    assert cache.size == 4
    none = PageCache(max_bytes=0)  # ldes_cache_max_bytes=0: keeps nothing, not even an empty body
    none.put(_key(1), b"a", "e1")
    none.put(_key(2), b"", "e2")
    assert (len(none), none.size) == (0, 0)


def test_replacing_a_key_and_clearing_keep_the_size_right() -> None:
    cache = PageCache(max_bytes=10)
    cache.put(_key(1), b"aaaa", "e1")
    cache.put(_key(1), b"aaaaaa", "e1b")
    assert cache.get(_key(1)) == (b"aaaaaa", "e1b")
    assert cache.size == 6
    cache.clear()
    assert (len(cache), cache.size) == (0, 0)
