"""Table names and column hints of the raw Workato tables.

Column hints make every documented field exist in the warehouse even while all its values are
null, and fix the types analysts rely on.
"""

from __future__ import annotations

from typing import Any

#: The dlt dataset (warehouse schema) raw Workato tables land in.
DATASET_NAME = "workato_raw"

#: Raw tables, in the order a sync fills them.
RAW_TABLES = (
    "workspace",
    "folders",
    "projects",
    "connections",
    "recipes",
    "recipe_steps",
    "recipe_connections",
    "recipe_errors",
    "sync_issues",
)


def _typed(**types: str) -> dict[str, dict[str, Any]]:
    return {name: {"data_type": data_type, "nullable": True} for name, data_type in types.items()}


def _key(**types: str) -> dict[str, dict[str, Any]]:
    return {name: {"data_type": data_type, "nullable": False} for name, data_type in types.items()}


_ENTITY_KEY = _key(workspace="text", id="bigint")
_RECIPE_KEY = _key(workspace="text", recipe_id="bigint")
#: ``deep_fields``: the JSON text of the item's fields nested too deep to keep as JSON (null
#: in their own columns), see ``state.set_aside_deep_values``.
_TRACKED = _ENTITY_KEY | _typed(content_hash="text", deleted_at="timestamp", deep_fields="text")
#: Held deletions: an item that vanished together with its folder stays current, not visible.
_HELD = _typed(visible="bool", hidden_since="timestamp")
#: Marks a row that deletes earlier rows of the same key instead of being stored.
_CLEARED = _RECIPE_KEY | {"_cleared": {"data_type": "bool", "nullable": True, "hard_delete": True}}

WORKSPACE_COLUMNS = _TRACKED | _typed(
    name="text", created_at="timestamp", recipes_count="bigint", active_recipes_count="bigint",
    root_folder_id="bigint", expert="bool", plan_id="text", company_name="text", email="text",
    contact_email="text", location="text",
    last_seen="timestamp", current_billing_period_start="timestamp",
    current_billing_period_end="timestamp", avatar_url="text", about_me="text", phone="text",
    contact_phone="text", interested_applications="json", environment="text",
    identity_source="text",
)  # fmt: skip
FOLDER_COLUMNS = _TRACKED | _HELD | _typed(
    name="text", created_at="timestamp", updated_at="timestamp", parent_id="bigint",
    project_id="bigint", is_project="bool", path="text",
)  # fmt: skip
PROJECT_COLUMNS = _TRACKED | _HELD | _typed(name="text", description="text", folder_id="bigint")
CONNECTION_COLUMNS = _TRACKED | _HELD | _typed(
    name="text", application="text", created_at="timestamp", updated_at="timestamp",
    folder_id="bigint", description="text", authorized_at="timestamp", authorization_status="text",
    authorization_error="text", external_id="text", connection_lost_at="timestamp",
    connection_lost_reason="text", parent_id="bigint", provider="text", tags="json",
)  # fmt: skip
RECIPE_COLUMNS = _TRACKED | _HELD | _typed(
    name="text", user_id="bigint", created_at="timestamp", updated_at="timestamp",
    copy_count="bigint", folder_id="bigint", running="bool", job_succeeded_count="bigint",
    job_failed_count="bigint", lifetime_task_count="bigint", version_no="bigint",
    author_name="text", action_applications="json", applications="json",
    parameters_schema="json", parameters="json", config="json", code="text",
    trigger_application="text", description="text", webhook_url="text",
    project_id="bigint", last_run_at="timestamp", stopped_at="timestamp", stop_cause="text",
    trigger_closure="json", version_author_name="text", version_author_email="text",
    version_comment="text", tags="json",
)  # fmt: skip
RECIPE_STEP_COLUMNS = _CLEARED | _key(number="bigint") | _typed(
    parent_number="bigint", depth="bigint", keyword="text", provider="text",
    application="text", action_name="text", alias="text", skipped="bool", protected="bool",
    in_catch="bool", connection_id="bigint", reference_kind="text", reference="text",
    reference_name="text", resolved="bool", reference_raw="text", access="text",
    http_method="text", access_reason="text",
)  # fmt: skip
RECIPE_CONNECTION_COLUMNS = _CLEARED | _key(position="bigint") | _typed(
    provider="text", application="text", connection_id="bigint"
)  # fmt: skip
RECIPE_ERROR_COLUMNS = _CLEARED | _typed(error="text", excerpt="text")
ISSUE_COLUMNS = _key(workspace="text", synced_at="timestamp") | _typed(
    severity="text", kind="text", subject="text", message="text"
)  # fmt: skip

#: Tables whose rows this package builds itself (every field declared above): a sync hands
#: them to dlt as Arrow tables, which dlt writes to Parquet as they are, instead of normalizing
#: each row in Python. The tables of API items keep dlt's row-by-row normalizer, which also
#: adds a column for any field Workato adds.
ARROW_TABLES: dict[str, dict[str, dict[str, Any]]] = {
    "recipe_steps": RECIPE_STEP_COLUMNS,
    "recipe_connections": RECIPE_CONNECTION_COLUMNS,
    "recipe_errors": RECIPE_ERROR_COLUMNS,
}
