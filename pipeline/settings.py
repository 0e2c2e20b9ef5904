"""One typed settings object for every stage, the API, the CLI and the DAGs.

No module reads ``os.environ`` on its own: everything comes from :class:`Settings`
(environment variables prefixed ``INNONET_``, or a ``.env`` file), so tests and
deployers can swap any value in one place.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Configuration of one innonet instance."""

    model_config = SettingsConfigDict(env_prefix="INNONET_", env_file=".env", extra="ignore")

    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public base of this instance; item IRIs are minted under it ({base}/id/...).",
    )
    data_dir: Path = Field(REPO_ROOT / "var", description="Where the SQLite store and run files live.")
    database_url: str = Field(
        "", description="SQLAlchemy URL of the store; empty means sqlite:///{data_dir}/innonet.sqlite3."
    )
    registry_path: Path = Field(
        REPO_ROOT / "registry" / "demo.yaml", description="Registry file: the sources to harvest (YAML)."
    )
    search_backend: Literal["embedded", "elasticsearch"] = Field(
        "embedded", description="embedded = SQLite FTS5, no server; elasticsearch = the production index."
    )
    embedded_index_path: Path | None = Field(
        None, description="SQLite file of the embedded index; empty means {data_dir}/search.sqlite3."
    )
    es_url: str = Field("http://127.0.0.1:9200", description="Elasticsearch URL.")
    es_index: str = Field("innonet-items", description="Alias that searches and writes go through.")
    es_timeout_s: float = Field(10.0, description="Per-request timeout towards Elasticsearch.")
    samples_url: str = Field(
        "", description="Base URL that replaces {samples} in registry URLs (set by the demo's sample server)."
    )
    user_agent: str = Field(
        "innonet/0.1 (+https://github.com/innonet/innonet; harvest contact: see /about)",
        description="User agent sent on every fetch, with a contact URL.",
    )
    fetch_timeout_s: float = Field(30.0, description="Total deadline for one fetch.")
    fetch_max_bytes: int = Field(10 * 1024 * 1024, description="Size cap of one fetched payload.")
    fetch_allow_hosts: list[str] = Field(
        default_factory=list,
        description="Operator allowlist of hosts/IPs that may be fetched although private or loopback "
        "(tests and the demo use 127.0.0.1).",
    )
    fetch_delay_s: float = Field(1.0, description="Delay between two requests to the same host (politeness).")
    fetch_process_timeout_s: float = Field(
        600.0,
        description="Deadline of one whole crawl process; sources left unanswered fail with fetch_error.",
    )
    mapping_version: str = Field("1", description="Version of the RDF mapping, recorded in provenance.")

    @property
    def resolved_database_url(self) -> str:
        """The store URL, defaulting to a SQLite file in the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir / 'innonet.sqlite3'}"

    @property
    def resolved_index_path(self) -> Path:
        """The embedded index file."""
        return self.embedded_index_path or self.data_dir / "search.sqlite3"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (tests build their own :class:`Settings` instead)."""
    return Settings()
