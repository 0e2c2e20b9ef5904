"""``innonet``: the pipeline from the command line, without Airflow.

``innonet demo`` is the main job on the embedded default: it serves the bundled
real-world feeds on 127.0.0.1, harvests the demo registry with a progress display,
indexes into the embedded search index and serves the API. The other commands run one
part each against whatever the settings (``INNONET_*``) point at.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.contracts import SourceReport
from pipeline.registry import add_sources_parser, sources_command
from pipeline.settings import REPO_ROOT, Settings, get_settings

console = Console(stderr=True)
SAMPLES = REPO_ROOT / "crawlers" / "samples" / "feeds"
STATUS_STYLE = {"ok": "green", "partial": "yellow", "not_modified": "cyan", "failed": "red", "paused": "dim"}


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}"),
        console=console,
    )


def run_harvest(
    settings: Settings, source_ids: Sequence[str] | None = None, processes: int | None = None
) -> list[SourceReport]:
    """Harvest with a live progress bar and print one line per source.

    Big harvests on machines with 4+ cores run in batch processes (pipeline/parallel.py); otherwise in this process.
    """
    from pipeline.parallel import harvest_on_cores
    from pipeline.registry import load_registry

    registry = load_registry(settings)
    total = len(source_ids) if source_ids else len(registry.sources)
    with _progress() as bar:
        task = bar.add_task("harvesting", total=total, last="")

        def on_report(report: SourceReport) -> None:
            style = STATUS_STYLE.get(report.status, "")
            bar.update(task, advance=1, last=f"{report.source_id}: [{style}]{report.status}[/]")

        reports = harvest_on_cores(settings, source_ids, progress=on_report, processes=processes)
        bar.update(task, total=len(reports))  # listed (OPML) and partner sources are counted once known
    table = Table("source", "status", "new", "upd", "same", "fail", title="harvest")
    table.add_column("why", no_wrap=True, overflow="ellipsis", max_width=70)
    for r in reports:
        style = STATUS_STYLE.get(r.status, "")
        c = r.counts
        why = (r.error_code + ": " if r.error_code else "") + (r.message or "")
        table.add_row(
            r.source_id,
            f"[{style}]{r.status}[/]",
            *(str(c.get(k, 0)) for k in ("new", "updated", "unchanged", "failed")),
            why[:120],
        )
    console.print(table)
    return reports


def run_index(settings: Settings, rebuild: bool = False) -> dict[str, object]:
    """Index pending (or all) stored records with a progress bar."""
    from pipeline.index import index_records
    from search import make_backend
    from store.repository import Store

    store = Store(settings.resolved_database_url)
    backend = make_backend(settings)
    try:
        with _progress() as bar:
            task = bar.add_task(f"indexing ({backend.name})", total=store.count_records(), last="")
            result = index_records(
                store,
                backend,
                rebuild=rebuild,
                progress=lambda n: bar.advance(task, n),
                merge_timeout_s=settings.es_merge_timeout_s,
            )
            bar.update(task, completed=bar.tasks[0].total)
    finally:
        backend.close()
        store.close()
    console.print(f"indexed {result['indexed']} records, {result['failed']} failed ({result['backend']})")
    for error in result["errors"][:10]:  # type: ignore[index]
        console.print(f"  [red]{error['id']}[/]: {error['reason']}")
    return result


def serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from api.main import create_app

    console.print(f"[bold green]innonet is serving on http://{host}:{port}[/]  (Ctrl+C stops)")
    console.print(f"  search:  http://{host}:{port}/search?q=europe")
    console.print(f"  sources: http://{host}:{port}/sources    API docs: http://{host}:{port}/docs")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


def demo(args: argparse.Namespace) -> int:
    """The main job, offline, on the embedded backend."""
    from crawlers.samples.server import serve_directory

    with ExitStack() as stack:
        samples_url = stack.enter_context(serve_directory(SAMPLES))
        console.print(
            f"sample-feed server: {samples_url} (real-world feeds from {SAMPLES.relative_to(REPO_ROOT)})"
        )
        base = get_settings()
        settings = base.model_copy(
            update={
                "samples_url": samples_url,
                "fetch_allow_hosts": [*base.fetch_allow_hosts, "127.0.0.1"],
                "fetch_delay_s": 0.0,
                "base_url": f"http://{args.host}:{args.port}",
                "data_dir": Path(args.data_dir) if args.data_dir else base.data_dir / "demo",
            }
        )
        console.print(f"store: {settings.resolved_database_url}   search backend: {settings.search_backend}")
        run_harvest(settings)
        run_index(settings)
        if args.no_serve:
            return 0
        serve(settings, args.host, args.port)
    return 0


def _at_least_one(value: str) -> int:
    """``--processes``: a whole number of 1 or more, or argparse's clear error."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, not {value!r}")
    return number


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="innonet", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="offline main job: sample feeds -> harvest -> embedded index -> API")
    p_demo.add_argument("--host", default="127.0.0.1")
    p_demo.add_argument("--port", type=int, default=8000)
    p_demo.add_argument("--data-dir", help="where the demo's store and index go (default var/demo)")
    p_demo.add_argument("--no-serve", action="store_true", help="harvest and index, then exit")
    p_harvest = sub.add_parser("harvest", help="harvest the registry's sources (then index)")
    p_harvest.add_argument("sources", nargs="*", help="source ids (default: all)")
    p_harvest.add_argument("--no-index", action="store_true")
    p_harvest.add_argument(
        "--processes",
        type=_at_least_one,
        help="batch processes at once (default INNONET_HARVEST_PROCESSES: one per two cores)",
    )
    p_index = sub.add_parser("index", help="index stored records into the search backend")
    p_index.add_argument("--rebuild", action="store_true", help="re-send every record, not only pending ones")
    p_serve = sub.add_parser("serve", help="serve the API")
    p_serve.add_argument("--host", default="127.0.0.1")
    p_serve.add_argument("--port", type=int, default=8000)
    add_sources_parser(sub)
    args = parser.parse_args(argv)

    if args.command == "demo":
        return demo(args)
    settings = get_settings()
    if args.command == "sources":
        return sources_command(args, settings)
    if args.command == "harvest":
        reports = run_harvest(settings, args.sources or None, args.processes)
        if not args.no_index:
            run_index(settings)
        return 0 if any(r.status != "failed" for r in reports) or not reports else 1
    if args.command == "index":
        result = run_index(settings, rebuild=args.rebuild)
        return 0 if not result["failed"] else 1
    if args.command == "serve":
        serve(settings, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
