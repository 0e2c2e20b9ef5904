"""Load and check the registry file (sources as data).

A registry problem (unknown network, duplicate id, bad YAML) is a configuration error
of the operator and is raised at once with the file and the entry, before any fetch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import select

from pipeline.contracts import Registry, SourceSpec
from pipeline.settings import Settings


class RegistryError(ValueError):
    """The registry file cannot be used; the message says where and why."""


def parse_registry(text: str, origin: str = "<registry>", samples_url: str = "") -> Registry:
    """Parse registry YAML, substituting ``{samples}`` in URLs, and check references."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RegistryError(f"{origin}: not valid YAML: {exc}") from exc
    try:
        registry = Registry.model_validate(data)
    except ValidationError as exc:
        raise RegistryError(f"{origin}: {exc}") from exc
    network_ids = {n.id for n in registry.networks}
    seen: set[str] = set()
    for source in registry.sources:
        if source.id in seen:
            raise RegistryError(f"{origin}: source id {source.id!r} is used twice")
        seen.add(source.id)
        if source.network not in network_ids:
            raise RegistryError(f"{origin}: source {source.id!r} names unknown network {source.network!r}")
        if "{samples}" in source.url:
            if not samples_url:
                raise RegistryError(
                    f"{origin}: source {source.id!r} uses {{samples}} but no sample server URL is set "
                    "(INNONET_SAMPLES_URL; `innonet demo` sets it)"
                )
            source.url = source.url.replace("{samples}", samples_url.rstrip("/"))
    return registry


def load_registry(settings: Settings) -> Registry:
    """The registry named by the settings."""
    path = Path(settings.registry_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryError(f"cannot read registry {path}: {exc}") from exc
    return parse_registry(text, str(path), settings.samples_url)


# --- source lists kept in sync (OPML, another instance's registry) ------------------------------
LIST_PLATFORMS = ("opml", "innonet-registry")


def sync_listed_sources(
    store: Any, parent: SourceSpec, entries: list[dict[str, Any]], allow_hosts: list[str] | None = None
) -> dict[str, int]:
    """Upsert the sources a list names as ``{parent}--...`` rows; pause those it no longer names.

    Returns counts (new / updated / unchanged / paused). A listed URL goes through the same
    validation as a registered one; an entry that fails it is skipped, never stored.
    """
    from store.models import SourceRow

    counts = {"new": 0, "updated": 0, "unchanged": 0, "paused": 0, "invalid": 0}
    wanted: dict[str, SourceSpec] = {}
    for entry in entries:
        try:
            spec = SourceSpec.model_validate(entry)
            validate_source(spec, allow_hosts, check_dns=False)
        except (ValidationError, RegistryError):
            counts["invalid"] += 1
            continue
        wanted[spec.id] = spec
    prefix = f"{parent.id}--"
    with store.session() as s, s.begin():
        existing = {
            row.id: row
            for row in s.scalars(select(SourceRow).where(SourceRow.id.startswith(prefix, autoescape=True)))
        }
        for sid, spec in wanted.items():
            row = existing.get(sid)
            values = {"title": spec.title, "url": spec.url, "platform": spec.platform, "kind": spec.kind}
            if row is None:
                s.add(
                    SourceRow(
                        id=sid, network_id=parent.network, language=spec.language, paused=False, **values
                    )
                )
                counts["new"] += 1
            elif any(getattr(row, k) != v for k, v in values.items()) or row.paused:
                for k, v in values.items():
                    setattr(row, k, v)
                row.paused = False
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
        for sid, row in existing.items():
            if sid not in wanted and not row.paused:
                row.paused = True
                counts["paused"] += 1
    return counts


def listed_sources(store: Any, registry: Registry) -> list[SourceSpec]:
    """The sources named by the registry's list sources (as last synced), paused ones included."""
    from store.models import SourceRow

    parents = {s.id: s for s in registry.sources if s.platform in LIST_PLATFORMS}
    if not parents:
        return []
    out: list[SourceSpec] = []
    with store.session() as s:
        for parent in parents.values():
            rows = s.scalars(
                select(SourceRow).where(SourceRow.id.startswith(f"{parent.id}--", autoescape=True))
            )
            for row in rows:
                out.append(
                    SourceSpec(
                        id=row.id,
                        network=row.network_id,
                        title=row.title,
                        url=row.url,
                        platform=row.platform,  # type: ignore[arg-type]
                        kind=row.kind,  # type: ignore[arg-type]
                        language=row.language,
                        paused=bool(row.paused or parent.paused),
                        options={"listed_by": parent.id},
                    )
                )
    return out


# --- validation, platform detection and registry file edits ---------------------------------------
def validate_source(spec: SourceSpec, allow_hosts: list[str] | None = None, check_dns: bool = True) -> None:
    """Refuse a source whose URL may never be fetched or whose platform is unknown."""
    from crawlers.fetching.guard import BlockedURL, check_url, check_url_static
    from pipeline.parse import PLATFORMS

    if spec.platform not in PLATFORMS:
        raise RegistryError(f"source {spec.id!r}: no adapter for platform {spec.platform!r}")
    if len(spec.url) > 2000 or any(ch in spec.url for ch in "\t\r\n\\ "):
        raise RegistryError(f"source {spec.id!r}: the URL has spaces, control characters or backslashes")
    try:
        (check_url if check_dns else check_url_static)(spec.url, allow_hosts or [])
    except BlockedURL as exc:
        raise RegistryError(f"source {spec.id!r}: {exc.code}: {exc}") from exc


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RegistryError(f"cannot read registry {path}: {exc}") from exc
    data.setdefault("networks", [])
    data.setdefault("sources", [])
    return data


def _write_yaml(path: Path, data: dict[str, Any]) -> None:
    parse_registry(
        yaml.safe_dump(data, sort_keys=False, allow_unicode=True), str(path), "http://samples.invalid"
    )
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    tmp.replace(path)


def add_source(
    path: Path, entry: dict[str, Any], allow_hosts: list[str] | None = None, check_dns: bool = True
) -> SourceSpec:
    """Add a source to a registry file after validating it (id unique, network known, URL safe)."""
    data = _read_yaml(path)
    if any(s.get("id") == entry.get("id") for s in data["sources"]):
        raise RegistryError(f"{path}: source id {entry.get('id')!r} already exists")
    if entry.get("network") not in {n.get("id") for n in data["networks"]}:
        raise RegistryError(f"{path}: unknown network {entry.get('network')!r}")
    try:
        spec = SourceSpec.model_validate(entry)
    except ValidationError as exc:
        raise RegistryError(f"{path}: {exc}") from exc
    if "{samples}" not in spec.url:
        validate_source(spec, allow_hosts, check_dns)
    data["sources"].append(spec.model_dump(exclude_defaults=True))
    _write_yaml(path, data)
    return spec


def change_source(
    path: Path,
    source_id: str,
    changes: dict[str, Any],
    allow_hosts: list[str] | None = None,
    check_dns: bool = True,
) -> SourceSpec:
    """Change fields of a source (URL and platform are validated again)."""
    data = _read_yaml(path)
    for position, entry in enumerate(data["sources"]):
        if entry.get("id") == source_id:
            merged = {**entry, **changes}
            try:
                spec = SourceSpec.model_validate(merged)
            except ValidationError as exc:
                raise RegistryError(f"{path}: {exc}") from exc
            if "{samples}" not in spec.url and ({"url", "platform"} & set(changes)):
                validate_source(spec, allow_hosts, check_dns)
            data["sources"][position] = spec.model_dump(exclude_defaults=True)
            _write_yaml(path, data)
            return spec
    raise RegistryError(f"{path}: no source {source_id!r}")


def remove_source(path: Path, source_id: str) -> None:
    """Remove a source from the registry file (its stored items and history stay in the store)."""
    data = _read_yaml(path)
    kept = [s for s in data["sources"] if s.get("id") != source_id]
    if len(kept) == len(data["sources"]):
        raise RegistryError(f"{path}: no source {source_id!r}")
    data["sources"] = kept
    _write_yaml(path, data)
