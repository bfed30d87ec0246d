"""SQL models: ``dbt_like_sql/<schema>/<table>.sql`` files parsed into typed records and a graph.

This module is pure (no Dagster). Dagster wraps it: one asset per :class:`SqlModel`, keyed
``[schema, table]`` like the dlt tables, with :func:`build_graph` deciding the deps.

File format
-----------
One file is one ``SELECT`` statement (a query: ``WITH``, ``UNION``, DuckDB's ``FROM t SELECT x``
all count) in DuckDB's dialect. The folder is the schema and the file stem the table, both
lowercase identifiers. Paths with a part starting with ``_`` or ``.`` are ignored::

    -- Connections with the number of recipes that use them.     <- description
    -- depends_on: workato_raw.recipe_steps                       <- directive
    select
      c.id as connection_id,       -- unique not_null             <- column tags
      c.provider,                  -- not_null
      c.status,                    -- accepted_values: 'active', 'inactive'
      count(r.id) as recipe_count
    from workato_raw.connections as c
    left join recipes as r on r.connection_id = c.id              <- own schema

* **Description**: the ``--`` lines before the statement that are not directives.
* **Directives**: ``-- depends_on: schema.table, other_table`` in that header, for the rare
  dependency sqlglot cannot see (a table named in a string, say). Unqualified names mean the
  model's own schema.
* **Dependencies** are inferred per sqlglot scope. In each scope, a table counts unless it is one
  of *that* scope's CTEs (only an unqualified name can mean a CTE, and a CTE only shadows a table
  inside the scopes that can see it), a table function (``read_csv(...)``, ``range(...)``,
  ``json_each(...)``: any ``exp.Table`` whose ``this`` is a function), or a file scan
  (``from 'data/x.csv'``). Unqualified names resolve to the model's own schema, so whoever runs
  a model sets the search path to that schema first (DuckDB ``SET search_path``, PostgreSQL
  ``SET search_path TO``). Catalog-qualified names (``db.schema.table``) are refused.
* **Columns** are the output names in order: the alias, or a bare column's name. Anything else
  (``x::int``, ``count(*)``, literals) needs ``AS name``, because DuckDB and PostgreSQL would name
  it differently. ``SELECT *`` (also ``t.*``, ``* EXCLUDE``, ``COLUMNS(...)``) is refused.
* **Column tags** are the comment (``--`` or ``/* */``) on the same line right after a select
  item (after its comma, if any). A comment on a line of its own is prose and ignored. Tags:
  ``unique``, ``not_null``, and ``accepted_values: <literal>, ...`` (its argument runs to the
  end of the comment, so it goes last). Anything else is an error.

sqlglot facts this relies on (sqlglot 30)
-----------------------------------------
* ``traverse_scope`` yields every scope (CTE, subquery in FROM/WHERE/SELECT/HAVING/QUALIFY,
  set-operation branch, lateral); ``scope.tables`` holds the ``exp.Table`` nodes read directly in
  that scope, and ``scope.cte_sources`` the CTE names it can see. A non-recursive CTE cannot see
  itself (DuckDB agrees: ``with recipes as (select * from recipes)`` reads the real table).
* ``read_csv``/``read_parquet`` parse to ``exp.Table(this=ReadCSV/...)``, ``range`` and
  ``generate_series`` to ``exp.Table(this=GenerateSeries)``, unknown ones (``json_each``) to
  ``exp.Table(this=Anonymous)``; ``unnest(...)`` and ``(values ...)`` are not tables at all
  (they get a UDTF scope). ``from 'x.csv'`` is ``exp.Table(this=Identifier('x.csv', quoted))``.
* Comments: a trailing comment attaches to the token before it (often the comma) and a comment
  on its own line to the token after it; the parser moves both onto the select item, so
  ``expression.comments`` mixes them. That is why tags are located by source position (every
  parsed ``Identifier`` carries ``meta`` with ``line``, ``col``, ``start``, ``end``).

PostgreSQL
----------
``SqlModel.sql_for("postgres")`` transpiles with sqlglot (``read="duckdb"``) through
:class:`PostgresWarehouse`, which fixes what our warehouse needs: JSON extraction becomes
``->``/``->>`` chains (sqlglot writes ``json_extract_path_text``, which fails on the ``jsonb``
columns dlt creates in PostgreSQL), ``string_split``/``str_split``/``string_to_array`` become
``string_to_array``, and ``try_cast`` and ``GROUP BY ALL`` raise instead of producing SQL that
breaks at run time (``try_cast`` would become a ``CAST`` that fails on the first bad value).

Portable, same rows on DuckDB and PostgreSQL 15. Pinned by ``tests/test_sql_models.py``:
``string_agg(x, ', ' order by x)`` (``x`` text), ``list(x order by y) filter (where ...)``,
``array_to_string``, ``->``/``->>``/``json_extract_string`` with keys, ``$.a.b`` paths and integer
indexes (negative too), on ``jsonb`` columns or on text cast with ``::json``; ``::`` casts to
varchar/int/bigint/double/date/boolean; ``ilike``; ``regexp_matches(s, p[, 'i'])``;
``regexp_replace(s, p, r, 'g')``; ``coalesce``; ``nullif``; ``if(...)``; ``||``;
``count(*) filter (where ...)``; ``count_if``; ``bool_or``/``bool_and``; ``strftime`` with
``%Y %m %d %H %M %S``; ``date_trunc``; ``date_diff('day', ...)``; ``split_part``; ``qualify``;
CTEs and ``lateral`` subqueries. Checked by hand once: ``ifnull``, ``concat_ws``, ``starts_with``,
``position``/``strpos``, ``left``/``right``/``substring``, ``replace``, ``trim``, ``md5``,
``distinct on``, ``median``/``quantile_cont``, ``+ interval``, ``epoch``, window functions,
``unnest`` of a list in the SELECT list, ``generate_series(a, b) as s(n)`` as a table.

Do not use these in models. The first groups are pinned by a test that fails once sqlglot or
PostgreSQL makes them work, so this list stays true:

* Fail on PostgreSQL: ``len(list)`` (becomes ``length(array)``: use ``array_length(list, 1)``),
  ``string_agg`` of a non-text value (cast it ``::varchar``), ``contains``, ``regexp_extract``,
  ``arg_max``, ``first``, ``hash``, ``json_keys``, ``json_array_length`` on ``jsonb``, struct
  literals ``{'a': 1}``, the empty list ``[]``, ``->>`` on a text column (cast it ``::json``),
  ``range(n)`` as a table (no ``range`` column).
* Refused by ``sql_for("postgres")``: ``any_value``, ``try_cast``, ``GROUP BY ALL``,
  ``* EXCLUDE (...)`` (sqlglot 30.31 and later; before, it became ``* EXCEPT`` and failed).
* Run but give other results: literal letters in ``strftime`` formats (``'%Y-%m-%dT%H'``:
  PostgreSQL reads ``TH`` as an ordinal suffix; concatenate the literal), ``format`` (a different
  function in PostgreSQL).
* Seen by hand, not pinned: ``regexp_full_match``, ``json_type``, ``json_valid``, ``from_json``,
  ``printf``, ``max_by``/``arg_min``/``min_by``, ``mode`` and ``make_date`` fail;
  ``read_csv``/``read_parquet``/``from 'file.csv'`` are DuckDB only; ``json_each`` returns keys in
  another order; ``//``, ``round(x / y, n)``, ``stddev`` and ``extract``/``year()`` return numeric
  instead of double or integer; ``epoch_ms`` fails on timestamps; ``strptime`` returns
  ``timestamptz``; ``string_to_array(s, '')`` splits into characters in DuckDB only. DuckDB also
  binds ``->`` looser than ``IS NULL``: write ``(j -> 'k') is null``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import rename_func
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError, UnsupportedError
from sqlglot.generators.postgres import PostgresGenerator
from sqlglot.optimizer.scope import traverse_scope

#: The dialect every model file is written in.
DIALECT = "duckdb"

TableKey = tuple[str, str]

#: Column tags: name -> whether it takes an argument (``name: arg``).
TAGS: dict[str, bool] = {"unique": False, "not_null": False, "accepted_values": True}

_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_REF = re.compile(r"(?:(?P<schema>[A-Za-z_]\w*)\.)?(?P<table>[A-Za-z_]\w*)")
_DIRECTIVE = re.compile(r"--\s*depends_on\s*:(?P<refs>.*)", re.IGNORECASE)
_TRAILING_COMMENT = re.compile(r"[ \t]*,?[ \t]*(?:--(?P<line>[^\r\n]*)|/\*(?P<block>.*?)\*/)", re.S)
_STRAY_DIRECTIVE = re.compile(r"^[ \t]*--\s*depends_on\s*:", re.IGNORECASE | re.MULTILINE)
_TAG = re.compile(r"\s*(?P<name>[A-Za-z_][\w-]*)(?P<colon>\s*:)?")
_FILE_SCAN = re.compile(r"[./\\]")


class SqlModelError(ValueError):
    """A model file is wrong; the message names the file and what is wrong in it."""


@dataclass(frozen=True)
class ColumnTest:
    """A data rule written as a tag beside a column, e.g. ``-- unique not_null``."""

    column: str
    test: str
    arg: str | None = None


@dataclass(frozen=True)
class SqlModel:
    """One ``<schema>/<table>.sql`` file, parsed once."""

    schema: str
    table: str
    path: Path
    sql: str
    dependencies: tuple[TableKey, ...]
    declared_dependencies: tuple[TableKey, ...]
    columns: tuple[str, ...]
    tests: tuple[ColumnTest, ...]
    description: str | None

    @property
    def key(self) -> TableKey:
        return (self.schema, self.table)

    @property
    def all_dependencies(self) -> tuple[TableKey, ...]:
        """Inferred and declared dependencies together: what the graph uses."""
        return tuple(sorted({*self.dependencies, *self.declared_dependencies}))

    def sql_for(self, dialect: str) -> str:
        """The query for a warehouse: as written for ``duckdb``, transpiled for ``postgres``.

        Unqualified table names are left as they are: run with the search path set to
        :attr:`schema`.
        """
        if dialect == DIALECT:
            return self.sql
        if dialect != "postgres":
            raise SqlModelError(f"{self.path}: no dialect {dialect!r}; use 'duckdb' or 'postgres'")
        try:
            tree = sqlglot.parse_one(self.sql, read=DIALECT)
            return tree.sql(
                dialect=PostgresWarehouse, pretty=True, unsupported_level=ErrorLevel.RAISE
            )
        except UnsupportedError as e:
            raise SqlModelError(f"{self.path}: does not transpile to PostgreSQL: {e}") from e


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_models(root: Path) -> list[SqlModel]:
    """Parse every ``<schema>/<table>.sql`` under ``root``, sorted by key.

    A ``.sql`` file anywhere else (except under a ``_``/``.`` prefixed name) is an error rather
    than a model that silently never runs.
    """
    root = Path(root)
    if not root.is_dir():
        raise SqlModelError(f"{root}: not a directory of SQL models")
    models = []
    for path in sorted(root.rglob("*.sql")):
        relative = path.relative_to(root)
        if any(part.startswith(("_", ".")) for part in relative.parts):
            continue
        if len(relative.parts) != 2:
            raise SqlModelError(f"{path}: a model must live at <schema>/<table>.sql under {root}")
        models.append(
            parse_model(path.read_text(), schema=relative.parts[0], table=path.stem, path=path)
        )
    return models


def parse_model(sql: str, *, schema: str, table: str, path: Path | None = None) -> SqlModel:
    """Parse one model's text; ``path`` (default ``<schema>/<table>.sql``) is named in errors."""
    path = Path(path) if path is not None else Path(schema, f"{table}.sql")
    for kind, name in (("schema (folder)", schema), ("table (file stem)", table)):
        if not _NAME.fullmatch(name):
            raise SqlModelError(f"{path}: {kind} {name!r} must be a lowercase identifier")
    sql = sql.strip()
    if sql.endswith(";"):
        sql = sql[:-1].rstrip()
    query = _parse_query(sql, path)
    description, declared = _read_header(sql, schema, path)
    columns, tests = _columns_and_tests(query, sql, path)
    return SqlModel(
        schema=schema,
        table=table,
        path=path,
        sql=sql,
        dependencies=_dependencies(query, schema, path),
        declared_dependencies=declared,
        columns=columns,
        tests=tests,
        description=description,
    )


def _parse_query(sql: str, path: Path) -> exp.Query:
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except ParseError as e:
        where = e.errors[0] if e.errors else {}
        position = f"line {where.get('line')}, col {where.get('col')}: " if where else ""
        detail = where.get("description") or str(e)
        raise SqlModelError(f"{path}: cannot parse as DuckDB SQL: {position}{detail}") from e
    except SqlglotError as e:
        raise SqlModelError(f"{path}: cannot parse as DuckDB SQL: {e}") from e
    if len(statements) != 1:
        raise SqlModelError(f"{path}: expected one SELECT statement, found {len(statements)}")
    (query,) = statements
    if not isinstance(query, exp.Query):
        raise SqlModelError(
            f"{path}: expected a SELECT statement, found {query.key.upper()}: "
            f"{query.sql(DIALECT)[:60]}"
        )
    return query


def _read_header(sql: str, schema: str, path: Path) -> tuple[str | None, tuple[TableKey, ...]]:
    """The description and ``depends_on`` directives: the comment lines before the statement."""
    lines = sql.splitlines()
    described: list[str] = []
    declared: set[TableKey] = set()
    header_length = len(lines)
    for number, raw in enumerate(lines):
        line = raw.strip()
        if line and not line.startswith("--"):
            header_length = number
            break
        if directive := _DIRECTIVE.fullmatch(line):
            for ref in filter(None, re.split(r"[\s,]+", directive["refs"])):
                match = _REF.fullmatch(ref)
                if not match:
                    raise SqlModelError(f"{path}: depends_on: {ref!r} is not schema.table")
                declared.add(((match["schema"] or schema).lower(), match["table"].lower()))
        else:
            text = line[2:]
            described.append(text[1:] if text.startswith(" ") else text)
    if any(_STRAY_DIRECTIVE.match(line) for line in lines[header_length:]):
        raise SqlModelError(f"{path}: depends_on: must come before the statement")
    description = "\n".join(described).strip()
    return description or None, tuple(sorted(declared))


# --------------------------------------------------------------------------------------------
# Dependencies
# --------------------------------------------------------------------------------------------


def _dependencies(query: exp.Query, schema: str, path: Path) -> tuple[TableKey, ...]:
    found: set[TableKey] = set()
    visited: set[int] = set()
    for scope in traverse_scope(query):
        ctes = {name.lower() for name in scope.cte_sources}
        for table in scope.tables:
            visited.add(id(table))
            key = _table_key(table, ctes, schema, path)
            if key is not None:
                found.add(key)
    # A table no scope claims would be a dependency silently dropped: refuse it instead.
    for table in query.find_all(exp.Table):
        if id(table) not in visited and not isinstance(table.this, exp.Func):
            raise SqlModelError(
                f"{path}: cannot place {table.sql(DIALECT)} in a query scope; "
                "declare it with -- depends_on:"
            )
    return tuple(sorted(found))


def _table_key(table: exp.Table, ctes: set[str], schema: str, path: Path) -> TableKey | None:
    """The table a FROM/JOIN item reads, or None for CTEs, table functions and file scans."""
    if isinstance(table.this, exp.Func):
        return None
    if not isinstance(table.this, exp.Identifier):
        raise SqlModelError(f"{path}: unsupported table reference {table.sql(DIALECT)}")
    if table.args.get("catalog"):
        raise SqlModelError(
            f"{path}: catalog-qualified table {table.sql(DIALECT)} is not supported; "
            "use schema.table"
        )
    db = table.args.get("db")
    if db is None:
        if table.name.lower() in ctes:
            return None
        if table.this.quoted and _FILE_SCAN.search(table.name):
            return None
    return (_identifier(db) if db is not None else schema, _identifier(table.this))


def _identifier(identifier: exp.Identifier) -> str:
    # Unquoted names fold to lowercase (as in PostgreSQL); quoted ones are kept as written.
    return identifier.name if identifier.quoted else identifier.name.lower()


# --------------------------------------------------------------------------------------------
# Columns and tags
# --------------------------------------------------------------------------------------------


def _columns_and_tests(
    query: exp.Query, sql: str, path: Path
) -> tuple[tuple[str, ...], tuple[ColumnTest, ...]]:
    columns: list[str] = []
    tests: list[ColumnTest] = []
    for position, item in enumerate(query.selects, start=1):
        if item.is_star or isinstance(item, exp.Columns):
            raise SqlModelError(
                f"{path}: SELECT {item.sql(DIALECT)} is refused; list the columns explicitly"
            )
        if isinstance(item, exp.Alias):
            name_node = item.args["alias"]
        elif isinstance(item, exp.Column) and isinstance(item.this, exp.Identifier):
            name_node = item.this
        else:
            raise SqlModelError(
                f"{path}: column {position} ({item.sql(DIALECT)}) has no name; add AS <name>"
            )
        name = name_node.name
        if name.lower() in (c.lower() for c in columns):
            raise SqlModelError(f"{path}: column {name!r} appears twice")
        columns.append(name)
        comment = _trailing_comment(name_node, sql, path)
        if comment is not None:
            tests.extend(_parse_tags(comment, name, path))
    return tuple(columns), tuple(tests)


def _trailing_comment(name_node: exp.Identifier, sql: str, path: Path) -> str | None:
    """The ``--`` comment on the same line right after a select item ends, if any.

    Only aliases and bare columns are accepted as select items, so the item ends with its name.
    """
    end = name_node.meta.get("end")
    if end is None:
        raise SqlModelError(f"{path}: sqlglot gave no position for column {name_node.name!r}")
    match = _TRAILING_COMMENT.match(sql, end + 1)
    if not match:
        return None
    return match["line"] if match["line"] is not None else match["block"]


def _parse_tags(comment: str, column: str, path: Path) -> list[ColumnTest]:
    tests: list[ColumnTest] = []
    rest = comment.strip()
    while rest:
        match = _TAG.match(rest)
        name = match["name"] if match else rest.split()[0]
        if not match or name not in TAGS:
            raise SqlModelError(
                f"{path}: unknown tag {name!r} on column {column!r}; known tags: "
                f"{', '.join(TAGS)} (a comment on its own line is not read as tags)"
            )
        rest = rest[match.end() :]
        if TAGS[name] != bool(match["colon"]):
            usage = f"{name}: <argument>" if TAGS[name] else name
            raise SqlModelError(f"{path}: tag {name!r} on column {column!r} is written {usage!r}")
        arg = None
        if TAGS[name]:
            arg, rest = rest.strip(), ""
            _check_accepted_values(arg, column, path)
        tests.append(ColumnTest(column=column, test=name, arg=arg))
        rest = rest.strip()
    return tests


def _check_accepted_values(arg: str, column: str, path: Path) -> None:
    problem = f"{path}: accepted_values on column {column!r} needs literals like 'a', 'b'"
    try:
        values = sqlglot.parse_one(f"({arg})", read=DIALECT)
    except SqlglotError as e:
        raise SqlModelError(f"{problem}, got {arg!r}") from e
    items = values.expressions if isinstance(values, exp.Tuple) else [values.unnest()]
    if not arg or not all(isinstance(v, exp.Literal | exp.Boolean) for v in items):
        raise SqlModelError(f"{problem}, got {arg!r}")


# --------------------------------------------------------------------------------------------
# Graph
# --------------------------------------------------------------------------------------------


def build_graph(models: Iterable[SqlModel], external: Iterable[TableKey]) -> nx.DiGraph:
    """The dependency graph: an edge ``upstream -> model`` for each dependency.

    Nodes are ``(schema, table)`` keys; model nodes carry ``model=SqlModel``, external tables
    (dlt's ``workato_raw.*``) carry ``external=True``. Every dependency must be one or the
    other, and the graph must be acyclic.
    """
    graph = nx.DiGraph()
    for key in sorted(set(external)):
        graph.add_node(key, external=True)
    for model in sorted(models, key=lambda m: m.key):
        if model.key in graph:
            other = graph.nodes[model.key]
            clash = "an external table" if other.get("external") else str(other["model"].path)
            raise SqlModelError(f"{model.path}: {_dotted(model.key)} is also {clash}")
        graph.add_node(model.key, model=model)

    unknown = [
        f"{model.path}: unknown table {_dotted(dep)} (neither a model nor an external table)"
        for _, model in graph.nodes(data="model")
        if model is not None
        for dep in model.all_dependencies
        if dep not in graph
    ]
    if unknown:
        raise SqlModelError("\n".join(unknown))
    for key, model in list(graph.nodes(data="model")):
        if model is not None:
            graph.add_edges_from((dep, key) for dep in model.all_dependencies)

    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return graph
    # Edges run upstream -> downstream; the message reads the other way, as the SQL does.
    nodes = [upstream for upstream, _ in reversed(cycle)]
    start = nodes.index(min(nodes))
    nodes = nodes[start:] + nodes[:start]
    files = ", ".join(str(graph.nodes[n]["model"].path) for n in nodes)
    chain = " -> ".join(_dotted(n) for n in [*nodes, nodes[0]])
    raise SqlModelError(f"{files}: dependency cycle {chain} (each reads the next)")


def topological_order(models: Iterable[SqlModel], external: Iterable[TableKey]) -> list[SqlModel]:
    """Models in an order where each comes after everything it reads (ties by key)."""
    graph = build_graph(models, external)
    return [
        graph.nodes[key]["model"]
        for key in nx.lexicographical_topological_sort(graph)
        if "model" in graph.nodes[key]
    ]


def _dotted(key: TableKey) -> str:
    return ".".join(key)


# --------------------------------------------------------------------------------------------
# PostgreSQL dialect quirks
# --------------------------------------------------------------------------------------------


def _json_extract(self: PostgresGenerator, e: exp.JSONExtract | exp.JSONExtractScalar) -> str:
    """``->``/``->>`` chains, which work on ``json`` and ``jsonb`` alike."""
    last_op = "->>" if isinstance(e, exp.JSONExtractScalar) else "->"
    this = self.sql(e, "this")
    path = e.expression
    if not isinstance(path, exp.JSONPath):
        return f"({this} {last_op} {self.sql(path)})"
    steps = []
    for part in path.expressions:
        if isinstance(part, exp.JSONPathRoot):
            continue
        if isinstance(part, exp.JSONPathKey) and isinstance(part.this, str):
            steps.append(self.sql(exp.Literal.string(part.this)))
        elif isinstance(part, exp.JSONPathSubscript) and isinstance(part.this, int):
            steps.append(str(part.this))
        else:
            self.unsupported(f"JSON path step {self.sql(part) or part.key} in {path.sql()}")
            return this
    if not steps:
        return f"({this} #>> '{{}}')" if last_op == "->>" else this
    ops = ["->"] * (len(steps) - 1) + [last_op]
    return "(" + this + "".join(f" {op} {step}" for op, step in zip(ops, steps)) + ")"


def _no_try_cast(self: PostgresGenerator, e: exp.TryCast) -> str:
    # sqlglot would write CAST, which fails on the first bad value instead of giving NULL.
    self.unsupported("TRY_CAST has no PostgreSQL equivalent (it would become CAST)")
    return self.cast_sql(e)


class PostgresWarehouse(Postgres):
    """PostgreSQL as our warehouse sees it: dlt's JSON columns are ``jsonb``."""

    class Generator(PostgresGenerator):
        TRANSFORMS = {
            **PostgresGenerator.TRANSFORMS,
            exp.JSONExtract: _json_extract,
            exp.JSONExtractScalar: _json_extract,
            exp.Split: rename_func("STRING_TO_ARRAY"),
            exp.TryCast: _no_try_cast,
        }

        def group_sql(self, expression: exp.Group) -> str:
            if expression.args.get("all"):
                self.unsupported("GROUP BY ALL needs PostgreSQL 19; list the columns")
            return super().group_sql(expression)
