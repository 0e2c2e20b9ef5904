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

#: libyaml's safe loader is ~10x faster on a 1,000-source registry; same semantics as safe_load.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class RegistryError(ValueError):
    """The registry file cannot be used; the message says where and why."""


def parse_registry(text: str, origin: str = "<registry>", samples_url: str = "") -> Registry:
    """Parse registry YAML, substituting ``{samples}`` in URLs, and check references."""
    try:
        data = yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - a safe loader (libyaml's when present)
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
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader) or {}  # noqa: S506
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


# --- platform detection ---------------------------------------------------------------------------
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/json")


def sniff_platform(body: bytes, url: str, content_type: str | None = None) -> tuple[str, str]:
    """(platform, URL to register) for a fetched body; HTML pages are searched for feed links first.

    Feed autodiscovery follows ``<link rel="alternate" type="application/rss+xml" href>``;
    a page without a feed link but with schema.org items is ``html``. Raises RegistryError
    when nothing usable is found.
    """
    from urllib.parse import urljoin

    head = body[:4096].lstrip().lower()
    ctype = (content_type or "").lower()
    if head.startswith(b"begin:vcalendar") or "text/calendar" in ctype:
        return "ical", url
    if head.startswith((b"{", b"[")):
        text = body[:20000].decode("utf-8", errors="replace")
        if "jsonfeed.org" in text:
            return "feed", url
        if "calendarType" in text or "udb-silex" in text or "uitdatabank" in text.lower():
            return "uitdatabank", url
        if '"feeds"' in text:
            return "opml", url
        if "@context" in text or "@type" in text:
            return "jsonld", url
        raise RegistryError(f"{url} is JSON but neither a JSON Feed nor JSON-LD")
    if b"<opml" in head:
        return "opml", url
    if b"<urlset" in head or b"<sitemapindex" in head or body[:2] == b"\x1f\x8b":
        return "sitemap", url
    if b"<rss" in head or b"<feed" in head or b"<rdf:rdf" in head:
        return "feed", url
    if b"<html" in head or b"<!doctype html" in head or "html" in ctype:
        from parsel import Selector

        sel = Selector(text=body[:2_000_000].decode("utf-8", errors="replace"))
        for link in sel.xpath("//link[@rel and @href]"):
            rel = (link.attrib.get("rel") or "").lower().split()
            kind = (link.attrib.get("type") or "").lower()
            if "alternate" in rel and kind in FEED_TYPES:
                return "feed", urljoin(url, link.attrib["href"])
        for link in sel.xpath("//link[@rel and @href]"):
            if (link.attrib.get("type") or "").lower() == "text/calendar":
                return "ical", urljoin(url, link.attrib["href"])
        if sel.xpath('//script[@type="application/ld+json"]') or sel.xpath("//*[@itemtype]"):
            return "html", url
        raise RegistryError(
            f"{url} is an HTML page without a feed link (<link rel=alternate>) or schema.org markup; "
            "register it with platform html and CSS selectors in options"
        )
    raise RegistryError(f"cannot tell the platform of {url} (content type {content_type or 'unknown'})")


def detect_platform(settings: Settings, url: str) -> tuple[str, str]:
    """Fetch ``url`` through the crawler (guard, robots, caps) and sniff its platform."""
    import tempfile

    from pipeline.contracts import SourceSpec as Spec
    from pipeline.fetch import fetch_sources
    from store.repository import Store

    with tempfile.TemporaryDirectory(prefix="innonet-detect-") as tmp:
        store = Store(f"sqlite:///{tmp}/detect.sqlite3")
        try:
            probe = Spec(id="probe", network="probe", title="probe", url=url)
            result = fetch_sources(settings, store, [probe])[0]
            if not result.ok or result.not_modified:
                raise RegistryError(f"{url}: {result.error_code}: {result.error_message}")
            body = store.payload(result.body_sha256 or "") or b""
        finally:
            store.close()
    return sniff_platform(body, result.final_url or url, result.content_type)


# --- the `innonet sources` command -------------------------------------------------------------------
def add_sources_parser(sub: Any) -> None:
    """``innonet sources list|add|change|pause|resume|remove|detect`` on the registry file."""
    p = sub.add_parser("sources", help="manage the registry file's sources")
    ops = p.add_subparsers(dest="op", required=True)
    ops.add_parser("list", help="list sources")
    add = ops.add_parser("add", help="add a source (platform detected when not given)")
    add.add_argument("id")
    add.add_argument("url")
    add.add_argument("--network", required=True)
    add.add_argument("--title")
    add.add_argument("--platform")
    add.add_argument("--kind", default="news")
    add.add_argument("--language")
    change = ops.add_parser("change", help="change fields: --set key=value (repeatable)")
    change.add_argument("id")
    change.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    for name in ("pause", "resume", "remove"):
        ops.add_parser(name, help=f"{name} a source").add_argument("id")
    detect = ops.add_parser("detect", help="fetch a URL and say which platform it is")
    detect.add_argument("url")


def sources_command(args: Any, settings: Settings) -> int:
    """Run one ``innonet sources`` operation; errors are printed, not raised."""
    path = Path(settings.registry_path)
    allow = list(settings.fetch_allow_hosts)
    try:
        if args.op == "list":
            for s in parse_registry(path.read_text(encoding="utf-8"), str(path), "{samples}").sources:
                print(f"{s.id}\t{s.platform}\t{'paused' if s.paused else 'active'}\t{s.url}")
        elif args.op == "add":
            platform, url = (
                (args.platform, args.url) if args.platform else detect_platform(settings, args.url)
            )
            entry = {"id": args.id, "network": args.network, "title": args.title or args.id, "url": url}
            entry.update(platform=platform, kind=args.kind)
            if args.language:
                entry["language"] = args.language
            spec = add_source(path, entry, allow)
            print(f"added {spec.id} ({spec.platform}) {spec.url}")
        elif args.op == "change":
            changes: dict[str, Any] = {}
            for pair in args.set:
                key, _, value = pair.partition("=")
                changes[key] = yaml.safe_load(value) if value else None
            spec = change_source(path, args.id, changes, allow)
            print(f"changed {spec.id}")
        elif args.op in ("pause", "resume"):
            change_source(path, args.id, {"paused": args.op == "pause"}, allow)
            print(f"{args.op}d {args.id}")
        elif args.op == "remove":
            remove_source(path, args.id)
            print(f"removed {args.id} (its stored items and history stay)")
        elif args.op == "detect":
            platform, url = detect_platform(settings, args.url)
            print(f"{platform}\t{url}")
    except RegistryError as exc:
        print(f"error: {exc}")
        return 2
    return 0
