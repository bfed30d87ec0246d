"""On PostgreSQL, analysts get a role that reads the archy schema and nothing else."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg2
import psycopg2.errors
import pytest

from archy_pipeline.cli import main
from archy_pipeline.warehouse import PostgresWarehouse

pytestmark = pytest.mark.postgres


@pytest.fixture
def roles(postgres_database: str) -> Iterator[tuple[str, str]]:
    """A unique analysts' role and a login user in it (roles are cluster-wide: dropped after)."""
    suffix = uuid.uuid4().hex[:8]
    role, user = f"archy_analyst_{suffix}", f"alice_{suffix}"
    yield role, user
    admin = psycopg2.connect(postgres_database)
    admin.autocommit = True
    cursor = admin.cursor()
    for name in (user, role):
        cursor.execute(f"select 1 from pg_roles where rolname = '{name}'")
        if cursor.fetchone():
            cursor.execute(f"drop owned by {name}")
            cursor.execute(f"drop role {name}")
    admin.close()


def _as(dsn: str, user: str, sql: str) -> list[tuple]:
    connection = psycopg2.connect(dsn, user=user)
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        rows = cursor.fetchall() if cursor.description else []
        connection.commit()
        return rows
    finally:
        connection.close()


def test_the_analysts_role_reads_archy_only_also_after_a_rebuild(
    postgres_database, roles, monkeypatch, capsys
):
    role, user = roles
    warehouse = PostgresWarehouse(postgres_database)
    columns = {"recipe_id": "bigint", "name": "text"}
    warehouse.publish_rows("archy", "integrations", columns, [(1, "Lead sync")])
    warehouse.create_views("archy", {"v_names": "select name from archy.integrations"})
    warehouse.publish_rows("workato_raw", "recipes", {"id": "bigint", "code": "text"},
                           [(1, '{"keyword": "trigger"}')])  # fmt: skip

    monkeypatch.setenv("ARCHY_POSTGRES_DSN", postgres_database)
    assert main(["analysts-role", "--role", role]) == 0
    assert f"role {role} reads archy.*" in capsys.readouterr().out
    assert main(["analysts-role", "--role", role]) == 0, "running it again changes nothing"
    with psycopg2.connect(postgres_database) as admin:
        admin.cursor().execute(f"create role {user} login in role {role}")

    assert _as(postgres_database, user, "select name from archy.integrations") == [("Lead sync",)]
    assert _as(postgres_database, user, "select name from archy.v_names") == [("Lead sync",)]
    refused = [
        "select code from workato_raw.recipes",
        "insert into archy.integrations values (2, 'mine')",
        "delete from archy.integrations",
        "create table archy.mine (id int)",
        "drop table archy.integrations",
    ]
    for sql in refused:
        with pytest.raises(psycopg2.Error) as error:
            _as(postgres_database, user, sql)
        assert isinstance(
            error.value, (psycopg2.errors.InsufficientPrivilege, psycopg2.errors.UndefinedTable)
        ) or "must be owner" in str(error.value), sql

    # A rebuild swaps in new tables and views (as the transform does: views dropped first);
    # the grant reaches them by default privileges.
    warehouse.drop_views("archy", ["v_names"])
    warehouse.publish_rows("archy", "integrations", columns, [(1, "Lead sync"), (2, "New")])
    warehouse.create_views("archy", {"v_names": "select name from archy.integrations"})
    assert len(_as(postgres_database, user, "select * from archy.integrations")) == 2
    assert len(_as(postgres_database, user, "select * from archy.v_names")) == 2


def test_analysts_role_refuses_a_duckdb_warehouse_and_a_bad_name(
    postgres_database, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    assert main(["analysts-role"]) == 1
    assert "is for a PostgreSQL warehouse" in capsys.readouterr().err
    monkeypatch.setenv("ARCHY_POSTGRES_DSN", postgres_database)
    assert main(["analysts-role", "--role", "x; drop table archy.integrations"]) == 1
    assert "is not a plain role name" in capsys.readouterr().err
