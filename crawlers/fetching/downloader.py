"""Scrapy's downloader with its per-host concurrency cap actually holding.

In Scrapy 2.19 on the asyncio reactor, ``Downloader._process_queue`` schedules each
download as a task and the task marks the request as transferring only when it starts,
so the ``while slot.free_transfer_slots() > 0`` loop drains the whole queue at once: with
``DOWNLOAD_DELAY = 0`` twelve queued requests to one host all start together although
``CONCURRENT_REQUESTS_PER_DOMAIN = 2`` (tests/crawlers/test_fetch_safety.py measured it
on the server side). Marking the request as transferring *before* scheduling makes the
cap hold; ``_download`` adds it again (a set, so a no-op) and removes it when done.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from scrapy.core.downloader import Downloader, Slot
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import _schedule_coro


class PoliteDownloader(Downloader):
    """The stock downloader, with the transfer slot taken synchronously."""

    def _process_queue(self, slot: Slot) -> None:
        if slot.latercall:
            return
        now = monotonic()
        delay = slot.download_delay()
        if delay:
            penalty = delay - now + slot.lastseen
            if penalty > 0:
                slot.latercall = call_later(penalty, self._latercall, slot)
                return
        while slot.queue and slot.free_transfer_slots() > 0:
            slot.lastseen = now
            request, queue_dfd = slot.queue.popleft()
            slot.transferring.add(request)  # the fix: count it before the task starts
            _schedule_coro(self._wait_for_download(slot, request, queue_dfd))
            if delay:
                self._process_queue(slot)
                break

    def _latercall(self, slot: Any) -> None:
        slot.latercall = None
        self._process_queue(slot)
