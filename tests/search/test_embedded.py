"""What only the embedded (SQLite FTS5) backend has to prove: persistence, WAL, safe MATCH."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from search.analysis import query_tokens
from search.base import SearchUnavailable
from search.documents import SearchDocument, SearchQuery
from search.embedded import EmbeddedBackend, fts_match_expression, published_key

REPO = Path(__file__).resolve().parents[2]


def _doc(n: int, title: str = "Proeftuin voor burgerparticipatie") -> SearchDocument:
    return SearchDocument(
        id=f"https://example.org/item/{n:03d}",
        type="news",
        title=title,
        summary=f"Samenvatting {n}",
        network="https://example.org/network/nl-lab",
        source="src-a",
        language="nl",
        published=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=n),
    )


def test_data_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    first = EmbeddedBackend(path)
    assert first.upsert([_doc(1), _doc(2, "Régulation expérimentale")]).indexed == 2
    first.close()

    second = EmbeddedBackend(path)
    try:
        assert second.count() == 2
        assert second.get(_doc(2).id) == _doc(2, "Régulation expérimentale")
        assert [h.id for h in second.search(SearchQuery(q="regulation")).hits] == [_doc(2).id]
    finally:
        second.close()


def test_creates_missing_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "var" / "deep" / "index.sqlite3"
    backend = EmbeddedBackend(path)
    try:
        backend.ensure_index()  # idempotent
        assert path.is_file()
        assert backend.count() == 0
    finally:
        backend.close()


def test_uses_wal_so_a_writer_does_not_wait_for_readers(embedded_backend: EmbeddedBackend) -> None:
    embedded_backend.upsert([_doc(1)])
    reader = sqlite3.connect(embedded_backend.path, isolation_level=None)
    try:
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        reader.execute("BEGIN")
        assert reader.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == 1
        # another process writes while the read transaction is open: with a rollback
        # journal this would wait for the reader and fail with "database is locked"
        script = textwrap.dedent(
            f"""
            import sys
            from datetime import UTC, datetime
            from pathlib import Path
            from search.documents import SearchDocument
            from search.embedded import EmbeddedBackend
            b = EmbeddedBackend(Path({str(embedded_backend.path)!r}))
            r = b.upsert([SearchDocument(id="https://example.org/item/other", type="news",
                title="Bürgerbeteiligung in Städten", network="n", source="s",
                published=datetime(2025, 1, 1, tzinfo=UTC))])
            b.close()
            sys.exit(0 if r.indexed == 1 and not r.errors else 1)
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=20
        )
        assert done.returncode == 0, done.stderr
        # the reader's snapshot is unchanged until it ends its transaction
        assert reader.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == 1
        reader.execute("COMMIT")
        assert reader.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == 2
    finally:
        reader.close()
    # and the backend that was open all along sees the other process's write
    assert embedded_backend.count() == 2
    hits = embedded_backend.search(SearchQuery(q="burgerbeteiligung")).hits
    assert [h.id for h in hits] == ["https://example.org/item/other"]


def test_reads_from_threads_while_another_connection_writes(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    api = EmbeddedBackend(path)
    harvest = EmbeddedBackend(path)  # a second connection, as another process would hold
    try:
        api.upsert([_doc(0)])

        def read(_: int) -> int:
            result = api.search(SearchQuery(q="proeftuin", size=5))
            assert result.total >= 1
            assert len(result.hits) == min(5, result.total)
            return result.total

        with ThreadPoolExecutor(max_workers=8) as pool:
            readers = [pool.submit(read, i) for i in range(200)]
            for n in range(1, 51):
                assert harvest.upsert([_doc(n)]).errors == []
            totals = [f.result() for f in readers]
        assert min(totals) >= 1
        assert api.count() == 51
        assert api.search(SearchQuery(q="proeftuin")).total == 51
    finally:
        api.close()
        harvest.close()


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("Régulation expérimentale", '"regulation" "experimentale"'),
        ('say "hi" NEAR(a b)', '"say" "hi" "near" "a" "b"'),
        ("title:(x AND", '"title" "x" "and"'),
        ("a OR b -c", '"a" "or" "b" "c"'),
        ("proef* ^start", '"proef" "start"'),
        ("\\ * ( ) : ^ - +", None),
        ("", None),
    ],
)
def test_match_expression_quotes_every_token(q: str, expected: str | None) -> None:
    assert fts_match_expression(query_tokens(q)) == expected


def test_match_expression_escapes_quotes_inside_a_token() -> None:
    # analysis never yields a quote today; the helper must stay safe if it ever does
    assert fts_match_expression(['a"b', "c"]) == '"a""b" "c"'
    assert fts_match_expression(["", "x"]) == '"x"'
    assert fts_match_expression([]) is None


@pytest.mark.parametrize(
    "q",
    ['"', "NEAR(", "a OR", "AND", "NOT x", "col:x", "x*", "^x", "{a b}", "title_a:proeftuin", "-x", "()"],
)
def test_match_expression_is_valid_fts5_for_hostile_input(tmp_path: Path, q: str) -> None:
    conn = sqlite3.connect(tmp_path / "fts.sqlite3")
    try:
        conn.execute("CREATE VIRTUAL TABLE t USING fts5(title_a, body_a)")
        conn.execute("INSERT INTO t VALUES ('proeftuin and or not near', 'x a')")
        for tokens in (query_tokens(q), [q]):  # analysed tokens, and the raw string as one token
            expression = fts_match_expression(tokens)
            if expression is not None:
                conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (expression,)).fetchall()
    finally:
        conn.close()


def test_raw_fts_syntax_would_have_failed(tmp_path: Path) -> None:
    """Guards the test above: unquoted, these strings are FTS5 syntax errors."""
    conn = sqlite3.connect(tmp_path / "fts.sqlite3")
    try:
        conn.execute("CREATE VIRTUAL TABLE t USING fts5(title_a)")
        with pytest.raises(sqlite3.OperationalError):
            conn.execute("SELECT rowid FROM t WHERE t MATCH ?", ('title:(x AND"',)).fetchall()
    finally:
        conn.close()


def test_published_key_sorts_as_time() -> None:
    cest = timezone(timedelta(hours=2))
    early = published_key(datetime(2024, 4, 2, 1, 0, tzinfo=cest))
    late = published_key(datetime(2024, 4, 1, 23, 30, tzinfo=UTC))
    assert early == "2024-04-01T23:00:00.000000Z"
    assert late == "2024-04-01T23:30:00.000000Z"
    assert late > early
    assert published_key(datetime(2024, 4, 1, 23, 30)) == late  # naive is UTC
    assert published_key(datetime(999, 1, 1, tzinfo=UTC)) == "0999-01-01T00:00:00.000000Z"
    assert published_key(None) is None


def test_unreadable_file_is_search_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(SearchUnavailable):
        EmbeddedBackend(path)
