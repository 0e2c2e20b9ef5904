"""Partner self-service in the store: API keys, contacts and the sources partners add.

A key is ``inn_<key id>_<secret>``. Only a scrypt hash of the secret is stored (with its
own salt), next to the one network the key belongs to, so a leaked database does not
leak usable keys and a key can only ever act for its own network. The sources a partner
adds are kept as full :class:`SourceSpec` documents and merged with the registry file
into the *effective* registry the harvest runs on.

Operators issue keys with ``python -m store.partners issue NETWORK_ID "Network name"``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import secrets
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from pipeline.contracts import NetworkSpec, Registry, SourceSpec
from store.models import NetworkRow, SourceRow
from store.partner_models import ApiKeyRow, NetworkContactRow, PartnerSourceRow, SourceHealthRow
from store.repository import Store

KEY_PREFIX = "inn_"
KEY_ID_HEX = 12
# scrypt cost: 2**14 x 8 x 1 (16 MiB, ~40 ms) per verification; verified keys are cached briefly.
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_VERIFIED_TTL_S = 300.0
_verified: dict[str, tuple[str, float]] = {}


@dataclass(frozen=True)
class Partner:
    """An authenticated caller: one key of one network."""

    key_id: str
    network_id: str


class SourceConflict(ValueError):
    """The source id is taken (by any network, or by the registry file)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode("utf-8"), salt=salt, maxmem=64 * 1024 * 1024, **SCRYPT)


# --- keys -----------------------------------------------------------------------------------------
def ensure_network(store: Store, network_id: str, name: str | None = None) -> None:
    """Create the network row when missing (partner networks need not be in the registry file)."""
    NetworkSpec(id=network_id, name=name or network_id)  # validates the id pattern
    with store.session() as s, s.begin():
        if s.get(NetworkRow, network_id) is None:
            s.add(NetworkRow(id=network_id, name=name or network_id))


def issue_key(store: Store, network_id: str, label: str = "") -> str:
    """Create a key for ``network_id``; returns the plaintext key, which is never stored."""
    key_id = secrets.token_hex(KEY_ID_HEX // 2)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    with store.session() as s, s.begin():
        if s.get(NetworkRow, network_id) is None:
            raise KeyError(f"no network {network_id!r}")
        s.add(
            ApiKeyRow(
                id=key_id,
                network_id=network_id,
                label=label,
                salt=salt,
                digest=_hash(secret, salt),
                created_at=_now(),
            )
        )
    return f"{KEY_PREFIX}{key_id}_{secret}"


def revoke_key(store: Store, key_id: str) -> None:
    with store.session() as s, s.begin():
        row = s.get(ApiKeyRow, key_id)
        if row is not None:
            row.revoked_at = _now()


def authenticate(store: Store, key: str) -> Partner | None:
    """The partner a key belongs to, or None (unknown, malformed, wrong secret or revoked)."""
    if not key.startswith(KEY_PREFIX) or len(key) < len(KEY_PREFIX) + KEY_ID_HEX + 2:
        return None
    key_id = key[len(KEY_PREFIX) : len(KEY_PREFIX) + KEY_ID_HEX]
    if key[len(KEY_PREFIX) + KEY_ID_HEX] != "_":
        return None
    secret = key[len(KEY_PREFIX) + KEY_ID_HEX + 1 :]
    with store.session() as s:
        row = s.get(ApiKeyRow, key_id)
        if row is None or row.revoked_at is not None:
            return None
        network_id, salt, digest = row.network_id, row.salt, row.digest
    fingerprint = hashlib.sha256(key.encode("utf-8")).hexdigest()
    cached = _verified.get(fingerprint)
    if cached is None or cached[0] != network_id or cached[1] < time.monotonic():
        if not hmac.compare_digest(_hash(secret, salt), digest):
            return None
        _verified[fingerprint] = (network_id, time.monotonic() + _VERIFIED_TTL_S)
    return Partner(key_id=key_id, network_id=network_id)


# --- contacts ------------------------------------------------------------------------------------
def contact(store: Store, network_id: str) -> NetworkContactRow | None:
    with store.session() as s:
        return s.get(NetworkContactRow, network_id)


def set_contact(store: Store, network_id: str, webhook_url: str | None, email: str | None) -> None:
    with store.session() as s, s.begin():
        s.merge(NetworkContactRow(network_id=network_id, webhook_url=webhook_url, email=email))


# --- partner sources -----------------------------------------------------------------------------
def _source_row(spec: SourceSpec) -> SourceRow:
    return SourceRow(
        id=spec.id,
        network_id=spec.network,
        title=spec.title,
        url=spec.url,
        platform=spec.platform,
        kind=spec.kind,
        language=spec.language,
        licence=spec.licence,
        paused=spec.paused,
    )


def partner_source(store: Store, network_id: str, source_id: str) -> SourceSpec | None:
    """A partner-added source of this network (None when missing *or* another network's)."""
    with store.session() as s:
        row = s.get(PartnerSourceRow, source_id)
        if row is None or row.network_id != network_id:
            return None
        return SourceSpec.model_validate(row.spec)


def partner_sources(store: Store, network_id: str | None = None) -> list[SourceSpec]:
    with store.session() as s:
        q = select(PartnerSourceRow).order_by(PartnerSourceRow.id)
        if network_id is not None:
            q = q.where(PartnerSourceRow.network_id == network_id)
        return [SourceSpec.model_validate(r.spec) for r in s.scalars(q)]


def add_source(
    store: Store, spec: SourceSpec, reserved: frozenset[str] | set[str] = frozenset()
) -> SourceSpec:
    """Add a partner source; ids are global, so any existing id (or a registry id) conflicts."""
    if spec.id in reserved:
        raise SourceConflict(f"source id {spec.id!r} is taken")
    now = _now()
    with store.session() as s, s.begin():
        if s.get(SourceRow, spec.id) is not None:
            raise SourceConflict(f"source id {spec.id!r} is taken")
        s.add(_source_row(spec))
        s.flush()
        s.add(
            PartnerSourceRow(
                id=spec.id,
                network_id=spec.network,
                spec=spec.model_dump(mode="json"),
                created_at=now,
                updated_at=now,
            )
        )
    return spec


def update_source(store: Store, spec: SourceSpec) -> SourceSpec:
    """Replace a partner source's spec (the caller checked the network)."""
    with store.session() as s, s.begin():
        row = s.get(PartnerSourceRow, spec.id)
        if row is None or row.network_id != spec.network:
            raise KeyError(spec.id)
        row.spec = spec.model_dump(mode="json")
        row.updated_at = _now()
        s.merge(_source_row(spec))
        if not spec.paused:  # resuming clears an automatic pause too
            health = s.get(SourceHealthRow, spec.id)
            if health is not None and health.auto_paused:
                health.auto_paused = False
                health.paused_reason = None
                health.consecutive_failures = 0
                health.next_due_at = None
    return spec


def remove_source(store: Store, network_id: str, source_id: str) -> bool:
    """Stop harvesting a partner source. Its stored items and history stay (they have IRIs)."""
    with store.session() as s, s.begin():
        row = s.get(PartnerSourceRow, source_id)
        if row is None or row.network_id != network_id:
            return False
        s.delete(row)
        src = s.get(SourceRow, source_id)
        if src is not None:
            src.paused = True
    return True


def effective_registry(store: Store, registry: Registry) -> Registry:
    """The registry file plus partner sources, with automatic pauses applied.

    Registry-file entries win on an id clash (a partner cannot shadow an operator's source).
    """
    ids = {s.id for s in registry.sources}
    sources = [s.model_copy() for s in registry.sources]
    sources += [s for s in partner_sources(store) if s.id not in ids]
    with store.session() as s:
        paused = set(s.scalars(select(SourceHealthRow.source_id).where(SourceHealthRow.auto_paused)))
        known = {n.id for n in registry.networks}
        extra = [
            NetworkSpec(id=n.id, name=n.name) for n in s.scalars(select(NetworkRow)) if n.id not in known
        ]
    for spec in sources:
        if spec.id in paused:
            spec.paused = True
    return Registry(networks=[*registry.networks, *extra], sources=sources)


def report_rows(store: Store, source_id: str) -> dict[str, Any]:
    """Health of one source as a plain dict (for the partner API)."""
    with store.session() as s:
        h = s.get(SourceHealthRow, source_id)
        if h is None:
            return {}
        return {
            "last_attempt_at": h.last_attempt_at,
            "last_success_at": h.last_success_at,
            "last_status": h.last_status,
            "error_code": h.error_code,
            "http_status": h.http_status,
            "consecutive_failures": h.consecutive_failures,
            "counts": h.counts,
            "duration_s": h.duration_s,
            "warnings": h.warnings,
            "next_due_at": h.next_due_at,
            "auto_paused": h.auto_paused,
            "paused_reason": h.paused_reason,
            "dead_since": h.dead_since,
        }


def main(argv: list[str] | None = None) -> int:
    """``python -m store.partners issue|revoke ...`` for operators."""
    from pipeline.settings import get_settings

    parser = argparse.ArgumentParser(prog="python -m store.partners")
    sub = parser.add_subparsers(dest="cmd", required=True)
    issue = sub.add_parser("issue", help="create a network (if new) and print a new API key for it")
    issue.add_argument("network_id")
    issue.add_argument("name", nargs="?")
    issue.add_argument("--label", default="")
    revoke = sub.add_parser("revoke", help="revoke a key by its id (the 12 hex digits after inn_)")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)
    store = Store(get_settings().resolved_database_url)
    try:
        if args.cmd == "issue":
            ensure_network(store, args.network_id, args.name)
            print(issue_key(store, args.network_id, args.label))
        else:
            revoke_key(store, args.key_id)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
