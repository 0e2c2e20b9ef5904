"""Keep a harvest process's long-lived objects out of the garbage collector's full passes.

After the first source is mapped and validated, a harvest process holds ~170,000 objects the
cyclic collector tracks and that live as long as the process (imported modules, the vocabulary,
the SHACL shapes, compiled scanners, rdflib namespaces). CPython's full (oldest-generation)
collection walks all of them: ~0.1-0.15 s, about once per 1,500-2,000 harvested items, landing in
whichever stage happens to allocate (bench_ingest's map line jumped from 0.11 to 0.22 ms/item on
such a run). ``gc.freeze()`` moves every object alive at that moment into a permanent generation
the collector never walks; objects made later are collected as before.

Done once per process, right after the first source with items has been validated (the mappers
and shapes load lazily, so the process's resident set is complete by then), after a full
``gc.collect()`` so no garbage is frozen. Frozen objects are still freed by reference counting
when they are dropped; only a reference cycle among objects alive at that moment and dropped
later is never reclaimed (a one-time, bounded cost: one source's worth at most). The API freezes
its own startup heap the same way (api/main.py).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_settled = False

#: The youngest generation's threshold while a harvest runs (CPython's default: 700; None: leave it).
#: After ``settle_long_lived``, what the collector still walks is the harvest's own churn: parsed
#: entries, RawItems, terms, triples, rows, almost all freed by reference counting. bench_ingest's
#: whole path, 3,107 items, 8 rounds in one process alternating the two thresholds (load 0.9-1.5):
#: 0.520 -> 0.478 ms CPU per item on the default items, 0.458 -> 0.442 with --fresh (8 of 8 rounds).
HARVEST_GC_THRESHOLD0: int | None = 50_000


def settle_long_lived() -> bool:
    """Freeze the objects alive now (once per process); True on the call that froze them."""
    global _settled  # noqa: PLW0603 - one flag per process is the point
    if _settled:
        return False
    _settled = True
    gc.collect()
    gc.freeze()
    return True


@contextmanager
def fewer_collections(threshold0: int | None) -> Iterator[None]:
    """Collect the youngest generation every ``threshold0`` net allocations, restored afterwards
    (a rebuild or a harvest may run inside a long-lived process: the maintenance DAG's worker, the
    tests). Not re-entrant across threads: two such runs overlapping in one process could restore
    each other's raised threshold (no caller does that: one rebuild or harvest per process at a time)."""
    old = gc.get_threshold()
    if threshold0 is not None:
        gc.set_threshold(threshold0, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)
