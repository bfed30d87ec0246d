"""`archy-pipeline sql` answers queries about the analysts' snapshot of the warehouse and
reaches nothing outside it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from archy_pipeline.cli import main


@pytest.fixture
def warehouses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The analysts' snapshot the command reads (``analysts.duckdb`` beside the pipeline's
    working file), and another DuckDB file beside it with one row."""
    ours, other = tmp_path / "analysts.duckdb", tmp_path / "other.duckdb"
    for path in (ours, other):
        with duckdb.connect(str(path)) as con:
            con.execute("create schema archy")
            con.execute("create table archy.integrations as select 'Lead sync' as name")
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.chdir(tmp_path)
    return ours, other


def test_a_query_of_the_warehouse_is_answered(warehouses, capsys):
    assert main(["sql", "select name from archy.integrations"]) == 0
    assert "Lead sync" in capsys.readouterr().out


def test_the_query_reads_the_analysts_snapshot_never_the_working_file(
    warehouses, tmp_path, monkeypatch, capsys
):
    working = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(working)) as con:
        con.execute("create schema archy")
        con.execute("create table archy.integrations as select 'Only in the working file' as name")
    assert main(["sql", "select name from archy.integrations"]) == 0
    out = capsys.readouterr().out
    assert "Lead sync" in out and "Only in the working file" not in out

    elsewhere = tmp_path / "shared" / "for_analysts.duckdb"
    monkeypatch.setenv("ARCHY_ANALYSTS_DUCKDB_PATH", str(elsewhere))
    assert main(["sql", "select name from archy.integrations"]) == 1
    err = capsys.readouterr().err
    assert f"no analysts' snapshot at {elsewhere}" in err
    assert "published after each rebuild" in err


def test_copy_to_writes_no_file(warehouses, tmp_path, capsys):
    target = tmp_path / "stolen.csv"
    assert main(["sql", f"copy archy.integrations to '{target}'"]) == 1
    assert not target.exists()
    assert "query refused: `sql` reads the warehouse only" in capsys.readouterr().err


@pytest.mark.parametrize(
    "query",
    [
        "select * from read_csv('{secret}')",
        "select * from read_text('{secret}')",
        "select * from '{secret}'",
        "select * from glob('{folder}/*')",
    ],
)
def test_local_files_cannot_be_read(warehouses, tmp_path, capsys, query):
    secret = tmp_path / "secret.csv"
    secret.write_text("password\nhunter2\n")
    assert main(["sql", query.format(secret=secret, folder=tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "hunter2" not in captured.out + captured.err
    assert "query refused" in captured.err or "does not exist" in captured.err


def test_another_database_cannot_be_attached_and_emptied(warehouses, capsys):
    _, other = warehouses
    query = f"attach '{other}' as other (read_only false); delete from other.archy.integrations"
    assert main(["sql", query]) == 1
    assert "query refused" in capsys.readouterr().err
    with duckdb.connect(str(other), read_only=True) as con:
        assert con.execute("select count(*) from archy.integrations").fetchone() == (1,)


@pytest.mark.parametrize(
    "query", ["set enable_external_access = true", "set lock_configuration = false"]
)
def test_the_sandbox_cannot_be_switched_off(warehouses, capsys, query):
    assert main(["sql", query]) == 1
    assert "the configuration has been locked" in capsys.readouterr().err


def test_the_warehouse_itself_stays_read_only(warehouses, capsys):
    ours, _ = warehouses
    assert main(["sql", "delete from archy.integrations"]) == 1
    assert "read-only" in capsys.readouterr().err
    with duckdb.connect(str(ours), read_only=True) as con:
        assert con.execute("select count(*) from archy.integrations").fetchone() == (1,)
