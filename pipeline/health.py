"""Harvest health: what each source's harvests look like, and what happens when they go wrong.

Aggregators' users complain most about stuck harvests, silent failures and sources found
dead months later. So every source in a harvest gets an *attempt* row that is ``running``
until one terminal state is written (a heartbeat thread keeps it fresh while the crawl
lives; :func:`detect_stuck` marks rows whose worker died), every result updates the
source's health (last attempt and success, HTTP status, consecutive failures, counts,
duration, validation warnings, when it is due next), a source is paused after
``health_pause_after`` consecutive failures and its owner told by webhook and e-mail, and
:func:`detect_dead` reports sources with no success for ``health_dead_after_days``.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import func, select

from pipeline.contracts import FetchResult, RecordError, SourceReport, SourceSpec
from pipeline.schedule import next_interval
from pipeline.settings import Settings
from store.models import SourceRow
from store.partner_models import HarvestAttemptRow, NetworkContactRow, SourceHealthRow
from store.repository import Store, aware

log = logging.getLogger("innonet.health")

OK_STATUSES = ("ok", "partial", "not_modified")
WARNING_STAGES = ("parse", "map", "validate")


def _now() -> datetime:
    return datetime.now(UTC)


# --- notifications -------------------------------------------------------------------------------
def notify(
    settings: Settings, store: Store, network_id: str, event: str, payload: dict[str, Any]
) -> list[str]:
    """Tell a network's contact about ``event`` by webhook and e-mail; returns what was delivered.

    Delivery problems are logged and returned, never raised: a broken webhook must not
    break the harvest. Webhook URLs are partner input, so they pass the same address guard
    as feed URLs (loopback and private addresses only with ``fetch_allow_hosts``).
    """
    with store.session() as s:
        contact = s.get(NetworkContactRow, network_id)
        webhook, email = (contact.webhook_url, contact.email) if contact else (None, None)
    body = {"event": event, "network": network_id, **payload}
    delivered: list[str] = []
    if webhook:
        delivered.append(_post_webhook(settings, webhook, body))
    if email and settings.smtp_host:
        delivered.append(_send_mail(settings, email, event, body))
    return delivered


def _post_webhook(settings: Settings, url: str, body: dict[str, Any]) -> str:
    import httpx

    from crawlers.fetching.guard import BlockedURL, check_url

    try:
        check_url(url, list(settings.fetch_allow_hosts))
        r = httpx.post(
            url,
            json=body,
            timeout=settings.notify_timeout_s,
            headers={"User-Agent": settings.user_agent},
            follow_redirects=False,
        )
        return f"webhook:{r.status_code}"
    except (BlockedURL, httpx.HTTPError) as exc:
        log.warning("webhook %s failed: %s", url, exc)
        return f"webhook:error:{type(exc).__name__}"


def _send_mail(settings: Settings, to: str, event: str, body: dict[str, Any]) -> str:
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = to
    source = body.get("source_id", "")
    msg["Subject"] = f"[innonet] {event.replace('_', ' ')}: {source}".strip()
    lines = [f"{k}: {v}" for k, v in body.items()]
    msg.set_content(
        "innonet harvest notification\n\n" + "\n".join(lines) + "\n\nResume a paused source with the "
        "partner API (PATCH /partner/v1/sources/{id} with paused=false) once it is fixed.\n"
    )
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.notify_timeout_s) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            smtp.send_message(msg)
        return "email:sent"
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("e-mail to %s failed: %s", to, exc)
        return f"email:error:{type(exc).__name__}"


# --- one source's result -------------------------------------------------------------------------
def _warnings(report: SourceReport) -> list[str]:
    found = [f"{e.stage}: {e.code}: {e.message}"[:500] for e in report.errors if e.stage in WARNING_STAGES]
    if report.status in OK_STATUSES and report.message:
        found.insert(0, report.message[:1000])
    return found[:50]


def record_result(
    settings: Settings,
    store: Store,
    source: SourceSpec,
    report: SourceReport,
    *,
    http_status: int | None = None,
    duration_s: float | None = None,
    own_interval_s: int | None = None,
) -> list[str]:
    """Fold one run's report into the source's health; pause and notify when it keeps failing.

    Returns the notifications delivered (empty in the normal case).
    """
    with store.session() as s, s.begin():
        pause = _fold(
            s,
            settings,
            source,
            report,
            http_status=http_status,
            duration_s=duration_s,
            own_interval_s=own_interval_s,
        )
    return _notify_paused(settings, store, source, report, pause)


def _fold(
    s: Any,
    settings: Settings,
    source: SourceSpec,
    report: SourceReport,
    *,
    http_status: int | None,
    duration_s: float | None,
    own_interval_s: int | None,
) -> tuple[str, int] | None:
    """Update one source's health row inside the caller's transaction; (reason, failures) if paused now."""
    now = report.finished_at or _now()
    ok = report.status in OK_STATUSES
    changed = (report.counts.get("new", 0) + report.counts.get("updated", 0)) > 0
    paused_now = False
    h = s.get(SourceHealthRow, source.id) or SourceHealthRow(
        source_id=source.id, consecutive_failures=0, unchanged_streak=0, counts={}, warnings=[]
    )
    h.last_attempt_at = now
    h.last_status = report.status
    h.error_code = report.error_code
    h.http_status = http_status
    h.counts = dict(report.counts)
    h.duration_s = duration_s
    h.warnings = _warnings(report)
    if ok:
        h.last_success_at = now
        h.consecutive_failures = 0
        h.unchanged_streak = 0 if changed else (h.unchanged_streak or 0) + 1
        h.dead_since = None
    else:
        h.consecutive_failures = (h.consecutive_failures or 0) + 1
    interval = next_interval(
        settings.harvest_interval_s,
        settings.harvest_max_interval_s,
        failures=h.consecutive_failures,
        quiet_streak=h.unchanged_streak or 0,
        own_interval_s=own_interval_s,
    )
    h.interval_s = interval
    h.next_due_at = now + timedelta(seconds=interval)
    if not ok and h.consecutive_failures >= settings.health_pause_after and not h.auto_paused:
        h.auto_paused, h.paused_at, paused_now = True, now, True
        h.paused_reason = (
            f"paused after {h.consecutive_failures} consecutive failed harvests; "
            f"last error {report.error_code}: {report.message or ''}"[:2000]
        )
    s.merge(h)
    return (h.paused_reason, h.consecutive_failures) if paused_now else None


def _notify_paused(
    settings: Settings, store: Store, source: SourceSpec, report: SourceReport, pause: tuple[str, int] | None
) -> list[str]:
    """Tell the owner that ``source`` was paused just now (after the health row is committed)."""
    if pause is None:
        return []
    reason, failures = pause
    log.warning("source %s paused: %s", source.id, reason)
    return notify(
        settings,
        store,
        source.network,
        "source_paused",
        {
            "source_id": source.id,
            "title": source.title,
            "url": source.url,
            "consecutive_failures": failures,
            "error_code": report.error_code,
            "message": report.message,
            "reason": reason,
        },
    )


# --- attempts: running -> one terminal state ----------------------------------------------------
def worker_name(pid: int | None = None) -> str:
    """How an attempt names the process that runs it (``host:pid``): this one, or ``pid`` on this host."""
    return f"{socket.gethostname()}:{pid if pid is not None else os.getpid()}"


class Tracker:
    """The attempts of one harvest: begun together, each closed once, heartbeat while alive.

    ``close()`` turns every attempt still running into a failed report (``interrupted``):
    whatever happens inside the harvest, no source is left ``running`` by a live process.
    """

    def __init__(self, settings: Settings, store: Store, sources: Sequence[SourceSpec]) -> None:
        self.settings, self.store = settings, store
        self.sources = {s.id: s for s in sources}
        self.attempts: dict[str, int] = {}
        self.started: dict[str, datetime] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @classmethod
    def adopt(cls, settings: Settings, store: Store, sources: Sequence[SourceSpec], worker: str) -> Tracker:
        """A tracker holding the attempts ``worker`` opened and left running (no heartbeat: it is dead)."""
        tracker = cls(settings, store, sources)
        with store.session() as s:
            for row in s.scalars(
                select(HarvestAttemptRow).where(
                    HarvestAttemptRow.state == "running",
                    HarvestAttemptRow.worker == worker,
                    HarvestAttemptRow.source_id.in_(list(tracker.sources)),
                )
            ):
                tracker.attempts[row.source_id] = row.id
                tracker.started[row.source_id] = aware(row.started_at)
        return tracker

    def __enter__(self) -> Tracker:
        now = _now()
        worker = worker_name()
        with self.store.session() as s, s.begin():
            for sid in self.sources:
                row = HarvestAttemptRow(
                    source_id=sid, state="running", started_at=now, heartbeat_at=now, worker=worker
                )
                s.add(row)
                s.flush()
                self.attempts[sid] = row.id
                self.started[sid] = now
        if self.attempts:
            every = max(1.0, min(30.0, self.settings.health_stuck_after_s / 4))
            self._thread = threading.Thread(target=self._beat, args=(every,), daemon=True, name="heartbeat")
            self._thread.start()
        return self

    def _beat(self, every: float) -> None:
        while not self._stop.wait(every):
            with self._lock:
                ids = list(self.attempts.values())
            if not ids:
                continue
            try:
                with self.store.session() as s, s.begin():
                    s.query(HarvestAttemptRow).filter(
                        HarvestAttemptRow.id.in_(ids), HarvestAttemptRow.state == "running"
                    ).update({"heartbeat_at": _now()}, synchronize_session=False)
            except Exception:  # noqa: BLE001 - a missed heartbeat must not kill the harvest
                log.exception("heartbeat failed")

    def finish(self, report: SourceReport, result: FetchResult | None = None) -> list[str]:
        """Close one source's attempt with its report and update its health."""
        return self.finish_many([(report, result)])

    def finish_many(self, done: Sequence[tuple[SourceReport, FetchResult | None]]) -> list[str]:
        """Close several attempts and update their health in one transaction.

        A harvest closes sources in groups: one commit per source (attempt + health, two
        transactions each) cost ~5 ms per source on SQLite, ~5 s of a 1,000-source cycle.
        Owners of sources paused by this group are notified after the commit.
        """
        with self._lock:
            attempt_ids = {r.source_id: self.attempts.pop(r.source_id, None) for r, _ in done}
        paused: list[tuple[SourceSpec, SourceReport, tuple[str, int]]] = []
        with self.store.session() as s, s.begin():
            for report, result in done:
                finished = report.finished_at or _now()
                attempt_id = attempt_ids.get(report.source_id)
                row = s.get(HarvestAttemptRow, attempt_id) if attempt_id is not None else None
                if row is not None and row.state == "running":
                    row.state = "done" if report.status in OK_STATUSES else "failed"
                    row.status, row.finished_at = report.status, finished
                source = self.sources.get(report.source_id)
                if source is None:
                    continue
                started = self.started.get(report.source_id)
                interval = source.options.get("interval_s")
                pause = _fold(
                    s,
                    self.settings,
                    source,
                    report,
                    http_status=result.status if result else None,
                    duration_s=(finished - started).total_seconds() if started else None,
                    own_interval_s=interval if isinstance(interval, int) else None,
                )
                if pause is not None:
                    paused.append((source, report, pause))
        delivered: list[str] = []
        for source, report, pause in paused:
            delivered += _notify_paused(self.settings, self.store, source, report, pause)
        return delivered

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> list[SourceReport]:
        """Fail every attempt still open (the crawl died or an exception escaped); returns those reports."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            left = list(self.attempts)
        reports = []
        for sid in left:
            report = SourceReport(
                source_id=sid,
                status="failed",
                error_code="interrupted",
                message="the harvest ended before this source was processed",
                started_at=self.started.get(sid),
                finished_at=_now(),
            )
            report.errors.append(
                RecordError(stage="fetch", source_id=sid, code="interrupted", message=report.message or "")
            )
            self.store.save_run(report)
            self.finish(report)
            reports.append(report)
        return reports


def detect_stuck(settings: Settings, store: Store, now: datetime | None = None) -> list[str]:
    """Mark attempts left ``running`` without a heartbeat for too long as ``stuck`` (a failure).

    This is what catches a worker killed mid-harvest (OOM, execution timeout, lost node):
    its sources get a failed run with ``error_code=stuck_run`` and count towards the pause.
    """
    now = now or _now()
    limit = now - timedelta(seconds=settings.health_stuck_after_s)
    with store.session() as s, s.begin():
        rows = list(
            s.scalars(
                select(HarvestAttemptRow).where(
                    HarvestAttemptRow.state == "running", HarvestAttemptRow.heartbeat_at < limit
                )
            )
        )
        stuck = [(r.source_id, aware(r.started_at), aware(r.heartbeat_at)) for r in rows]
        for r in rows:
            r.state, r.status, r.finished_at = "stuck", "failed", now
        specs = {
            src.id: SourceSpec(id=src.id, network=src.network_id, title=src.title, url=src.url)
            for src in s.scalars(select(SourceRow).where(SourceRow.id.in_([r[0] for r in stuck])))
        }
    for sid, started, beat in stuck:
        report = SourceReport(
            source_id=sid,
            status="failed",
            error_code="stuck_run",
            message=f"harvest started {started:%Y-%m-%d %H:%M} UTC was still running with no heartbeat "
            f"since {beat:%H:%M} UTC; marked stuck",
            started_at=started,
            finished_at=now,
        )
        report.errors.append(
            RecordError(stage="fetch", source_id=sid, code="stuck_run", message=report.message or "")
        )
        store.save_run(report)
        if sid in specs:
            record_result(settings, store, specs[sid], report)
    return [sid for sid, _, _ in stuck]


def close_abandoned(
    settings: Settings,
    store: Store,
    sources: Sequence[SourceSpec],
    worker: str,
    reported: Sequence[SourceReport],
    missing: Sequence[SourceReport],
) -> list[str]:
    """Close the attempts a dead harvest process (``worker``, ``host:pid``) left running.

    ``detect_stuck`` would find them once their heartbeat is ``health_stuck_after_s`` old; a parent
    that saw its batch process die (pipeline/parallel.py) knows now. Only that process's attempts
    are touched (a concurrent harvest of the same source keeps its own). A source ``reported``
    before the process died is closed with its report (its run and items were committed; attempts
    are closed in groups, so some may still be open); a ``missing`` one (never processed) with its
    failed report and a failed run, as a stuck source gets. Returns the ids closed.
    """
    tracker = Tracker.adopt(settings, store, sources, worker)
    never = {r.source_id for r in missing}
    done = [(r, None) for r in [*reported, *missing] if r.source_id in tracker.attempts]
    for report, _ in done:
        if report.source_id in never:
            store.save_run(report)
    tracker.finish_many(done)
    return [r.source_id for r, _ in done]


def detect_dead(settings: Settings, store: Store, now: datetime | None = None) -> list[str]:
    """Sources with no successful harvest for ``health_dead_after_days``; owners told once."""
    now = now or _now()
    limit = now - timedelta(days=settings.health_dead_after_days)
    newly: list[tuple[str, str, str, str]] = []
    with store.session() as s, s.begin():
        first = dict(
            s.execute(
                select(HarvestAttemptRow.source_id, func.min(HarvestAttemptRow.started_at)).group_by(
                    HarvestAttemptRow.source_id
                )
            ).all()
        )
        for h in s.scalars(select(SourceHealthRow).where(SourceHealthRow.dead_since.is_(None))):
            since = aware(h.last_success_at) or aware(first.get(h.source_id)) or aware(h.last_attempt_at)
            if since is not None and since < limit:
                h.dead_since = now
                src = s.get(SourceRow, h.source_id)
                if src is not None:
                    newly.append((h.source_id, src.network_id, src.url, f"{since:%Y-%m-%d}"))
    for sid, network, url, since in newly:
        notify(
            settings,
            store,
            network,
            "source_dead",
            {"source_id": sid, "url": url, "no_success_since": since},
        )
    return [sid for sid, *_ in newly]
