"""Stage 4, validate: SHACL over the whole batch; violating items are quarantined.

Quarantined items are reported with their messages (stage ``validate``) and not
stored, so they never reach the index or the event stream. Warnings are kept in the
report for the partner and the item is stored.
"""

from __future__ import annotations

from rdflib import Graph

from ontology.fast_validation import batch_proofs, item_triples, owned
from ontology.validation import ValidationOutcome, validate_batch
from pipeline.contracts import RecordError
from pipeline.map import MappedItem


def validate_items(
    items: list[MappedItem], source_id: str
) -> tuple[list[MappedItem], list[RecordError], list[str]]:
    """Split items into (valid, errors for quarantined ones, warnings)."""
    if not items:
        return [], [], []
    # Items the cheap check proves conforming (no violation, no warning) skip pySHACL; the rest are
    # validated by pySHACL as before, on the union without the proven items' own nodes (which, by
    # construction, no other item names) but with the nodes they share (source, run, networks).
    triples = [item_triples(item.content, item.provenance) for item in items]
    proofs = batch_proofs([(item.iri, t) for item, t in zip(items, triples, strict=True)])
    outcome = ValidationOutcome()
    if any(proof is None for proof in proofs):
        union = Graph()
        shared: set = set()
        for item, item_t, proof in zip(items, triples, proofs, strict=True):
            if proof is not None:
                shared.update(t for t in item_t if not owned(item.iri, t[0]))
            else:
                union += item.content
                union += item.provenance
        for triple in shared:
            union.add(triple)
        outcome = validate_batch(union)
    for item, proof in zip(items, proofs, strict=True):
        if proof:
            outcome.warnings[item.iri] = list(proof)
    if not outcome.violations:
        valid, errors = list(items), []  # what the loop below gives when nothing is quarantined
    else:
        valid, errors = _split(items, outcome.violations, source_id)
    warnings = (
        [
            f"{item.native_id}: {'; '.join(outcome.warnings[item.iri])}"
            for item in items
            if item.iri in outcome.warnings
        ]
        if outcome.warnings
        else []
    )
    return valid, errors, warnings


def _split(
    items: list[MappedItem], violations: dict, source_id: str
) -> tuple[list[MappedItem], list[RecordError]]:
    """(items without violations, an error record per quarantined item), in batch order."""
    valid, errors = [], []
    for item in items:
        problems = violations.get(item.iri)
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
    return valid, errors
