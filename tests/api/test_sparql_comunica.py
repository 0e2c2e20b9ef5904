"""The Comunica query engine (npm ``@comunica/query-sparql`` 4.5.0, the version that runs on Node 20,
installed by bin/setup) queries a running innonet's /sparql and gets what rdflib gets.

Comunica is given only the URL: it must recognise the endpoint (the URL and the service
description, whose ``sd:endpoint`` has to be the exact public URL) and send the query there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from rdflib import Graph

from pipeline.contracts import NetworkSpec, Registry, SourceSpec
from tests.api.ldes_support import NPM_PREFIX
from tests.federation.support import make_instance, serving
from tests.needs import missing

pytestmark = pytest.mark.integration

COMUNICA = NPM_PREFIX / "node_modules" / ".bin" / "comunica-sparql"
GOLDEN = Path(__file__).resolve().parent.parent / "ontology" / "golden"


def comunica() -> Path:
    if not (COMUNICA.exists() and shutil.which("node")):
        missing(f"@comunica/query-sparql not installed at {COMUNICA} (bin/setup --test-tools installs it)")
    return COMUNICA


def test_comunica_queries_the_endpoint_by_its_url(tmp_path) -> None:
    engine = comunica()
    inst = make_instance(tmp_path, "sparql")
    store = inst.store
    store.sync_registry(
        Registry(
            networks=[NetworkSpec(id="net-a", name="Network A")],
            sources=[SourceSpec(id="s", network="net-a", title="S", url="https://a.example.org/")],
        )
    )
    union = Graph()
    for i, path in enumerate(sorted(GOLDEN.glob("*.ttl"))):
        g = Graph().parse(path, format="turtle")
        iri = f"{inst.settings.base_url}/id/case/s/{i}"
        # the golden graphs are minted under http://innonet.test; re-base them onto this server
        nt = g.serialize(format="nt").replace("http://innonet.test/", inst.settings.base_url + "/")
        store.upsert_record(
            iri=iri,
            source_id="s",
            kind="case",
            native_id=path.name,
            graph_nt=nt,
            raw_sha256=None,
            content_hash=str(i),
        )
        union.parse(data=nt, format="nt")
    query = (
        "PREFIX schema: <http://schema.org/> "
        "SELECT ?item ?name WHERE { ?item a ?type ; schema:name ?name } ORDER BY ?item ?name"
    )
    want = sorted({(str(r["item"]), r["name"].n3()) for r in union.query(query)})
    assert len(want) > 3
    assert any("@" in name for _, name in want)  # language tags must survive the round trip
    with serving(inst) as url:
        done = subprocess.run(
            [str(engine), f"{url}/sparql", "-q", query, "-t", "application/sparql-results+json"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    bindings = json.loads(done.stdout)["results"]["bindings"]
    got = set()
    for b in bindings:
        name = b["name"]
        term = f'"{name["value"]}"' + (f"@{name['xml:lang']}" if "xml:lang" in name else "")
        if "datatype" in name:
            term += f"^^<{name['datatype']}>"
        got.add((b["item"]["value"], term))
    assert sorted(got) == want
