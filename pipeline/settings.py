"""One typed settings object for every stage, the API, the CLI and the DAGs.

No module reads ``os.environ`` on its own: everything comes from :class:`Settings`
(environment variables prefixed ``INNONET_``, or a ``.env`` file), so tests and
deployers can swap any value in one place.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
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
    es_search_timeout: str = Field(
        "2s", description="Server-side time limit of one search in Elasticsearch (its `timeout`, e.g. 2s)."
    )
    es_merge_timeout_s: float = Field(
        3600.0,
        description="Longest wait for a rebuild's force-merge before the alias swap; past it the rebuild "
        "is aborted and the old index keeps serving.",
    )
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
    # --- publishing: event stream, SPARQL (store/members.py, api/routers/ldes.py, sparql.py) ---
    ldes_page_size: int = Field(250, description="Members per event-stream page (a full page is immutable).")
    ldes_polling_interval_s: int = Field(
        300, description="ldes:pollingInterval announced on the stream: how often followers should poll."
    )
    ldes_mutable_max_age_s: int = Field(
        60, description="Cache-Control max-age of pages that can still change."
    )
    ldes_close_grace_s: int = Field(
        60, description="Seconds after midnight UTC before the previous day's pages are served as immutable."
    )
    ldes_cache_max_bytes: int = Field(
        64 * 1024 * 1024,
        ge=0,
        description="Bytes of closed event-stream pages each API worker keeps in memory to answer again "
        "(least recently used dropped first; at most 2,000 pages; 0 keeps none).",
    )
    ldes_follow_max_pages: int = Field(
        20000, description="Pages one harvest of a followed stream (platform ldes) may fetch."
    )
    sparql_timeout_s: float = Field(10.0, description="Deadline of one SPARQL query (503 after it).")
    sparql_max_results: int = Field(10000, description="Rows (or triples) one SPARQL answer returns at most.")
    sparql_max_concurrent: int = Field(
        4,
        description="SPARQL queries evaluated at once; more are answered 503 (a runaway query holds its slot).",
    )
    # --- fetching and platforms (crawlers/fetching, crawlers/platforms) ---
    fetch_per_host: int = Field(2, description="Concurrent requests to one host (politeness).")
    fetch_max_redirects: int = Field(5, description="Redirect hops followed before too_many_redirects.")
    fetch_dns_timeout_s: float = Field(5.0, description="Timeout of one DNS lookup (dns_error after it).")
    fetch_max_pages: int = Field(
        50,
        description="Follow-up pages fetched per multi-page source (sitemap, listing); a source option can lower it.",
    )
    fetch_resolve: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Pinned name -> addresses for the crawler's resolver (like curl --resolve); the address "
        "guard still applies to the pinned answers.",
    )
    ical_window_past_days: int = Field(
        30, description="Recurring events are expanded from this many days ago..."
    )
    ical_window_future_days: int = Field(
        365, description="...to this many days ahead (a source option can change both)."
    )
    ical_max_instances: int = Field(
        3500,
        description="Cap of expanded event instances per calendar (sabre/vobject's cap); more is reported.",
    )
    # --- scheduling and harvest health (pipeline/schedule.py, pipeline/health.py) ---
    harvest_interval_s: int = Field(
        3600,
        description="Base interval between two harvests of one source (seconds); back-off multiplies it.",
    )
    harvest_max_interval_s: int = Field(
        86400, description="Cap of the adaptive back-off for sources that rarely change or keep failing."
    )
    harvest_max_batches: int = Field(
        4,
        description="Upper bound on harvest task instances per cycle (sources are batched by host); "
        "each batch pays a crawler start and its own politeness bound, so more batches than parallel task "
        "slots only add time.",
    )
    harvest_min_batch_sources: int = Field(
        50,
        description="A cycle is cut into no more batches than due sources / this (a small cycle: one batch).",
    )
    harvest_processes: int = Field(
        0,
        ge=0,
        description="Batch processes `innonet harvest` runs at once, batched by host as the DAG does "
        "(0: one per two cores, each batch runs a crawler beside it); a small harvest stays one process.",
    )
    harvest_stall_s: float = Field(
        0,
        ge=0,
        description="A batch process of `innonet harvest` that sends no source report for this long is taken "
        "as hung, stopped, and its unreported sources fail (0: the longer of health_stuck_after_s and two "
        "crawl deadlines, fetch_process_timeout_s).",
    )
    health_pause_after: int = Field(
        5, description="Consecutive failed harvests after which a source is paused and its owner notified."
    )
    health_stuck_after_s: int = Field(
        3600,
        description="A harvest still marked running after this many seconds without a heartbeat is stuck.",
    )
    health_dead_after_days: int = Field(
        30, description="A source without a successful harvest for this many days is reported dead."
    )
    smtp_host: str = Field("", description="SMTP server for owner notifications; empty disables e-mail.")
    smtp_port: int = Field(25, description="SMTP port.")
    smtp_from: str = Field("innonet@localhost", description="Sender address of notification e-mails.")
    smtp_username: str = Field("", description="SMTP login; empty means no authentication.")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password.")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    notify_timeout_s: float = Field(10.0, description="Timeout of one webhook or SMTP delivery.")
    partner_max_body_bytes: int = Field(
        64 * 1024, description="Largest request body the partner API accepts (413 above)."
    )
    partner_rate_per_minute: int = Field(
        120, description="Requests per minute per partner API key (429 with Retry-After above)."
    )

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
