"""The network chain's list cells get blank-node labels unique per item, per process and after a fork
(ontology/mapping/provenance.py draws one random prefix per process instead of a uuid4 per node)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from rdflib import BNode, URIRef

from ontology.mapping.provenance import provenance

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _cells(n: int) -> list[str]:
    out: list[str] = []
    for i in range(n):
        g = provenance(
            URIRef(f"http://innonet.test/id/news/s/{i}"), NOW, "ab" * 32, "1",
            base="http://innonet.test", source_id="s", network_id="net-a", upstream_networks=["http://up.test/n"],
        )  # fmt: skip
        out += [str(s) for s, _, _ in g if isinstance(s, BNode)]
    return out


def test_cells_unique_across_items() -> None:
    cells = _cells(50)
    assert len(set(cells)) == 100  # two networks per item: two distinct cells each, none reused


def test_a_forked_child_draws_its_own_labels() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its labels, written back to the parent
        os.close(read)
        os.write(write, "\n".join(_cells(5)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split("\n"))
    os.waitpid(pid, 0)
    parent = set(_cells(5))
    assert len(child) == len(parent) == 10
    assert not child & parent
    assert {c[:33] for c in child}.isdisjoint({c[:33] for c in parent})  # another random prefix
