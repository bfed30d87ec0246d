"""Generated recipe descriptions: one sentence from the trigger and the actions."""

from __future__ import annotations

import json

import pytest

from archy_pipeline.workato.descriptions import describe_recipe, display_name, humanize


def step(number, keyword, provider=None, name=None, **extra):
    return {"number": number, "keyword": keyword, "provider": provider, "name": name, **extra}


SOBJECT = {"sobject_name": "Opportunity"}
NS_OBJECT = {"netsuite_object": "salesOrder"}


def recipe(trigger, *actions, config=()):
    code = {**trigger, "block": list(actions)}
    return {"id": 1, "code": json.dumps(code), "config": list(config)}


def app(provider, account_id):
    return {"keyword": "application", "provider": provider, "name": provider,
            "account_id": account_id}  # fmt: skip


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param(
            recipe(
                step(
                    0, "trigger", "salesforce", "new_object", input={"sobject_name": "Opportunity"}
                ),
                step(
                    1, "action", "netsuite", "add_object", input={"netsuite_object": "salesOrder"}
                ),
                step(2, "action", "slack", "post_message", input={"channel": "#sales"}),
                step(3, "action", "logger", "log_message"),
                config=[app("salesforce", 7), app("netsuite", 8), app("slack", 9)],
            ),
            "When a new Opportunity is created in Salesforce (ACME Production Salesforce), "
            "creates a Sales Order in NetSuite and posts a message to Slack.",
            id="the-example-from-the-issue",
        ),
        pytest.param(
            recipe(
                step(0, "trigger", "clock", "scheduled_event"),
                step(1, "action", "snowflake", "search_rows_sql"),
                step(2, "action", "sftp", "upload_file"),
            ),
            "On a schedule, reads records from Snowflake and uploads a file to SFTP.",
            id="schedule",
        ),
        pytest.param(
            recipe(
                step(0, "trigger", "workato_webhooks", "new_event"),
                step(
                    1, "action", "workato_recipe_function", "call_recipe", input={"flow_id": "42"}
                ),
                step(2, "action", "jira", "update_issue", skip=True),
            ),
            "When a webhook event arrives, calls recipe 'Upsert contact'.",
            id="webhook-call-and-a-skipped-step",
        ),
        pytest.param(
            recipe(
                step(0, "trigger", "service_now", "updated_object", input={"object": "incident"}),
                step(
                    1,
                    "action",
                    "rest",
                    "make_request_v2",
                    input={"request": {"url": "https://api.pagerduty.com/incidents"}},
                ),
                step(
                    2, "action", "workato_pub_sub", "publish_to_topic", input={"topic_id": "39566"}
                ),
            ),
            "When an Incident is updated in ServiceNow, calls api.pagerduty.com over HTTP and "
            "publishes to topic 39566.",
            id="http-and-pubsub",
        ),
        pytest.param(
            recipe(
                step(0, "trigger", "clock", "scheduled_event"),
                step(1, "action", "mssql", "search_rows", input={"table": "customers"}),
                step(2, "action", "slack", "post_message", input={"channel": "#sales"}),
            ),
            "On a schedule, reads Customer records from SQL Server and posts a message to Slack.",
            id="lookup-then-notify",
        ),
        pytest.param(
            recipe(
                step(0, "trigger", "clock", "scheduled_event"),
                # The old substring rules read "add" in "addresses" and "update" in "updated".
                step(1, "action", "netsuite", "search_addresses"),
                step(2, "action", "salesforce", "get_updated_records"),
                step(3, "action", "snowflake", "run_custom_sql", input={"sql": "SELECT 1"}),
                step(4, "action", "mssql", "execute_procedure", input={"procedure": "dbo.p"}),
            ),
            "On a schedule, reads records from NetSuite, reads records from Salesforce, reads "
            "records from Snowflake and runs execute procedure in SQL Server.",
            id="reads-by-the-vocabulary",
        ),
        pytest.param(
            recipe(
                step(0, "trigger", "clock", "scheduled_event"),
                step(
                    1,
                    "action",
                    "rest",
                    "make_request_v2",
                    input={"request": {"method": "GET", "url": "https://a.example.com/x"}},
                ),
                step(
                    2,
                    "action",
                    "rest",
                    "make_request_v2",
                    input={"request": {"method": "POST", "url": "https://b.example.com/x"}},
                ),
                step(
                    3,
                    "action",
                    "jira",
                    "__adhoc_http_action",
                    input={"verb": "put", "path": "rest/api/2/issue/1"},
                ),
            ),
            "On a schedule, reads from a.example.com over HTTP, sends data to b.example.com over "
            "HTTP and sends data to Jira over HTTP.",
            id="http-by-method",
        ),
        pytest.param(
            recipe(step(0, "trigger", "workato_recipe_function", "execute")),
            "When called by another recipe, runs built-in steps only.",
            id="no-actions",
        ),
    ],
)
def test_descriptions(code, expected):
    names = {7: "ACME Production Salesforce"}
    assert describe_recipe(code, names, {42: "Upsert contact"}) == expected


def test_long_recipes_are_summarised():
    actions = [
        step(i, "action", p, "create_object", input={"object": f"thing{i}"})
        for i, p in enumerate(["jira", "zendesk", "hubspot", "box", "asana", "trello"], start=1)
    ]
    text = describe_recipe(recipe(step(0, "trigger", "clock", "scheduled_event"), *actions))
    assert text.endswith("and 2 more steps.")
    assert text.count("creates") == 4


def test_unreadable_code_has_no_description():
    assert describe_recipe({"id": 1, "code": "{not json"}) is None


def test_names():
    assert display_name("salesforce_secondary") == "Salesforce"
    assert display_name("cicd_for_git_hub_v3_connector_865610_1730209886") == "Cicd For Git Hub V3"
    assert humanize("salesOrder") == "Sales Order"
    assert humanize("purchase_orders") == "Purchase Order"
    assert humanize("opportunities") == "Opportunity"


def test_a_recipe_nested_10000_levels_deep_is_described_not_crashed():
    """The parser reads deep code; the describer must too (it once re-read the code with
    json.loads and stopped every rebuild with a RecursionError)."""
    depth = 10_000
    head = '{"keyword":"trigger","provider":"clock","name":"scheduled_event","block":['
    inner = '{"keyword":"if","block":['
    leaf = '{"keyword":"action","provider":"slack","name":"post_message"}'
    code = head + inner * depth + leaf + "]}" * depth + "]}"
    sentence = describe_recipe({"id": 1, "name": "Deep", "code": code, "config": "[]"})
    assert sentence is not None and "Slack" in sentence
