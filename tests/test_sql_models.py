"""SQL models: scope-aware dependencies, tags, the graph, and the same files run on two engines.

Fixture projects live in ``tests/fixtures/sql_models/<case>/<schema>/<table>.sql``; the raw tables
they read are created from ``_workato_raw.sql`` (shaped like dlt's ``workato_raw`` tables).
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psycopg2
import pytest
import sqlglot
from sqlglot import exp

from archy_pipeline.sql.engine import (
    ColumnTest,
    SqlModel,
    SqlModelError,
    build_graph,
    load_models,
    parse_model,
    topological_order,
)

FIXTURES = Path(__file__).parent / "fixtures" / "sql_models"
RAW_DDL = FIXTURES / "_workato_raw.sql"
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def raw(table: str) -> tuple[str, str]:
    return ("workato_raw", table)


@functools.cache
def raw_tables() -> frozenset[tuple[str, str]]:
    """The external tables, read from the DDL the fixture models run against."""
    statements = sqlglot.parse(RAW_DDL.read_text(), read="duckdb")
    tables = (s.find(exp.Table) for s in statements if isinstance(s, exp.Create))
    return frozenset((t.db, t.name) for t in tables if t is not None)


def models_by_key(case: str) -> dict[tuple[str, str], SqlModel]:
    return {model.key: model for model in load_models(FIXTURES / case)}


# ============================================================================================
# sqlglot behaviour the module relies on (fails loudly if an upgrade changes it)
# ============================================================================================


@pytest.mark.parametrize(
    ("from_item", "function_class"),
    [
        pytest.param("read_csv('x.csv')", exp.ReadCSV, id="read_csv"),
        pytest.param("read_parquet('x.parquet')", exp.Func, id="read_parquet"),
        pytest.param("range(3)", exp.GenerateSeries, id="range"),
        pytest.param("generate_series(1, 3)", exp.GenerateSeries, id="generate_series"),
        pytest.param("json_each(x)", exp.Anonymous, id="json_each"),
        pytest.param("query_table('a.b')", exp.Func, id="query_table"),
    ],
)
def test_sqlglot_parses_table_functions_as_tables_wrapping_a_function(from_item, function_class):
    table = sqlglot.parse_one(f"select 1 from {from_item}", read="duckdb").find(exp.Table)
    assert isinstance(table.this, function_class)
    assert isinstance(table.this, exp.Func)


@pytest.mark.parametrize(
    "from_item",
    [
        pytest.param("unnest([1, 2]) as t(u)", id="unnest"),
        pytest.param("(values (1), (2)) as v(u)", id="values"),
    ],
)
def test_sqlglot_parses_unnest_and_values_as_no_table_at_all(from_item):
    assert sqlglot.parse_one(f"select u from {from_item}", read="duckdb").find(exp.Table) is None


def test_sqlglot_puts_own_line_and_trailing_comments_on_the_same_select_item():
    query = sqlglot.parse_one("select\n  -- prose\n  a, -- unique\n  b\nfrom t", read="duckdb")
    # Both land on `a`, which is why tags are told apart by their position in the source.
    assert query.selects[0].comments == [" prose", " unique"]
    assert query.selects[1].comments is None or query.selects[1].comments == []


# ============================================================================================
# Dependency inference
# ============================================================================================

DEPENDENCY_CASES = [
    pytest.param(
        "joins",
        {
            ("core", "recipe_step_connections"): {
                raw("connections"),
                raw("recipe_steps"),
                raw("recipes"),
            }
        },
        id="joins",
    ),
    pytest.param(
        "nested_ctes",
        {("core", "recipe_paths"): {raw("folders"), raw("recipes")}},
        id="nested_ctes",
    ),
    pytest.param(
        "cte_shadowing",
        {
            ("core", "recipes"): {raw("recipes")},
            # `recipes` is the CTE here, not the core.recipes model.
            ("core", "running_recipes"): {raw("recipes")},
            # The CTE is inside the subquery only; the outer `recipes` is the model.
            ("core", "recipe_step_counts"): {("core", "recipes"), raw("recipe_steps")},
            # A non-recursive CTE does not see itself: its body reads the model.
            ("core", "named_recipes"): {("core", "recipes")},
        },
        id="cte_shadowing",
    ),
    pytest.param(
        "subqueries",
        {
            ("core", "recipe_health"): {
                raw("folders"),
                raw("projects"),
                raw("recipe_errors"),
                raw("recipe_steps"),
                raw("recipes"),
            },
            ("core", "last_steps"): {raw("recipe_steps"), raw("recipes")},
        },
        id="subqueries_and_lateral",
    ),
    pytest.param(
        "unions",
        {
            ("core", "named_assets"): {
                raw("connections"),
                raw("folders"),
                raw("projects"),
                raw("recipes"),
            }
        },
        id="unions",
    ),
    pytest.param(
        "table_functions",
        {
            ("core", "provider_catalog"): {raw("connections")},
            ("core", "connection_words"): {raw("connections")},
        },
        id="table_functions",
    ),
    pytest.param(
        "own_schema",
        {
            ("core", "recipes"): {raw("recipes")},
            ("marts", "recipe_counts"): {("core", "recipes")},
            ("marts", "summary"): {("marts", "recipe_counts"), raw("connections")},
        },
        id="unqualified_names_resolve_to_own_schema",
    ),
    pytest.param(
        "header_declared",
        {("core", "recipe_totals"): set(), ("core", "recipe_report"): set()},
        id="table_names_in_strings_are_not_inferred",
    ),
]


@pytest.mark.parametrize(("case", "expected"), DEPENDENCY_CASES)
def test_dependencies_are_inferred_per_scope(case, expected):
    models = models_by_key(case)
    assert {key: set(model.dependencies) for key, model in models.items()} == expected
    for model in models.values():
        assert list(model.dependencies) == sorted(model.dependencies)


INLINE_DEPENDENCY_CASES = [
    pytest.param("select a from read_csv('x.csv')", set(), id="read_csv"),
    pytest.param("select a from read_parquet('x.parquet') as p", set(), id="read_parquet"),
    pytest.param("select a from 'data/x.csv'", set(), id="file_scan"),
    pytest.param("select range as n from range(3)", set(), id="range"),
    pytest.param("select u from unnest([1, 2]) as t(u)", set(), id="unnest"),
    pytest.param("select a from (values (1), (2)) as v(a)", set(), id="values"),
    pytest.param(
        "select j.key from workato_raw.recipes as r, json_each(r.tags) as j",
        {raw("recipes")},
        id="json_each",
    ),
    pytest.param(
        "with recipes as (select 1 as id) select r.id from recipes, workato_raw.recipes as r",
        {raw("recipes")},
        id="cte_never_shadows_a_qualified_name",
    ),
    pytest.param(
        "with recursive t(n) as (select 1 union all select n + 1 from t where n < 3) "
        "select n from t",
        set(),
        id="recursive_cte",
    ),
    pytest.param("with Foo as (select 1 as id) select id from foo", set(), id="cte_any_case"),
    pytest.param("select id from Workato_Raw.Recipes", {raw("recipes")}, id="unquoted_folds"),
    pytest.param('select id from "Mixed"', {("core", "Mixed")}, id="quoted_kept"),
    pytest.param("from workato_raw.recipes select id", {raw("recipes")}, id="from_first"),
    pytest.param(
        "select id from workato_raw.recipes as r "
        "qualify row_number() over () <= (select count(*) from workato_raw.folders)",
        {raw("recipes"), raw("folders")},
        id="subquery_in_qualify",
    ),
    pytest.param(
        "select count(*) as n from workato_raw.recipes "
        "having count(*) > (select count(*) from workato_raw.projects)",
        {raw("recipes"), raw("projects")},
        id="subquery_in_having",
    ),
    pytest.param(
        "select u as u from unnest((select list(id) from workato_raw.recipes)) as t(u)",
        {raw("recipes")},
        id="subquery_inside_unnest",
    ),
    pytest.param(
        "select a.id from workato_raw.recipes as a join workato_raw.folders as f "
        "on a.folder_id in (select id from workato_raw.projects)",
        {raw("recipes"), raw("folders"), raw("projects")},
        id="subquery_in_join_condition",
    ),
]


@pytest.mark.parametrize(("sql", "expected"), INLINE_DEPENDENCY_CASES)
def test_dependencies_skip_ctes_table_functions_and_files(sql, expected):
    model = parse_model(sql, schema="core", table="model")
    assert set(model.dependencies) == expected


# ============================================================================================
# Header, columns and tags
# ============================================================================================


def test_header_directives_declare_dependencies_and_order_the_graph():
    models = models_by_key("header_declared")
    totals, report = models[("core", "recipe_totals")], models[("core", "recipe_report")]
    assert totals.declared_dependencies == (raw("recipes"),)
    assert report.declared_dependencies == (("core", "recipe_totals"),)
    assert report.all_dependencies == (("core", "recipe_totals"),)
    assert report.description == "Doubles the totals; the directive may sit anywhere in the header."
    # By name alone recipe_report would come first: only the directive puts it after.
    assert [m.key for m in topological_order(models.values(), raw_tables())] == [
        ("core", "recipe_totals"),
        ("core", "recipe_report"),
    ]


def test_column_tags_and_description_are_read_from_comments():
    (model,) = load_models(FIXTURES / "column_tags")
    assert model.columns == (
        "workspace",
        "connection_id",
        "name",
        "status",
        "provider",
        "is_deleted",
    )
    assert model.tests == (
        ColumnTest("workspace", "not_null"),
        ColumnTest("connection_id", "unique"),
        ColumnTest("connection_id", "not_null"),
        ColumnTest("status", "accepted_values", "'success', 'failed', 'pending'"),
        ColumnTest("provider", "not_null"),
    )
    assert model.description == (
        "One row per connection.\n\nDeleted connections are kept, with is_deleted set."
    )


def test_union_columns_come_from_the_first_branch():
    (model,) = load_models(FIXTURES / "unions")
    assert model.columns == ("workspace", "id", "kind", "name")
    assert model.description == (
        "Everything with a name, one row each; the last branch is a query with its own CTE."
    )


def test_a_model_without_header_has_no_description_and_keeps_its_sql():
    text = "select workspace, id, name from workato_raw.recipes where deleted_at is null\n"
    model = models_by_key("own_schema")[("core", "recipes")]
    assert model.description is None
    assert model.sql == text.strip()
    assert model.path == FIXTURES / "own_schema" / "core" / "recipes.sql"
    assert model.key == ("core", "recipes")


def test_trailing_semicolon_is_dropped_from_the_sql():
    model = parse_model("select 1 as one;\n\n", schema="core", table="one")
    assert model.sql == "select 1 as one"
    assert model.columns == ("one",)


# ============================================================================================
# Errors: each names the file and the problem
# ============================================================================================

FIXTURE_ERROR_CASES = [
    pytest.param(
        "unknown_reference",
        ["marts/recipe_counts.sql"],
        ["unknown table marts.recipes"],
        id="unknown_reference",
    ),
    pytest.param(
        "cycle",
        ["core/a.sql", "core/b.sql", "core/c.sql"],
        ["dependency cycle core.a -> core.b -> core.c -> core.a (each reads the next)"],
        id="cycle",
    ),
    pytest.param(
        "select_star",
        ["core/everything.sql"],
        ["SELECT * is refused"],
        id="select_star",
    ),
    pytest.param(
        "unknown_tag",
        ["core/connections.sql"],
        ["unknown tag 'uniqe' on column 'connection_id'"],
        id="unknown_tag",
    ),
    pytest.param(
        "parse_error",
        ["core/broken.sql"],
        ["cannot parse as DuckDB SQL: line 1"],
        id="parse_error",
    ),
]


@pytest.mark.parametrize(("case", "files", "fragments"), FIXTURE_ERROR_CASES)
def test_invalid_projects_raise_naming_the_files(case, files, fragments):
    with pytest.raises(SqlModelError) as error:
        topological_order(load_models(FIXTURES / case), raw_tables())
    message = str(error.value)
    for file in files:
        assert str(FIXTURES / case / file) in message
    for fragment in fragments:
        assert fragment in message


INLINE_ERROR_CASES = [
    pytest.param("select count(*) from t", "column 1 (COUNT(*)) has no name", id="unnamed"),
    pytest.param("select id, id::int from t", "column 2 (CAST(id AS INT)) has no", id="cast"),
    pytest.param("select r.* from t as r", "SELECT r.* is refused", id="qualified_star"),
    pytest.param("select * exclude (a) from t", "SELECT * EXCLUDE (a) is refused", id="exclude"),
    pytest.param("select columns('a.*') from t", "is refused", id="columns_star"),
    pytest.param("select id, r.ID from t as r", "column 'ID' appears twice", id="duplicate"),
    pytest.param("select id from db.s.t", "catalog-qualified table db.s.t", id="catalog"),
    pytest.param("select 1 as a; select 2 as b", "found 2", id="two_statements"),
    pytest.param("-- nothing here", "found 0", id="empty"),
    pytest.param("insert into t values (1)", "found INSERT", id="not_a_query"),
    pytest.param("select 'unterminated as x", "cannot parse as DuckDB SQL", id="token_error"),
    pytest.param("select id -- unique: yes\nfrom t", "is written 'unique'", id="tag_arg"),
    pytest.param(
        "select s -- accepted_values\nfrom t",
        "is written 'accepted_values: <argument>'",
        id="accepted_values_without_values",
    ),
    pytest.param(
        "select s -- accepted_values: lower(s)\nfrom t",
        "accepted_values on column 's' needs literals",
        id="accepted_values_not_literals",
    ),
    pytest.param(
        "select s -- not_null #unique\nfrom t", "unknown tag '#unique'", id="unknown_second_tag"
    ),
    pytest.param(
        "-- depends_on: a.b.c\nselect 1 as x", "'a.b.c' is not schema.table", id="bad_directive"
    ),
    pytest.param(
        "select 1 as x\n-- depends_on: workato_raw.recipes",
        "depends_on: must come before the statement",
        id="directive_after_statement",
    ),
]


@pytest.mark.parametrize(("sql", "fragment"), INLINE_ERROR_CASES)
def test_invalid_model_text_raises_naming_the_file(sql, fragment):
    with pytest.raises(SqlModelError) as error:
        parse_model(sql, schema="core", table="model", path=Path("dbt_like_sql/core/model.sql"))
    assert str(error.value).startswith("dbt_like_sql/core/model.sql: ")
    assert fragment in str(error.value)


def test_prose_comments_on_their_own_line_are_not_tags():
    model = parse_model(
        "select\n  -- The key. Not a tag.\n  id, -- unique\n  /* prose */ name\nfrom t",
        schema="core",
        table="model",
    )
    assert model.tests == (ColumnTest("id", "unique"),)


@pytest.mark.parametrize(
    ("schema", "table"),
    [pytest.param("Core", "model", id="schema"), pytest.param("core", "my-model", id="table")],
)
def test_names_from_the_path_must_be_lowercase_identifiers(schema, table):
    with pytest.raises(SqlModelError, match="must be a lowercase identifier"):
        parse_model("select 1 as x", schema=schema, table=table)


@pytest.mark.parametrize(
    "stray",
    [pytest.param("stray.sql", id="at_root"), pytest.param("core/deep/stray.sql", id="too_deep")],
)
def test_loader_refuses_sql_files_outside_schema_folders(tmp_path, stray):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "fine.sql").write_text("select 1 as x")
    (tmp_path / stray).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / stray).write_text("select 1 as x")
    with pytest.raises(
        SqlModelError, match=re.escape("must live at <schema>/<table>.sql")
    ) as error:
        load_models(tmp_path)
    assert str(error.value).startswith(str(tmp_path / stray))


def test_loader_skips_underscore_and_dot_paths_and_sorts_by_key(tmp_path):
    for name in ("marts/b.sql", "core/z.sql", "core/_draft.sql", "_scratch/x.sql", ".ipynb/y.sql"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("select 1 as x")
    assert [m.key for m in load_models(tmp_path)] == [("core", "z"), ("marts", "b")]


def test_loader_refuses_a_missing_folder(tmp_path):
    with pytest.raises(SqlModelError, match="not a directory"):
        load_models(tmp_path / "nope")


# ============================================================================================
# The graph
# ============================================================================================


def test_graph_links_models_to_models_and_external_tables():
    graph = build_graph(load_models(FIXTURES / "own_schema"), raw_tables())
    assert graph.nodes[raw("recipes")] == {"external": True}
    assert graph.nodes[("marts", "summary")]["model"].key == ("marts", "summary")
    assert set(graph.in_edges(("marts", "summary"))) == {
        (("marts", "recipe_counts"), ("marts", "summary")),
        (raw("connections"), ("marts", "summary")),
    }
    assert set(graph.edges) == {
        (raw("recipes"), ("core", "recipes")),
        (("core", "recipes"), ("marts", "recipe_counts")),
        (("marts", "recipe_counts"), ("marts", "summary")),
        (raw("connections"), ("marts", "summary")),
    }
    # Unread raw tables are nodes too: the asset graph shows every dlt table.
    assert raw("recipe_errors") in graph


def test_topological_order_puts_each_model_after_what_it_reads():
    order = [m.key for m in topological_order(load_models(FIXTURES / "own_schema"), raw_tables())]
    assert order == [("core", "recipes"), ("marts", "recipe_counts"), ("marts", "summary")]


def test_unknown_references_are_all_reported():
    models = [
        parse_model("select id from workato_raw.nope", schema="core", table="a"),
        parse_model("-- depends_on: missing\nselect 1 as x", schema="core", table="b"),
    ]
    with pytest.raises(SqlModelError) as error:
        build_graph(models, raw_tables())
    assert str(error.value).splitlines() == [
        "core/a.sql: unknown table workato_raw.nope (neither a model nor an external table)",
        "core/b.sql: unknown table core.missing (neither a model nor an external table)",
    ]


def test_a_model_reading_itself_is_a_cycle():
    model = parse_model("select id from loop", schema="core", table="loop")
    with pytest.raises(
        SqlModelError, match=r"core/loop.sql: dependency cycle core.loop -> core.loop"
    ):
        build_graph([model], [])


def test_two_models_with_one_key_are_refused():
    first = parse_model("select 1 as x", schema="core", table="a", path=Path("one/core/a.sql"))
    second = parse_model("select 2 as x", schema="core", table="a", path=Path("two/core/a.sql"))
    with pytest.raises(SqlModelError, match=r"two/core/a.sql: core.a is also one/core/a.sql"):
        build_graph([first, second], [])


def test_a_model_named_like_an_external_table_is_refused():
    model = parse_model("select 1 as x", schema="workato_raw", table="recipes")
    with pytest.raises(
        SqlModelError, match=re.escape("workato_raw.recipes is also an external table")
    ):
        build_graph([model], raw_tables())


# ============================================================================================
# The fixtures are real SQL: run them on DuckDB
# ============================================================================================

RUNNABLE_CASES = [
    "joins",
    "nested_ctes",
    "cte_shadowing",
    "subqueries",
    "unions",
    "table_functions",
    "own_schema",
    "header_declared",
    "column_tags",
    "portable",
]


def quoted_table(model: SqlModel, dialect: str) -> str:
    return exp.table_(model.table, db=model.schema, quoted=True).sql(dialect)


def quoted_schema(schema: str, dialect: str) -> str:
    return exp.to_identifier(schema, quoted=True).sql(dialect)


def run_on_duckdb(con: duckdb.DuckDBPyConnection, models: list[SqlModel]) -> None:
    """Create each model's table in order, with the search path at its schema."""
    for model in models:
        con.execute(f"create schema if not exists {quoted_schema(model.schema, 'duckdb')}")
        con.execute(f"set search_path = '{model.schema}'")
        con.execute(f"create table {quoted_table(model, 'duckdb')} as (\n{model.sql}\n)")


@pytest.mark.parametrize("case", RUNNABLE_CASES)
def test_fixture_models_run_on_duckdb_with_the_columns_they_declare(case, monkeypatch):
    monkeypatch.chdir(FIXTURES / case)  # read_csv paths are relative to the project
    models = topological_order(load_models(FIXTURES / case), raw_tables())
    con = duckdb.connect()
    con.execute(RAW_DDL.read_text())
    run_on_duckdb(con, models)
    for model in models:
        columns = con.execute(
            "select column_name from information_schema.columns"
            " where table_schema = ? and table_name = ? order by ordinal_position",
            [model.schema, model.table],
        ).fetchall()
        assert tuple(name for (name,) in columns) == model.columns, model.path


# ============================================================================================
# PostgreSQL: the same files, transpiled
# ============================================================================================

SEED_DDL = """
create table recipes (
  id bigint, name varchar, code varchar, tags json, status varchar, created_at timestamp
);
insert into recipes values
  (1, 'SF sync accounts', '{"trigger": {"provider": "salesforce"}, "steps": [{"keyword": "a"}]}',
   '["crm", "nightly"]', 'active', '2024-01-15 08:30:00'),
  (2, 'Jira to Slack', '{"steps": []}', '[]', 'inactive', '2024-03-02 10:00:00'),
  (3, null, '{}', null, null, null);
"""


def to_postgres(duckdb_sql: str) -> list[str]:
    """DuckDB DDL and inserts for PostgreSQL, with JSON columns as jsonb like dlt makes them."""
    statements = []
    for statement in sqlglot.parse(duckdb_sql, read="duckdb"):
        if statement is None:
            continue
        for data_type in statement.find_all(exp.DataType):
            if data_type.this == exp.DataType.build("json").this:
                data_type.replace(exp.DataType.build("jsonb", dialect="postgres"))
        statements.append(statement.sql("postgres"))
    return statements


@dataclass
class Engines:
    schema: str
    duck: duckdb.DuckDBPyConnection
    pg: psycopg2.extensions.cursor

    def run(self, sql: str) -> tuple[list[tuple], list[tuple]]:
        model = parse_model(sql, schema=self.schema, table="construct")
        duck_rows = self.duck.execute(model.sql_for("duckdb")).fetchall()
        self.pg.execute(model.sql_for("postgres"))
        return duck_rows, self.pg.fetchall()


@pytest.fixture(scope="module")
def engines() -> Iterator[Engines]:
    """One seeded ``recipes`` table in DuckDB and in a temporary PostgreSQL schema."""
    schema = f"archy_sql_models_{uuid.uuid4().hex[:10]}"
    duck = duckdb.connect()
    duck.execute(f"create schema {schema}; set search_path = '{schema}'")
    duck.execute(SEED_DDL)
    pg = psycopg2.connect(ADMIN_DSN)
    pg.autocommit = True
    cursor = pg.cursor()
    cursor.execute(f"create schema {quoted_schema(schema, 'postgres')}")
    try:
        cursor.execute(f"set search_path to {quoted_schema(schema, 'postgres')}")
        for statement in to_postgres(SEED_DDL):
            cursor.execute(statement)
        yield Engines(schema, duck, cursor)
    finally:
        cursor.execute(f"drop schema if exists {quoted_schema(schema, 'postgres')} cascade")
        pg.close()
        duck.close()


PORTABLE_CONSTRUCTS = [
    pytest.param(
        "select string_agg(name, ', ' order by name) as names from recipes", id="string_agg"
    ),
    pytest.param(
        "select list(name order by id) filter (where name is not null) as names from recipes",
        id="list_aggregate",
    ),
    pytest.param(
        "select array_to_string(list(status order by id), '|') as s from recipes",
        id="array_to_string",
    ),
    pytest.param(
        "select id, code::json ->> '$.trigger.provider' as provider from recipes order by id",
        id="json_path_on_text_cast_to_json",
    ),
    pytest.param(
        "select id, code::json -> 'steps' -> 0 ->> 'keyword' as keyword from recipes order by id",
        id="json_arrow_chain",
    ),
    pytest.param(
        "select id, json_extract_string(code::json, '$.steps[0].keyword') as keyword"
        " from recipes order by id",
        id="json_extract_string",
    ),
    pytest.param(
        "select id, tags ->> 0 as first_tag, tags ->> -1 as last_tag, (tags -> 5) is null as gone"
        " from recipes order by id",
        id="json_index_on_jsonb_column",
    ),
    pytest.param(
        "select id::varchar as s, '42'::int as i, created_at::date as d, id::double as f,"
        " 'true'::boolean as b, id::bigint as big from recipes order by id",
        id="casts",
    ),
    pytest.param("select id, name ilike '%SYNC%' as m from recipes order by id", id="ilike"),
    pytest.param(
        "select id, regexp_matches(name, '^(SF|Jira) ') as m,"
        " regexp_matches(name, 'SLACK', 'i') as i from recipes order by id",
        id="regexp_matches",
    ),
    pytest.param(
        "select id, regexp_replace(name, ' +', '_', 'g') as r from recipes order by id",
        id="regexp_replace",
    ),
    pytest.param(
        "select id, coalesce(name, status, 'unnamed') as n from recipes order by id",
        id="coalesce",
    ),
    pytest.param(
        "select count(*) filter (where status = 'active') as active,"
        " count(*) as total, count(name) as named from recipes",
        id="count_filter",
    ),
    pytest.param(
        "select id, strftime(created_at, '%Y-%m-%d %H:%M:%S') as s,"
        " strftime(created_at, '%Y-%m') as month from recipes order by id",
        id="strftime",
    ),
    pytest.param(
        "select id, date_trunc('month', created_at) as m,"
        " date_diff('day', created_at, timestamp '2024-04-01 00:00:00') as days"
        " from recipes order by id",
        id="date_trunc_and_diff",
    ),
    pytest.param(
        "select id, split_part(name, ' ', 1) as first_word, string_split(name, ' ') as words"
        " from recipes order by id",
        id="split",
    ),
    pytest.param(
        "select id, status from recipes"
        " qualify row_number() over (partition by status order by id) = 1 order by id",
        id="qualify",
    ),
    pytest.param(
        "select id, if(status = 'active', 'yes', 'no') as a, nullif(status, 'inactive') as b,"
        " id::varchar || ':' || coalesce(name, '') as ref from recipes order by id",
        id="if_nullif_concat",
    ),
    pytest.param(
        "select bool_or(status = 'active') as any_active, bool_and(id > 0) as all_positive,"
        " count_if(name is null) as unnamed from recipes",
        id="boolean_aggregates",
    ),
    pytest.param(
        "with named as (select id, name from recipes where name is not null)"
        " select n.id, x.longer from named as n,"
        " lateral (select count(*) as longer from named as m where length(m.name) > length(n.name))"
        " as x order by n.id",
        id="cte_and_lateral",
    ),
]


@pytest.mark.postgres
@pytest.mark.parametrize("sql", PORTABLE_CONSTRUCTS)
def test_portable_constructs_give_the_same_rows_on_postgres(engines, sql):
    duck_rows, pg_rows = engines.run(sql)
    assert duck_rows  # a construct that returns nothing proves nothing
    assert pg_rows == duck_rows


# Each entry backs a line of the module docstring's "do not use" list.
NON_PORTABLE_CONSTRUCTS = [
    pytest.param("select len(list(name)) as n from recipes", "fails", id="len_of_list"),
    pytest.param("select string_agg(id, ',') as s from recipes", "fails", id="string_agg_int"),
    pytest.param("select contains(name, 'a') as c from recipes", "fails", id="contains"),
    pytest.param(
        "select regexp_extract(name, '^(\\w+)', 1) as w from recipes", "fails", id="regexp_extract"
    ),
    pytest.param("select arg_max(name, id) as n from recipes", "fails", id="arg_max"),
    pytest.param("select first(name order by id) as n from recipes", "fails", id="first"),
    pytest.param("select hash(name) as h from recipes", "fails", id="hash"),
    pytest.param("select json_keys(tags) as k from recipes", "fails", id="json_keys"),
    pytest.param("select {'a': id} as s from recipes", "fails", id="struct_literal"),
    pytest.param(
        "select json_array_length(tags) as n from recipes order by id",
        "fails",
        id="json_array_length_on_jsonb",
    ),
    pytest.param(
        "select code ->> 'steps' as s from recipes order by id", "fails", id="json_arrow_on_text"
    ),
    pytest.param(
        "select coalesce(list(name), []) as l from recipes", "fails", id="empty_list_literal"
    ),
    pytest.param(  # sqlglot before 30.31 transpiled it to "* EXCEPT", which PostgreSQL refuses
        "with r as (select * exclude (code) from recipes) select id from r order by id",
        "refused",
        id="star_exclude",
    ),
    pytest.param("select range as n from range(3)", "fails", id="range_table"),
    pytest.param("select any_value(name) as n from recipes", "refused", id="any_value"),
    pytest.param("select try_cast(name as int) as n from recipes", "refused", id="try_cast"),
    pytest.param(
        "select status, count(*) as n from recipes group by all", "refused", id="group_by_all"
    ),
    pytest.param(
        "select strftime(created_at, '%Y-%m-%dT%H') as s from recipes order by id",
        "differs",
        id="strftime_literal_letters",
    ),
    pytest.param(
        "select format('{}-{}', name, id) as s from recipes order by id", "differs", id="format"
    ),
]


@pytest.mark.postgres
@pytest.mark.parametrize(("sql", "outcome"), NON_PORTABLE_CONSTRUCTS)
def test_documented_non_portable_constructs_still_break_on_postgres(engines, sql, outcome):
    model = parse_model(sql, schema=engines.schema, table="construct")
    duck_rows = engines.duck.execute(model.sql_for("duckdb")).fetchall()  # valid DuckDB
    if outcome == "refused":
        with pytest.raises(SqlModelError) as error:
            model.sql_for("postgres")
        assert str(error.value).startswith(f"{model.path}: does not transpile to PostgreSQL")
        return
    postgres_sql = model.sql_for("postgres")
    if outcome == "fails":
        with pytest.raises(psycopg2.Error):
            engines.pg.execute(postgres_sql)
        return
    engines.pg.execute(postgres_sql)
    assert engines.pg.fetchall() != duck_rows


def test_sql_for_duckdb_is_the_file_and_other_dialects_are_refused():
    model = parse_model("select id from t", schema="core", table="model")
    assert model.sql_for("duckdb") == "select id from t"
    with pytest.raises(SqlModelError, match=r"core/model.sql: no dialect 'mysql'"):
        model.sql_for("mysql")


def test_postgres_json_extraction_uses_operators_that_work_on_jsonb():
    model = parse_model(
        "select c ->> '$.a.b' as x, json_extract(c, '$.l[2]') as y, c ->> '$' as z from t",
        schema="core",
        table="model",
    )
    assert model.sql_for("postgres").splitlines()[1:4] == [
        "  (c -> 'a' ->> 'b') AS x,",
        "  (c -> 'l' -> 2) AS y,",
        "  (c #>> '{}') AS z",
    ]


# fmt: off
EXPECTED_OVERVIEW = [
    ("acme", 10, "SF sync accounts", "salesforce", "new_record", "action", "crm", True, True,
     "2024-01", "Salesforce prod", ["Salesforce prod"], 1, "10@acme"),
    ("acme", 11, "Jira to Slack", "jira", "new_issue", None, None, False, False,
     "2024-03", "Jira, Old Slack", ["Jira", "Old Slack"], 1, "11@acme"),
    ("acme", 12, "Salesforce Sync contacts", "salesforce", "updated_record", None, None, True,
     True, "2024-03", "Salesforce prod", ["Salesforce prod"], 1, "12@acme"),
    ("acme", 14, "No trigger", None, None, "if", None, False, False,
     "2024-04", "", None, 0, "14@acme"),
]
# fmt: on
EXPECTED_PROVIDER_USAGE = [
    ("jira", 1, 0, "2024-03"),
    ("salesforce", 2, 2, "2024-03"),
    ("unknown", 1, 0, "2024-04"),
]


def portable_rows(fetch) -> dict[str, list[tuple]]:
    return {
        "overview": fetch("select * from core.recipe_overview order by workspace, recipe_id"),
        "usage": fetch("select * from marts.provider_usage order by provider"),
    }


@pytest.mark.postgres
def test_portable_models_give_the_same_rows_on_duckdb_and_postgres(postgres_database):
    case = FIXTURES / "portable"
    seed = (case / "_seed.sql").read_text()
    models = topological_order(load_models(case), raw_tables())

    duck = duckdb.connect()
    duck.execute(RAW_DDL.read_text())
    duck.execute(seed)
    run_on_duckdb(duck, models)
    on_duckdb = portable_rows(lambda sql: duck.execute(sql).fetchall())

    with psycopg2.connect(postgres_database) as pg, pg.cursor() as cursor:
        for statement in to_postgres(RAW_DDL.read_text() + seed):
            cursor.execute(statement)
        for model in models:
            cursor.execute(f"create schema if not exists {quoted_schema(model.schema, 'postgres')}")
            cursor.execute(f"set search_path to {quoted_schema(model.schema, 'postgres')}")
            cursor.execute(
                f"create table {quoted_table(model, 'postgres')} as\n{model.sql_for('postgres')}"
            )

        def fetch(sql: str) -> list[tuple]:
            cursor.execute(sql)
            return cursor.fetchall()

        on_postgres = portable_rows(fetch)

    assert on_duckdb == {"overview": EXPECTED_OVERVIEW, "usage": EXPECTED_PROVIDER_USAGE}
    assert on_postgres == on_duckdb
