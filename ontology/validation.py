"""SHACL validation as data: a batch of item graphs in, violations per item out.

pySHACL is called once per batch (about three times cheaper per item than once per
item, see ../shared/design/performance.md) and its report is split by focus node, so
one bad item is quarantined while the others are stored. Only broken shapes raise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pyshacl import validate
from rdflib import BNode, Graph, Namespace, URIRef

SH = Namespace("http://www.w3.org/ns/shacl#")
SHAPES_DIR = Path(__file__).parent / "shapes"


@lru_cache(maxsize=1)
def shapes_graph() -> Graph:
    """All shapes, loaded once per process."""
    g = Graph()
    for path in sorted(SHAPES_DIR.glob("*.ttl")):
        g.parse(path, format="turtle")
    return g


_PREFIXES = {
    "http://schema.org/": "schema:",
    "http://purl.org/dc/terms/": "dcterms:",
    "http://www.w3.org/ns/prov#": "prov:",
    "https://w3id.org/innonet/ns#": "innonet:",
    "http://www.w3.org/2004/02/skos/core#": "skos:",
}


def _short(term: object) -> str:
    text = str(term)
    for iri, prefix in _PREFIXES.items():
        if text.startswith(iri):
            return prefix + text[len(iri) :]
    return text


def plain_message(message: str, path: object | None, value: object | None) -> str:
    """A report line a partner can act on: what is wrong, on which field, with which value."""
    parts = [message]
    if path is not None and not isinstance(path, BNode):
        parts.append(f"field {_short(path)}")
    if value is not None and not isinstance(value, BNode):
        shown = str(value)
        parts.append(f"value '{shown[:80]}{'...' if len(shown) > 80 else ''}'")
    return parts[0] + (f" ({', '.join(parts[1:])})" if len(parts) > 1 else "")


@dataclass
class ValidationOutcome:
    """Messages per focus node, split by severity."""

    violations: dict[URIRef, list[str]] = field(default_factory=dict)
    warnings: dict[URIRef, list[str]] = field(default_factory=dict)


def validate_batch(data: Graph) -> ValidationOutcome:
    """Validate the union of item graphs; group the results by the item they concern."""
    outcome = ValidationOutcome()
    # With allow_warnings, ``conforms`` is True when there are only warnings: read the report anyway,
    # otherwise a batch without violations would hide its warnings from the partner.
    _, report, _ = validate(data, shacl_graph=shapes_graph(), inference="none", allow_warnings=True)
    for result in report.subjects(predicate=None, object=SH.ValidationResult):
        focus = report.value(result, SH.focusNode)
        severity = report.value(result, SH.resultSeverity)
        message = str(report.value(result, SH.resultMessage) or "does not meet its shape")
        text = plain_message(message, report.value(result, SH.resultPath), report.value(result, SH.value))
        target = outcome.violations if severity == SH.Violation else outcome.warnings
        if isinstance(focus, URIRef):
            # A nested node ({item}#place) belongs to its item: its problem quarantines the item.
            item = URIRef(str(focus).split("#", 1)[0])
            target.setdefault(item, []).append(text)
    return outcome
