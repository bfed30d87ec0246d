"""Bad data from Workato, property-based (issue 12, point 8): the recipe parser and its JSON
decoder take any code and config they are given and either read it or raise the one
documented quarantine error (RecipeParseError), which the sync turns into a
``workato_raw.recipe_errors`` row. The 10,000-step and 50 MB recipes are explicit examples
(10,000-deep trees: tests/test_recipe_parser.py; through a whole sync:
tests/test_hypothesis_names.py)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from archy_pipeline.workato import json_tree
from archy_pipeline.workato.recipe_parser import (
    EXCERPT_CHARS,
    ParsedRecipe,
    RecipeParseError,
    parse_code,
    parse_recipe,
)

SETTINGS = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

#: Any JSON value (no NaN: it never equals itself).
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)

#: Values a recipe field may hold in bad data: anything, but mostly the types that matter.
field_values = st.one_of(
    st.none(), st.text(max_size=20), st.integers(), st.booleans(), st.floats(), json_values
)


KEYWORDS = [*"trigger action if elsif else try catch repeat foreach stop wat".split(), ""]
INPUT_KEYS = ["flow_id", "topic_id", "verb", "path"]


def _block(children: st.SearchStrategy | None) -> st.SearchStrategy:
    """A recipe block whose every field may have a wrong type, and whose ``block`` is usually
    a list of blocks, sometimes anything else."""
    return st.fixed_dictionaries(
        {},
        optional={
            "number": st.integers() | field_values,
            "keyword": st.sampled_from(KEYWORDS) | field_values,
            "provider": st.sampled_from(
                ["salesforce", "slack", "workato_recipe_function", "http", "rest"]
            )
            | field_values,
            "name": st.sampled_from(["call_recipe", "create_object", "__adhoc_http_action"])
            | field_values,
            "as": field_values,
            "skip": field_values,
            "input": st.dictionaries(st.sampled_from(INPUT_KEYS), field_values) | field_values,
            "block": (st.lists(children, max_size=4) if children is not None else st.just([]))
            | field_values,
        },
    )


recipe_trees = st.recursive(_block(None), _block, max_leaves=25)

configs = st.one_of(
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "keyword": st.sampled_from(["application"]) | field_values,
                "provider": st.sampled_from(["salesforce", "slack", "http"]) | field_values,
                "account_id": st.integers() | st.text(max_size=8) | field_values,
                "name": field_values,
            },
        )
        | field_values,
        max_size=4,
    ),
    field_values,
)


def _blocks_in(tree: Any) -> int | None:
    """How many blocks the parser must return for ``tree``; None when it must refuse it (a
    ``block`` that is not an array, or a child that is not an object)."""
    count, stack = 0, [tree]
    while stack:
        block = stack.pop()
        count += 1
        children = block.get("block")
        if children is None:
            continue
        if not isinstance(children, list) or not all(isinstance(c, dict) for c in children):
            return None
        stack.extend(children)
    return count


def _parse_or_quarantine(code: Any, config: Any = None) -> ParsedRecipe | RecipeParseError:
    try:
        return parse_code(code, config)
    except RecipeParseError as error:
        assert error.message and len(error.excerpt or "") <= EXCERPT_CHARS
        return error


@SETTINGS
@given(code=st.text() | st.binary(), config=configs)
@example(code=b"\xff\xfe{", config=None)
@example(code='{"block": [' * 3000, config=None)
@example(code="[" * 100_000, config=None)
@example(code='{"keyword": "trigger", "block": {"a": 1}}', config=[])
def test_any_text_or_bytes_as_code_is_read_or_quarantined(code, config):
    _parse_or_quarantine(code, config)


@SETTINGS
@given(code=json_values, config=json_values, as_text=st.booleans())
def test_any_json_value_as_code_and_config_is_read_or_quarantined(code, config, as_text):
    found = _parse_or_quarantine(json.dumps(code) if as_text else code, config)
    if not isinstance(code, dict):
        assert isinstance(found, RecipeParseError), "only an object is a recipe tree"


@SETTINGS
@given(tree=recipe_trees, config=configs, as_text=st.booleans())
def test_a_recipe_tree_with_wrong_types_everywhere_yields_one_row_per_block(tree, config, as_text):
    found = _parse_or_quarantine(json.dumps(tree) if as_text else tree, config)
    expected = _blocks_in(tree)
    if expected is None:
        assert isinstance(found, RecipeParseError)
    else:
        assert isinstance(found, ParsedRecipe), found
        assert len(found.steps) == expected
        assert all(isinstance(s.keyword, str) and s.keyword for s in found.steps)
        assert found.steps[0].depth == 0


@SETTINGS
@given(recipe=json_values | st.dictionaries(st.sampled_from(["code", "config", "name"]),
                                            json_values | st.text()))  # fmt: skip
def test_any_recipe_object_is_read_or_quarantined(recipe):
    try:
        parse_recipe(recipe)
    except RecipeParseError:
        pass


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@SETTINGS
@given(
    text=st.one_of(
        st.text(alphabet=st.sampled_from(list('{}[]",:0123456789.eE-+ \\ntrufalsn\u00e9'))),
        json_values.map(json.dumps),
        json_values.map(lambda v: json.dumps(v, indent=1)[:-1]),  # cut short
        st.text(),
    )
)
@example(text='{"a": NaN, "b": -Infinity, "c": [1e400]}')
@example(text='"\\ud800"')
@example(text='{"a": 1, "a": 2}')
def test_the_iterative_decoder_reads_exactly_what_json_loads_reads(text):
    """The deep-tree fallback decoder (json_tree) and json.loads agree on every text: the
    same value, or both a JSONDecodeError."""
    try:
        expected: Any = json.loads(text)
    except json.JSONDecodeError:
        expected = json.JSONDecodeError
    try:
        found: Any = json_tree._loads_iterative(text)
    except json.JSONDecodeError:
        found = json.JSONDecodeError
    assert _same(found, expected) if expected is not json.JSONDecodeError else found is expected


@SETTINGS
@given(
    text=st.one_of(
        st.text(alphabet=st.sampled_from(list('{}[]",:0123456789.eE-+ \\ntrufalsn\u00e9'))),
        json_values.map(json.dumps),
        json_values.map(lambda v: json.dumps(v, ensure_ascii=False)),
        json_values.map(lambda v: json.dumps(v, indent=1)[:-1]),  # cut short
        st.text(),
    ),
    as_bytes=st.sampled_from(["str", "utf-8", "utf-8-sig", "utf-16"]),
)
@example(text='{"a": NaN, "b": -Infinity, "c": [1e400]}', as_bytes="utf-8")
@example(text='"\\ud800"', as_bytes="str")
@example(text='"\\ud800"', as_bytes="utf-8")
@example(text='{"a": 1, "b": 0, "a": 2}', as_bytes="utf-8")
@example(text="[18446744073709551616, -9223372036854775809, -0, -0.0, 1E400]", as_bytes="str")
@example(text="[0.1, 2.5e-324, 1.7976931348623157e308, 123456789012345678]", as_bytes="utf-8")
@example(text=" [1] ", as_bytes="utf-16")
@example(text="19000000000000000000", as_bytes="str")  # orjson: 1.9e19, a float
@example(text='{"a": [18446744073709551616], "b": "\\ud800"}', as_bytes="utf-8")
@example(text='{"id": "1234567890123456789012", "n": 18446744073709551615}', as_bytes="str")
def test_loads_reads_exactly_what_json_loads_reads(text, as_bytes):
    """json_tree.loads (orjson first, then json.loads) returns what json.loads returns for
    every text and its bytes (UTF-8 with or without a BOM, UTF-16), or fails as it does."""
    value: Any = text if as_bytes == "str" else text.encode(as_bytes, "surrogatepass")
    try:
        expected: Any = json.loads(value)
    except (json.JSONDecodeError, UnicodeDecodeError):
        expected = ValueError
    try:
        found: Any = json_tree.loads(value)
    except (json.JSONDecodeError, UnicodeDecodeError):
        found = ValueError
    if expected is ValueError:
        assert found is ValueError
    else:
        assert _same(found, expected)
        assert json.dumps(found) == json.dumps(expected)  # key order, int vs float


# ---------------------------------------------------------------------- explicit big examples


def _flat(steps: int) -> dict[str, Any]:
    return {
        "number": 0, "keyword": "trigger", "provider": "salesforce", "name": "new_object",
        "block": [
            {"number": i, "keyword": "action", "provider": "slack", "name": "post_message"}
            for i in range(1, steps)
        ],
    }  # fmt: skip


def test_a_10000_step_recipe_is_read_whole():
    parsed = parse_code(json.dumps(_flat(10_000)), [{"provider": "slack", "account_id": 7}])
    assert len(parsed.steps) == 10_000
    assert {s.connection_id for s in parsed.steps if s.provider == "slack"} == {7}


@pytest.mark.slow
def test_a_50_mb_code_string_is_read_or_quarantined_with_a_short_excerpt():
    big = "x" * (50 * 1024 * 1024)
    tree = _flat(3)
    tree["block"][0]["input"] = {"message": big}
    parsed = parse_code(json.dumps(tree))
    assert len(parsed.steps) == 3

    broken = json.dumps(tree)[:-2]  # 50 MB, cut short
    with pytest.raises(RecipeParseError) as caught:
        parse_code(broken)
    assert len(caught.value.excerpt) <= EXCERPT_CHARS
    with pytest.raises(RecipeParseError) as caught:
        parse_code(big)
    assert len(caught.value.excerpt) <= EXCERPT_CHARS
