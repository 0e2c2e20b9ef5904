"""Two innonet instances on 127.0.0.1: each its own store, registry, base URL and uvicorn server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from rdflib import Graph, URIRef
from rdflib.collection import Collection

from api.main import create_app
from ontology.namespaces import INNONET
from pipeline.settings import Settings
from store.members import MemberLog
from store.repository import Store
from tests.api.ldes_support import free_port
from tests.conftest import write_registry

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{title}</title><link>{link}</link><description>test</description>
{items}
</channel></rss>
"""
ITEM = """<item><title>{title}</title><link>{link}</link><guid isPermaLink="false">{guid}</guid>
<description>{text}</description><pubDate>Tue, 24 Nov 2026 09:00:00 GMT</pubDate></item>"""


def write_feed(path: Path, items: list[tuple[str, str]], site: str = "https://example.org") -> None:
    """An RSS 2.0 feed of (guid, title) items, with English text long enough to detect."""
    body = "\n".join(
        ITEM.format(
            title=title,
            link=f"{site}/{guid}",
            guid=guid,
            text=f"{title}: the city council tested a new way of working with citizens and shared what it learned.",
        )
        for guid, title in items
    )
    path.write_text(RSS.format(title=path.stem, link=site, items=body), encoding="utf-8")


@dataclass
class Instance:
    """One innonet: its settings (base URL = its own server), store and member log."""

    name: str
    settings: Settings
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store(self) -> Store:
        return Store(self.settings.resolved_database_url)

    def log(self) -> MemberLog:
        return MemberLog(self.store, self.settings.base_url, self.settings.ldes_page_size)

    def register(self, sources: list[dict], networks: list[dict]) -> None:
        write_registry(Path(self.settings.registry_path), sources, networks)


def make_instance(tmp: Path, name: str, **overrides: object) -> Instance:
    port = free_port()
    root = tmp / name
    root.mkdir(parents=True, exist_ok=True)
    values: dict[str, object] = {
        "data_dir": root / "data",
        "registry_path": root / "registry.yaml",
        "base_url": f"http://127.0.0.1:{port}",
        "fetch_allow_hosts": ["127.0.0.1"],
        "fetch_delay_s": 0.0,
        "fetch_timeout_s": 10.0,
        "search_backend": "embedded",
    }
    values.update(overrides)
    return Instance(name, Settings(**values), port)  # type: ignore[arg-type]


@contextmanager
def serving(instance: Instance) -> Iterator[str]:
    """The instance's API under uvicorn on its own port, in a thread."""
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(instance.settings), host="127.0.0.1", port=instance.port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"uvicorn for {instance.name} did not start")
        time.sleep(0.02)
    try:
        yield instance.url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def record_graph(store: Store, iri: str) -> Graph:
    row = store.record(iri)
    assert row is not None, f"no record {iri}"
    g = Graph()
    g.parse(data=row.graph, format="nt")
    return g


def chain_of(g: Graph, iri: str) -> list[str]:
    head = g.value(URIRef(iri), INNONET.networkChain)
    return [str(n) for n in Collection(g, head)] if head is not None else []
