"""Closed event-stream pages kept in memory per API worker, bounded by bytes and by count.

Why bytes: a closed page never changes, so each worker keeps what it rendered, but pages differ in
size by two orders of magnitude (a filtered page of a few members vs a 250-member JSON-LD page of
~200+ KB). Bounded by count alone (2,000 answers), a worker could hold ~450 MB; bounded by the sum
of the bodies, it holds what the operator allowed (``ldes_cache_max_bytes``) whatever is asked.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, ValuesView

Key = tuple[str, str]  # (URL path?query|origin, media type)
Entry = tuple[bytes, str]  # (body, ETag)


class PageCache:
    """Least recently used answers dropped first once the bodies exceed ``max_bytes`` or ``max_entries``.

    Used from the event loop only (the route's ``serve`` and the ``ClosedPageFastPath`` middleware):
    no lock. A wrapper, not an ``OrderedDict`` subclass, so that no dict method can change the
    entries without ``size`` following.
    """

    def __init__(self, max_bytes: int, max_entries: int = 2000) -> None:
        self.max_bytes, self.max_entries = max_bytes, max_entries
        self.size = 0  # bytes of the bodies held
        self._entries: OrderedDict[Key, Entry] = OrderedDict()

    def get(self, key: Key | None) -> Entry | None:
        return self._entries.get(key) if key is not None else None

    def move_to_end(self, key: Key) -> None:
        """Mark an answer as just used (read hits call this)."""
        self._entries.move_to_end(key)

    def put(self, key: Key, body: bytes, etag: str) -> None:
        """Keep an answer; a body larger than the whole budget is not kept (it would evict everything)."""
        old = self._entries.pop(key, None)
        if old is not None:
            self.size -= len(old[0])
        if not self.max_bytes or len(body) > self.max_bytes:
            return
        self._entries[key] = (body, etag)
        self.size += len(body)
        while self.size > self.max_bytes or len(self._entries) > self.max_entries:
            _, (dropped, _) = self._entries.popitem(last=False)
            self.size -= len(dropped)

    def clear(self) -> None:
        self._entries.clear()
        self.size = 0

    def values(self) -> ValuesView[Entry]:
        return self._entries.values()

    def __iter__(self) -> Iterator[Key]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
