"""Rebuild the Elasticsearch index from the store: a new index, then one atomic alias swap.

There is no ``_reindex`` in the test distribution (architecture.md §7), and the store is
the truth anyway, so a rebuild is:

1. create ``{alias}-v{version}-{stamp}`` from the mapping file, with refresh off and the
   translog fsynced in the background (``durability: async``) while loading: nothing reads
   it yet and a crash mid-load means starting the rebuild again anyway, so per-request
   fsyncs buy nothing (measured: ``docs/search.md``, raw ``_bulk`` ceiling);
2. bulk every document into it (by its concrete name; searches and incremental writes keep
   going to the old index through the alias meanwhile);
3. refresh it, force-merge it to one segment (:meth:`AliasRebuild.merge`: global ordinals
   and term lookups of one segment are much cheaper for every later search; measured in
   ``docs/search.md``), restore the refresh interval and per-request durability, and move
   the alias in **one** ``_aliases``
   request (remove from the old indices + add to the new one, as write index): Elasticsearch
   applies the actions atomically, so no search ever sees no index or half an index;
4. delete the old indices.

Writes that reached the old index during step 2 are caught up by the caller
(:func:`pipeline.index.rebuild_index` re-sends the records changed since the rebuild began).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from elasticsearch.exceptions import GeneralAvailabilityWarning

from search.base import SearchUnavailable
from search.documents import IndexReport, SearchDocument
from search.elasticsearch import INDEX_VERSION, ElasticsearchBackend, index_definition

log = logging.getLogger(__name__)
K = TypeVar("K")

#: Index settings while a rebuild loads (nothing searches the new index yet).
LOAD_SETTINGS = {"refresh_interval": "-1", "translog": {"durability": "async"}}
#: Longest wait for the force-merge before the swap (1M bench items: 110 s here, 29 segments -> 1); past
#: it the rebuild is aborted and the old index keeps serving.
MERGE_TIMEOUT_S = 3600.0
#: How often a running force-merge is reported (logged, and to ``merge_progress``), seconds.
MERGE_POLL_S = 30.0


def serving_settings() -> dict[str, object]:
    """What :data:`LOAD_SETTINGS` changed, back to the mapping file's values (or the defaults)."""
    index = index_definition()["settings"]["index"]
    return {
        "refresh_interval": index.get("refresh_interval", "1s"),
        "translog": {"durability": index.get("translog", {}).get("durability", "request")},
    }


class AliasRebuild:
    """One rebuild of an alias: begin(), load() any number of times, swap()."""

    def __init__(
        self,
        backend: ElasticsearchBackend,
        merge_timeout_s: float = MERGE_TIMEOUT_S,
        merge_progress: Callable[[float], None] | None = None,
    ) -> None:
        self.backend = backend
        self.merge_timeout_s = merge_timeout_s
        #: Called with the seconds waited so far while the force-merge runs.
        self.merge_progress = merge_progress
        self.alias = backend.alias
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
        self.index = f"{self.alias}-v{INDEX_VERSION}-{stamp}"
        self.report = IndexReport()

    def begin(self) -> str:
        """Create the new index (refresh off, async translog while loading); returns its name."""
        definition = index_definition()
        settings = {"index": {**definition["settings"]["index"], **LOAD_SETTINGS}}
        with self.backend._errors("rebuild: create index"):
            self.backend._client.indices.create(
                index=self.index, settings=settings, mappings=definition["mappings"]
            )
        return self.index

    def load(self, docs: Sequence[SearchDocument]) -> IndexReport:
        """Bulk documents into the new index (per-item errors reported, later chunks still sent)."""
        report = self.backend.upsert(docs, target=self.index)
        self.report.indexed += report.indexed
        self.report.errors.extend(report.errors)
        return report

    def load_batches(
        self, batches: Iterable[tuple[K, Sequence[SearchDocument]]]
    ) -> Iterator[tuple[K, IndexReport]]:
        """:meth:`load` for each ``(key, docs)``, yielding ``(key, report)`` in order, with bulk
        chunks kept in flight across batches (:meth:`ElasticsearchBackend.upsert_batches`): the
        next batch is read and prepared while Elasticsearch indexes the last one."""
        for key, report in self.backend.upsert_batches(batches, target=self.index):
            self.report.indexed += report.indexed
            self.report.errors.extend(report.errors)
            yield key, report

    def merge(self) -> None:
        """Force-merge the new index to one segment, waiting at most ``merge_timeout_s``.

        Runs as a task (``wait_for_completion=false``) whose status is read without waiting
        (a server-side wait that runs out is an HTTP error, not a "not yet": the first version
        of this died that way on a 1M-item merge), at intervals growing from 0.1 s to 5 s, so
        no HTTP request stays open for minutes; reported every :data:`MERGE_POLL_S`. Raises
        SearchUnavailable on a failure or the timeout (the caller aborts: the alias has not moved).
        """
        client = self.backend._client
        # the client flags the tasks API as "technical preview"; it has been stable since 2.x
        with self.backend._errors("rebuild: force-merge"), warnings.catch_warnings():
            warnings.simplefilter("ignore", GeneralAvailabilityWarning)
            task = client.indices.forcemerge(index=self.index, max_num_segments=1, wait_for_completion=False)[
                "task"
            ]
            started = reported = time.monotonic()
            delay = 0.1
            while True:
                left = self.merge_timeout_s - (time.monotonic() - started)
                if left <= 0:
                    client.tasks.cancel(task_id=task)
                    raise SearchUnavailable(
                        f"rebuild of {self.alias!r}: force-merge of {self.index} not done after "
                        f"{self.merge_timeout_s:g} s"
                    )
                status = client.tasks.get(task_id=task)
                if status.get("completed"):
                    break
                now = time.monotonic()
                if now - reported >= MERGE_POLL_S:
                    reported = now
                    log.info("rebuild of %s: force-merge running for %.0f s", self.alias, now - started)
                    if self.merge_progress is not None:
                        self.merge_progress(now - started)
                time.sleep(min(delay, max(left, 0.01)))
                delay = min(delay * 2, 5.0)
        if "error" in status:
            raise SearchUnavailable(f"rebuild of {self.alias!r}: force-merge failed: {status['error']}")
        failures = (status.get("response") or {}).get("_shards", {}).get("failed", 0)
        if failures:
            raise SearchUnavailable(f"rebuild of {self.alias!r}: force-merge failed on {failures} shard(s)")

    def swap(self) -> list[str]:
        """Make the new index searchable and merged, point the alias at it atomically, drop
        the old ones. A failure before the alias moves deletes the new index and raises:
        the old index keeps serving."""
        client = self.backend._client
        try:
            with self.backend._errors("rebuild: refresh"):
                client.indices.refresh(index=self.index)
            self.merge()
        except BaseException:
            self.abort()
            raise
        with self.backend._errors("rebuild: swap alias"):
            client.indices.put_settings(index=self.index, settings={"index": serving_settings()})
            client.indices.refresh(index=self.index)
            old = (
                list(client.indices.get_alias(name=self.alias))
                if client.indices.exists_alias(name=self.alias)
                else []
            )
            actions: list[dict[str, object]] = [
                {"remove": {"index": name, "alias": self.alias}} for name in old if name != self.index
            ]
            actions.append({"add": {"index": self.index, "alias": self.alias, "is_write_index": True}})
            client.indices.update_aliases(actions=actions)
            for name in old:
                if name != self.index:
                    client.indices.delete(index=name)
        self.backend._ensured = True
        return [name for name in old if name != self.index]

    def abort(self) -> None:
        """Drop the half-built index (the alias never moved)."""
        with self.backend._errors("rebuild: abort"):
            self.backend._client.indices.delete(index=self.index, ignore_unavailable=True)


def rebuild_alias(
    backend: ElasticsearchBackend,
    batches: Iterable[Sequence[SearchDocument]],
    progress: Callable[[int], None] | None = None,
) -> tuple[AliasRebuild, list[str]]:
    """Build a new index from document batches and swap the alias to it; returns (rebuild, old indices)."""
    rebuild = AliasRebuild(backend)
    rebuild.begin()
    try:
        loading = rebuild.load_batches((docs, docs) for docs in batches)
        try:
            for docs, _ in loading:
                if progress:
                    progress(len(docs))
        finally:
            loading.close()  # on an early exit: the chunks in flight finish before the abort
    except BaseException:
        rebuild.abort()
        raise
    return rebuild, rebuild.swap()
