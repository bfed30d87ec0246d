"""A one-sentence description of what a recipe does, generated from its steps.

"When a new Opportunity is created in Salesforce (ACME Production Salesforce), creates a
Sales Order in NetSuite and posts a message to Slack."

Pure: no Dagster or dlt import. The verb follows each step's access as the vocabulary decides it
(:func:`archy_pipeline.workato.vocabulary.classify_step`: a lookup reads, a POST writes, an unknown
action "runs"), the wording the action name and the object its input names; built-in helpers
(logger, variables, parsers) are left out because they say nothing about the architecture.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from archy_pipeline.workato import json_tree
from archy_pipeline.workato.recipe_parser import RecipeParseError, normalise_provider, parse_recipe
from archy_pipeline.workato.vocabulary import DISPLAY_NAMES, HELPERS, display_name

__all__ = [
    "DISPLAY_NAMES",
    "HELPERS",
    "describe_all",
    "describe_recipe",
    "display_name",
    "humanize",
]

#: Input fields that name the object a step works on, in order of preference.
OBJECT_KEYS = (
    "sobject_name", "netsuite_object", "object", "object_name", "table", "table_name",
    "record_type", "entity", "project_issuetype", "sheet", "channel",
)  # fmt: skip

MAX_ACTIONS = 4


def humanize(value: str) -> str:
    """``salesOrder`` -> ``Sales Order``; ``purchase_orders`` -> ``Purchase Order``."""
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", value).replace("_", " ").split()
    text = " ".join(w[:1].upper() + w[1:] for w in words)
    if text.endswith("ies") and len(text) > 4:
        text = text[:-3] + "y"
    elif text.endswith("s") and not text.endswith("ss") and len(text) > 3:
        text = text[:-1]
    return text


def _object_of(block: Mapping[str, Any]) -> str | None:
    data = block.get("input")
    if not isinstance(data, Mapping):
        return None
    for key in OBJECT_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value and "#{" not in value and not value.startswith("="):
            if key == "project_issuetype":
                value = value.split(":")[-1]
            if key == "channel":
                return None
            return humanize(value)
    return None


def _blocks_by_number(code: Mapping[str, Any]) -> dict[int, Mapping[str, Any]]:
    found: dict[int, Mapping[str, Any]] = {}
    stack: list[Any] = [code]
    while stack:
        block = stack.pop()
        if not isinstance(block, Mapping):
            continue
        if isinstance(block.get("number"), int):
            found[block["number"]] = block
        children = block.get("block")
        if isinstance(children, list):
            stack.extend(children)
    return found


def _a(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _trigger_phrase(step: Any, block: Mapping[str, Any], where: str) -> str:
    name = (step.action_name or "").lower()
    app = normalise_provider(step.provider) or ""
    obj = _object_of(block)
    if app == "clock" or "schedul" in name or name in {"timer", "daily_task"}:
        return "On a schedule"
    if app == "workato_webhooks":
        return "When a webhook event arrives"
    if app in {"workato_recipe_function", "workato_service"}:
        return "When called by another recipe"
    if app == "workato_api_platform":
        return "When its API endpoint is called"
    if app == "workato_pub_sub":
        topic = f" {step.reference}" if step.reference else ""
        return f"When a message is published to topic{topic}"
    noun = obj or "record"
    if "deleted" in name:
        return f"When {_a(noun)} is deleted in {where}"
    if "new_updated" in name or "new_or_updated" in name:
        return f"When {_a(noun)} is created or updated in {where}"
    if name.startswith("updated") or "_updated" in name:
        return f"When {_a(noun)} is updated in {where}"
    if name.startswith("new") or "_new" in name:
        return f"When a new {noun} is created in {where}"
    return f"When {name.replace('_', ' ') or 'an event happens'} in {where}"


def _action_phrase(step: Any, block: Mapping[str, Any], names: Mapping[int, str]) -> str | None:
    app = normalise_provider(step.provider) or ""
    name = (step.action_name or "").lower()
    if not app or app in HELPERS or step.keyword != "action":
        return None
    where = display_name(app)
    obj = _object_of(block)
    if step.reference_kind in {"call_recipe", "call_recipe_async", "call_service"}:
        callee = names.get(int(step.reference)) if (step.reference or "").isdigit() else None
        callee = callee or step.reference_name
        return f"calls recipe '{callee}'" if callee else "calls another recipe"
    if name in {"return_result", "wait_for_async_jobs", "send_reply", "return_response"}:
        return None
    if step.reference_kind == "pub_sub_publish":
        return f"publishes to topic {step.reference}" if step.reference else "publishes a message"
    if step.reference_kind == "http":
        host = step.reference or (urlsplit(step.reference_raw or "").hostname)
        target = host or where
        if step.access == "read":
            return f"reads from {target} over HTTP"
        if step.access == "write":
            return f"sends data to {target} over HTTP"
        return f"calls {target} over HTTP"
    noun = obj or "record"
    if step.access == "read":
        if "download" in name:
            return f"downloads a file from {where}"
        return f"reads {(obj + ' records') if obj else 'records'} from {where}"
    runs = f"runs {name.replace('_', ' ') or 'an action'} in {where}"
    if step.access == "unknown":
        return runs
    # A write, or a platform connector (access None, e.g. Workato email): the name says more.
    if any(w in name for w in ("post_message", "post_bot_message", "post_reply", "post_command")):
        return f"posts a message to {where}"
    if "send_mail" in name or "send_email" in name:
        return f"sends an email through {where}"
    if "upload" in name:
        return f"uploads a file to {where}"
    if "upsert" in name or "create_or_update" in name:
        return f"creates or updates {_a(noun)} in {where}"
    if any(w in name for w in ("create", "add", "insert")):
        return f"creates {_a(noun)} in {where}"
    if "update" in name:
        return f"updates {_a(noun)} in {where}"
    if "delete" in name:
        return f"deletes {_a(noun)} in {where}"
    return f"writes {_a(noun)} to {where}" if step.access == "write" else runs


def _join(phrases: list[str]) -> str:
    if len(phrases) <= 1:
        return "".join(phrases)
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def describe_recipe(
    recipe: Mapping[str, Any],
    connection_names: Mapping[int, str] | None = None,
    recipe_names: Mapping[int, str] | None = None,
) -> str | None:
    """The sentence for one recipe (``code`` as JSON text or object), or None if unreadable."""
    try:
        parsed = parse_recipe(recipe)
    except RecipeParseError:
        return None
    code = recipe.get("code")
    if isinstance(code, str):
        code = json_tree.loads(code)  # valid JSON (it parsed), maybe nested very deep
    blocks = _blocks_by_number(code) if isinstance(code, Mapping) else {}
    connections = connection_names or {}
    trigger = parsed.trigger
    if trigger is None:
        return None
    where = display_name(trigger.provider)
    if isinstance(trigger.connection_id, int) and trigger.connection_id in connections:
        where += f" ({connections[trigger.connection_id]})"
    opening = _trigger_phrase(trigger, blocks.get(trigger.number, {}), where)
    phrases: list[str] = []
    for step in parsed.steps[1:]:
        if step.skipped:
            continue
        phrase = _action_phrase(step, blocks.get(step.number, {}), recipe_names or {})
        if phrase and phrase not in phrases:
            phrases.append(phrase)
    if not phrases:
        return f"{opening}, runs built-in steps only."
    extra = len(phrases) - MAX_ACTIONS
    shown = phrases[:MAX_ACTIONS] + (
        [f"{extra} more step{'s' if extra > 1 else ''}"] if extra > 0 else []
    )
    return f"{opening}, {_join(shown)}."


def describe_all(
    recipes: list[Mapping[str, Any]], connection_names: Mapping[int, str]
) -> Iterator[tuple[Any, int, str | None]]:
    """``(workspace, recipe_id, description)`` for every recipe."""
    names = {int(r["id"]): str(r.get("name") or "") for r in recipes}
    for recipe in recipes:
        yield (
            recipe.get("workspace"),
            int(recipe["id"]),
            describe_recipe(recipe, connection_names, names),
        )
