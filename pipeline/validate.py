"""Stage 4, validate: SHACL over the whole batch; violating items are quarantined.

Quarantined items are reported with their messages (stage ``validate``) and not
stored, so they never reach the index or the event stream. Warnings are kept in the
report for the partner and the item is stored.
"""

from __future__ import annotations

from rdflib import Graph

from ontology.validation import validate_batch
from pipeline.contracts import RecordError
from pipeline.map import MappedItem


def validate_items(
    items: list[MappedItem], source_id: str
) -> tuple[list[MappedItem], list[RecordError], list[str]]:
    """Split items into (valid, errors for quarantined ones, warnings)."""
    if not items:
        return [], [], []
    union = Graph()
    for item in items:
        union += item.content
        union += item.provenance
    outcome = validate_batch(union)
    valid, errors = [], []
    for item in items:
        problems = outcome.violations.get(item.iri)
        if problems:
            errors.append(
                RecordError(
                    stage="validate",
                    source_id=source_id,
                    code="shape_violation",
                    message="; ".join(problems),
                    item=item.native_id,
                )
            )
        else:
            valid.append(item)
    warnings = [
        f"{item.native_id}: {'; '.join(outcome.warnings[item.iri])}"
        for item in items
        if item.iri in outcome.warnings
    ]
    return valid, errors, warnings
