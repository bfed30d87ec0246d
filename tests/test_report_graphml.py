"""GraphML written by the report's own code (exports.graphml: networkx's writer was slow),
compared with networkx's output: the bytes its ElementTree writer (nx.write_graphml_xml) writes
for the same graph, for any node names and values of the types the report uses, in any order,
with empty strings and characters XML must escape."""

from __future__ import annotations

import io

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archy_pipeline.report.exports import graphml

TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)),
    max_size=10,
)
VALUE = TEXT | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.booleans()
ATTRS = st.dictionaries(TEXT, VALUE, max_size=4)


def networkx_bytes(graph: nx.DiGraph) -> bytes:
    out = io.BytesIO()
    nx.write_graphml_xml(graph, out)
    return out.getvalue()


@settings(max_examples=200, deadline=None)
@given(
    graph_attrs=ATTRS,
    nodes=st.lists(st.tuples(TEXT, ATTRS), max_size=6),
    edges=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), ATTRS), max_size=8),
)
def test_graphml_is_what_networkx_writes(graph_attrs, nodes, edges):
    graph = nx.DiGraph(**graph_attrs)
    for name, attrs in nodes:
        graph.add_node(name, **attrs)
    names = list(graph)
    for a, b, attrs in edges:
        if names:
            graph.add_edge(names[a % len(names)], names[b % len(names)], **attrs)
    assert graphml(graph) == networkx_bytes(graph)


def test_graphml_of_a_small_map():
    graph = nx.DiGraph(name="archy system map")
    graph.add_node("system:W:a & b", label='A "<b>"', recipes=3, category="")
    graph.add_node("system:W:c", label="C\nnext line", recipes=0, category="CRM")
    graph.add_edge("system:W:a & b", "system:W:c", recipe_count=2, recipe_ids="1,2")
    text = graphml(graph)
    assert text == networkx_bytes(graph)
    assert b'<node id="system:W:a &amp; b">' in text
    assert nx.read_graphml(io.BytesIO(text)).nodes["system:W:c"]["label"] == "C\nnext line"


def test_graphml_refuses_what_it_does_not_write():
    with pytest.raises(ValueError):
        graphml(nx.MultiDiGraph())
    with pytest.raises(ValueError):
        graphml(nx.Graph())
