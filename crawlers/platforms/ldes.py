"""Platform ``ldes``: follow another instance's Linked Data Event Stream (federation).

The source URL is a stream (``…/ldes/feed``, or a filtered view of it). One harvest walks the
TREE view from the stream's ``tree:view`` through every ``tree:relation`` to the member pages
(:func:`follow_ups`, called by the spider), skipping pages that an earlier run finished: an
immutable page (``ldes:immutable true``, sent with ``Cache-Control: immutable``) never changes,
so once its members are stored it is never fetched again (:func:`done_pages`, saved in the
follow-state table by :func:`finish_follow`).

Members are already in our vocabulary, so "mapping" (:func:`map_members`) re-subjects a
version's triples onto the item it is a version of, keeps the item's own IRI (the origin
instance's: we reuse other people's IRIs, never rename them) and extends its provenance
chain with this instance's registering network. The newest version of each item wins; an
``as:Delete`` version withdraws the item here too (``store.members.withdraw_items``).

Loops (A follows B follows A): a member whose item was minted by this instance, or whose
network chain already passes through this instance, is ours coming back and is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from crawlers.platforms.base import ParseOutcome, fatal, parse_datetime, record_error
from ontology.namespaces import DCTERMS, INNONET, PROV, RDF, SCHEMA
from ontology.uris import ITEM_TYPES
from pipeline.contracts import RawItem, RecordError, SourceSpec

TREE = Namespace("https://w3id.org/tree#")
LDES = Namespace("https://w3id.org/ldes#")
AS_DELETE = URIRef("https://www.w3.org/ns/activitystreams#Delete")

#: Predicates of a version that describe how it was made, not what the item says: they go to
#: the provenance graph (never hashed), everything else is the item's content.
PROVENANCE_PREDICATES = frozenset(
    {
        PROV.generatedAtTime,
        PROV.wasDerivedFrom,
        PROV.wasGeneratedBy,
        PROV.wasAttributedTo,
        PROV.hadPrimarySource,
        INNONET.mappingVersion,
        INNONET.networkChain,
        DCTERMS.isVersionOf,
        INNONET.cluster,
    }
)
#: rdf:type of an item -> our item kind, when its IRI does not say it (another software's stream).
KIND_BY_TYPE = {
    SCHEMA.NewsArticle: "news",
    SCHEMA.Event: "event",
    URIRef("http://data.europa.eu/m8g/PublicEvent"): "event",
    INNONET.InnovationCase: "case",
    SCHEMA.Organization: "organisation",
}
_KIND_BY_SEGMENT = {segment: kind for kind, segment in ITEM_TYPES.items()}
_RDF_FORMATS = {
    "text/turtle": "turtle",
    "application/n-triples": "nt",
    "application/n-quads": "nquads",
    "application/trig": "trig",
    "application/ld+json": "json-ld",
    "application/rdf+xml": "xml",
}


def read_graph(body: bytes, content_type: str | None) -> Graph:
    """An LDES page as a graph (N-Quads/TriG named graphs merged); raises ValueError if unreadable."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    fmt = _RDF_FORMATS.get(media, "turtle")
    g = Graph()
    try:
        if fmt in ("nquads", "trig"):
            from rdflib import Dataset

            ds = Dataset()
            ds.parse(data=body, format=fmt)
            for s, p, o, _ctx in ds.quads((None, None, None, None)):
                g.add((s, p, o))
        else:
            g.parse(data=body, format=fmt)
    except Exception as exc:  # noqa: BLE001 - rdflib raises many types for bad input
        raise ValueError(f"not readable as {fmt}: {type(exc).__name__}: {exc}"[:300]) from exc
    return g


def _targets(g: Graph) -> list[str]:
    """Every node a view or relation points at, in document order of their values (oldest first)."""
    out: list[tuple[str, str]] = []
    for view in g.objects(None, TREE.view):
        if isinstance(view, URIRef):
            out.append(("", str(view)))
    for rel in g.objects(None, TREE.relation):
        node = g.value(rel, TREE.node)
        if isinstance(node, URIRef):
            out.append((str(g.value(rel, TREE.value) or ""), str(node)))
    return list(dict.fromkeys(url for _, url in sorted(out)))


def follow_ups(
    body: bytes, url: str, content_type: str | None, options: dict[str, Any], depth: int
) -> list[str]:
    """The stream's view and relation targets still to fetch (finished immutable pages are skipped)."""
    try:
        g = read_graph(body, content_type)
    except ValueError:
        return []
    done = set(options.get("done_pages") or ())
    return [t for t in _targets(g) if t not in done and t != url]


def is_immutable(g: Graph, url: str) -> bool:
    return (URIRef(url), LDES.immutable, Literal(True)) in g


def _closure(g: Graph, start: Node, item: str, seen: set[Node]) -> Graph:
    """Triples of ``start`` plus those of blank nodes and the item's fragment nodes it points to."""
    out = Graph()
    todo = [start]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        for _, p, o in g.triples((node, None, None)):
            out.add((node, p, o))
            if isinstance(o, BNode) or (isinstance(o, URIRef) and str(o).startswith(item + "#")):
                todo.append(o)
    return out


def _kind(item: str, g: Graph, version: URIRef) -> str | None:
    parts = item.split("/id/", 1)
    if len(parts) == 2:
        kind = _KIND_BY_SEGMENT.get(parts[1].split("/", 1)[0])
        if kind:
            return kind
    for t in g.objects(version, RDF.type):
        if t in KIND_BY_TYPE:
            return KIND_BY_TYPE[t]
    return None


def members(g: Graph, source: SourceSpec) -> ParseOutcome:
    """Every ``tree:member`` on the page as a raw item carrying its version graph."""
    outcome = ParseOutcome()
    for version in sorted({m for m in g.objects(None, TREE.member) if isinstance(m, URIRef)}):
        item = g.value(version, DCTERMS.isVersionOf)
        stamp = parse_datetime(str(g.value(version, PROV.generatedAtTime) or ""))
        if not isinstance(item, URIRef) or stamp is None:
            outcome.errors.append(
                record_error(
                    source,
                    "bad_member",
                    "a member needs one dcterms:isVersionOf IRI and one prov:generatedAtTime",
                    str(version),
                )
            )
            continue
        deleted = (version, RDF.type, AS_DELETE) in g
        kind = _kind(str(item), g, version)
        if kind is None and not deleted:
            outcome.errors.append(
                record_error(source, "unknown_kind", f"no item kind for {item}", str(version))
            )
            continue
        member = _closure(g, version, str(item), set())
        chain_head = g.value(version, INNONET.networkChain)
        chain = [str(n) for n in Collection(g, chain_head)] if chain_head is not None else []
        outcome.items.append(
            RawItem(
                source_id=source.id,
                native_id=str(version),
                kind=kind or "news",  # type: ignore[arg-type]
                title=str(g.value(version, SCHEMA.headline) or g.value(version, SCHEMA.name) or "") or None,
                url=str(g.value(version, SCHEMA.url) or "") or None,
                extra={
                    "ldes_item": str(item),
                    "ldes_deleted": deleted,
                    "ldes_time": stamp.astimezone(UTC).isoformat(),
                    "ldes_graph": member.serialize(format="nt"),
                    "network_chain": chain,
                },
            )
        )
    return outcome


def parse_ldes(body: bytes, source: SourceSpec, content_type: str | None) -> ParseOutcome:
    """The stream's entry point: check it is one; members on it (a page given as URL) are read too."""
    try:
        g = read_graph(body, content_type)
    except ValueError as exc:
        return fatal(source, "not_ldes", f"the stream URL did not answer RDF: {exc}")
    if not any(g.triples((None, TREE.view, None))) and not any(g.triples((None, TREE.member, None))):
        return fatal(source, "not_ldes", "no tree:view and no tree:member: this URL is not an event stream")
    return members(g, source)


def parse_ldes_page(body: bytes, source: SourceSpec, content_type: str | None, url: str) -> ParseOutcome:
    """One fetched node of the view: its members (a node with only relations yields none)."""
    try:
        g = read_graph(body, content_type)
    except ValueError as exc:
        return fatal(source, "bad_page", f"{url}: {exc}")
    return members(g, source)


# --- "mapping": a version becomes the item's content and provenance ---------------------------------


def _ours(iri: str, base: str) -> bool:
    return iri.startswith(base.rstrip("/") + "/")


def latest_versions(items: Sequence[RawItem]) -> dict[str, RawItem]:
    """item IRI -> its newest version among these (ties: the later one in log order wins)."""
    newest: dict[str, RawItem] = {}
    for raw in items:
        item = raw.extra.get("ldes_item")
        if not item:
            continue
        current = newest.get(item)
        if current is None or (raw.extra["ldes_time"], raw.native_id) >= (
            current.extra["ldes_time"],
            current.native_id,
        ):
            newest[item] = raw
    return newest


def is_loop(raw: RawItem, base: str) -> bool:
    """The item was minted here, or its chain already passes through this instance."""
    chain = raw.extra.get("network_chain") or []
    return _ours(raw.extra["ldes_item"], base) or any(_ours(str(n), base) for n in chain)


def map_members(
    items: list[RawItem],
    source: SourceSpec,
    *,
    base: str,
    fetched_at: datetime,
    raw_sha256: str | None,
    mapping_version: str,
) -> tuple[list[Any], list[RecordError]]:
    """Newest live version of each item -> MappedItem (same signature as ``pipeline.map.map_items``)."""
    from ontology.mapping.provenance import provenance
    from pipeline.map import MappedItem

    mapped = []
    for item_iri, raw in sorted(latest_versions(items).items()):
        if raw.extra["ldes_deleted"] or is_loop(raw, base):
            continue
        version = URIRef(raw.native_id)
        item = URIRef(item_iri)
        g = Graph()
        g.parse(data=raw.extra["ldes_graph"], format="nt")
        content = Graph()
        for _, p, o in g.triples((version, None, None)):
            if p not in PROVENANCE_PREDICATES:
                content.add((item, p, o))
                if isinstance(o, URIRef) and str(o).startswith(item_iri + "#"):
                    content += _closure(g, o, item_iri, set())
        prov = provenance(
            item,
            fetched_at,
            raw_sha256,
            mapping_version,
            base=base,
            source_id=source.id,
            network_id=source.network,
            upstream_networks=list(raw.extra.get("network_chain") or []),
            primary_source=str(g.value(version, PROV.hadPrimarySource) or raw.url or "") or None,
        )
        prov.add((item, PROV.wasDerivedFrom, version))  # the origin's version this copy was made from
        mapped.append(MappedItem(item, raw.native_id, raw.kind, content, prov, raw=raw))
    return mapped, []


def withdrawn(items: Sequence[RawItem], base: str) -> list[str]:
    """Items whose newest version here is an ``as:Delete`` (not our own items coming back)."""
    return sorted(
        iri
        for iri, raw in latest_versions(items).items()
        if raw.extra["ldes_deleted"] and not _ours(iri, base)
    )


# --- saved state --------------------------------------------------------------------------------------


def done_pages(pages: Sequence[tuple[str, bytes, str | None]], previous: Sequence[str]) -> list[str]:
    """Nodes finished for good: immutable pages fetched this run, and immutable nodes all of whose
    relation targets are finished (a closed day whose every page is stored).

    ``pages`` are (url, body, content type) of nodes fetched without error this run.
    """
    done = set(previous)
    immutable: dict[str, list[str]] = {}
    for url, body, content_type in pages:
        try:
            g = read_graph(body, content_type)
        except ValueError:
            continue
        if is_immutable(g, url):
            children = {g.value(rel, TREE.node) for rel in g.objects(URIRef(url), TREE.relation)}
            immutable[url] = [str(c) for c in children if isinstance(c, URIRef) and str(c) != url]
    changed = True
    while changed:
        changed = False
        for url, targets in immutable.items():
            if url not in done and all(t in done for t in targets):
                done.add(url)
                changed = True
    return sorted(done)
