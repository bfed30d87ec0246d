"""Deterministic generator of realistic Workato workspaces for the simulator.

``generate_workspace(seed, recipes=300)`` builds a :class:`Workspace` that looks like a real
customer's: nested project folders, connections to 50+ real Workato connectors named the way
people name them, and recipes whose code trees follow the live-API grammar of reference §3
(trigger root, actions, ``if``/``elsif``/``else``, ``foreach``, ``repeat`` +
``while_condition``, ``try``/``catch``, ``stop``; datapills ``#{_dp('{...}')}``, 8-hex ``as``
aliases, v4 ``uuid`` strings). Recipes call each other through recipe functions (chains, at
least one cycle, a few dynamic ``flow_id`` formulas), publish and subscribe to Pub/Sub topics,
make HTTP calls with the ``rest`` connector, use lookup tables, and carry run statistics.

Everything comes from one ``random.Random(seed)`` (a subclass with cheaper ``choice``) and a
reference day: generated history spans the ``SPAN_DAYS`` days up to ``now`` truncated to the
day (UTC; default today), so "last run 120 days ago" means that on the day the workspace is
generated, and the analysis's "inactive" finds only recipes generated to be quiet. The same
arguments (``now`` included) give the same workspace down to the serialised JSON,
``GET /api/users/me`` included; without ``now``, the same seed gives the same workspace all day
long, shifted by a day the next day. The workspace clock is advanced past all
generated history, so later mutations are stamped after it. :func:`describe` counts what a
workspace holds, for tests and benchmarks.

Public API: :func:`generate_workspace`, :func:`describe`, :class:`WorkspaceStats`,
``CONNECTION_PROVIDERS``, ``BUILTIN_PROVIDERS``, :func:`history_window`, ``SPAN_DAYS``,
``MAX_RECIPES``.
"""

from __future__ import annotations

import gc
import json
import random
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from workato_simulator.workspace import (
    STOP_CAUSES,
    Workspace,
    application_config,
    iter_blocks,
    renumber,
)

#: Generated history spans this many days up to the reference day (recipes run until its end).
SPAN_DAYS = 900
#: The generator's cap on recipes per workspace (the reference documents no Workato limit).
MAX_RECIPES = 5000

_MS_PER_DAY = 86_400_000
_SETUP_DAYS = 9  # folders are created in the first days; connections and recipes after


# ---------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class _App:
    """A connector as recipes use it: display label, naming slug, the input key holding the
    object a step works on, sample objects, trigger and action internal names, a popularity
    weight and a family that decides the shape of step inputs."""

    label: str
    slug: str
    key: str | None
    objects: tuple[str, ...]
    triggers: tuple[str, ...]
    actions: tuple[str, ...]
    weight: float = 1.0
    family: str = "app"  # app | db | chat | mail | file | http | stream


def _app(
    label: str,
    slug: str,
    key: str | None,
    objects: str,
    triggers: str,
    actions: str,
    weight: float = 1.0,
    family: str = "app",
) -> _App:
    """Catalogue entry; ``objects``, ``triggers`` and ``actions`` are ``|``-separated."""

    def split(text: str) -> tuple[str, ...]:
        return tuple(x for x in text.split("|") if x)

    return _App(label, slug, key, split(objects), split(triggers), split(actions), weight, family)


_DB_T = "new_row_v2|updated_rows_batch|scheduled_select"
_DB_A = (
    "insert_row|insert_rows_batch|upsert_rows|run_custom_sql|search_rows|execute_procedure|"
    "export_csv_v2"
)

# fmt: off
_APPS: dict[str, _App] = {
    "salesforce": _app(
        "Salesforce", "sfdc", "sobject_name",
        "Opportunity|Account|Contact|Lead|Case|Quote|Order|Product2|Contract|Campaign|Asset",
        "new_object|updated_object|new_updated_object|sobject_deleted",
        "create_object|search_sobjects|update_sobject|upsert_sobject|get_sobject", 9),
    "netsuite": _app(
        "NetSuite", "ns", "netsuite_object",
        "customer|salesOrder|invoice|vendorBill|employee|inventoryItem|journalEntry|"
        "purchaseOrder|vendor|creditMemo",
        "new_object|updated_object|new_saved_search_result",
        "add_object|upsert_object|search_object_v2|update_object|execute_suiteql", 6),
    "slack": _app(
        "Slack", "slack", "channel",
        "#sales-ops|#it-alerts|#finance-close|#hr-onboarding|#integration-errors|"
        "#support-escalations|#data-eng|#revops",
        "new_message", "post_message|post_reply|upload_file", 6, "chat"),
    "slack_bot": _app(
        "Workbot for Slack", "workbot", "channel",
        "#it-helpdesk|#approvals|#sales-deals|#people-ops",
        "bot_command_v2", "post_bot_message|get_user_by_email|post_command_reply", 2, "chat"),
    "teams_bot": _app(
        "Workbot for Teams", "teams", "channel", "General|IT Support|Finance Approvals|Sales Desk",
        "bot_command", "post_bot_message|post_command_reply", 1.5, "chat"),
    "jira": _app(
        "Jira", "jira", "project_issuetype",
        "OPS : Task|ITSD : Service Request|SALES : Story|FIN : Bug|HR : Task|DATA : Epic|INT : Bug",
        "new_issue|updated_issue", "create_issue|update_issue|search_issues_jql|add_comment", 5),
    "jira_service_desk": _app(
        "Jira Service Management", "jsm", "request_type",
        "IT Help|Access Request|New Hire|Hardware Request|Report a Bug",
        "new_request|updated_request", "create_request|add_comment", 1.5),
    "service_now": _app(
        "ServiceNow", "snow", "table",
        "incident|sc_request|sc_req_item|change_request|problem|sys_user|cmdb_ci|"
        "u_oracle_cost_centers",
        "new_object|updated_object", "create_object|update_object|search_objects_v2", 5),
    "workday": _app(
        "Workday", "wd", "object",
        "Worker|Position|Organization|Job_Requisition|Cost_Center|Applicant",
        "new_updated_object", "Search_business_object|call_operation|get_report|get_wql_report", 4),
    "workday_rest": _app(
        "Workday REST", "wd_rest", "object",
        "workers|jobs|supervisoryOrganizations|timeOffRequests",
        "new_object", "search_objects|get_object|create_object", 1.5),
    "snowflake": _app(
        "Snowflake", "snowflake", "table",
        "ANALYTICS.SALES.OPPORTUNITIES|RAW.NETSUITE.INVOICES|HR.CORE.WORKERS|FINANCE.GL.BALANCES|"
        "MARTS.CUSTOMER_360|RAW.ZENDESK.TICKETS",
        _DB_T, _DB_A, 5, "db"),
    "mssql": _app(
        "SQL Server", "sqlserver", "table",
        "dbo.Orders|dbo.Customers|dbo.Invoices|dbo.Employees|stg.SalesOrderLines|dbo.Shipments",
        _DB_T, _DB_A, 4, "db"),
    "postgresql": _app(
        "PostgreSQL", "pg", "table",
        "public.orders|public.customers|billing.invoices|public.events|app.subscriptions",
        _DB_T, _DB_A, 3, "db"),
    "mysql": _app(
        "MySQL", "mysql", "table", "orders|customers|shipments|products|wp_users",
        _DB_T, _DB_A, 2, "db"),
    "oracle": _app(
        "Oracle", "oracle", "table",
        "APPS.AP_INVOICES_ALL|APPS.HZ_PARTIES|XXFIN.XX_COST_CENTERS|APPS.PER_ALL_PEOPLE_F|"
        "APPS.OE_ORDER_HEADERS_ALL",
        "updated_rows_batch|updated_rows_sql_batch|scheduled_select",
        "insert_rows_batch|run_custom_sql|search_rows_sql|execute_procedure", 2, "db"),
    "jdbc": _app(
        "JDBC", "jdbc", "table", "LEGACY.ORDERS|ERP.ITEMS|WMS.SHIPMENTS|APPS.FND_FLEX_VALUES_VL",
        "updated_rows_sql_batch|new_row_v2",
        "search_rows_sql|run_custom_sql|insert_rows_batch|execute_procedure", 1.5, "db"),
    "redshift": _app(
        "Redshift", "redshift", "table",
        "analytics.fact_orders|analytics.dim_customer|marketing.campaign_stats",
        "new_row_v2|scheduled_select", "insert_rows_batch|run_custom_sql|search_rows|upsert_rows",
        1.5, "db"),
    "google_big_query": _app(
        "BigQuery", "bq", "table", "analytics.events|marketing.ga_sessions|finance.revenue_daily",
        "new_row", "insert_row|insert_rows|select_rows", 1.5, "db"),
    "rest": _app("HTTP", "http", None, "", "", "make_request_v2", 2, "http"),
    "google_sheets": _app(
        "Google Sheets", "gsheets", "sheet",
        "Sheet1|Pipeline|Headcount|Mappings|Budget FY24|Cost Centers",
        "new_spreadsheet_row_v4",
        "add_spreadsheet_row_v4|get_spreadsheet_rows_v4|update_spreadsheet_row_v4", 3),
    "google_drive": _app(
        "Google Drive", "gdrive", "folder",
        "Finance/Exports|HR/Offer Letters|Sales/Contracts|Shared/Reports",
        "new_file", "upload_file|search_file_or_folder|download_file|delete_file", 2, "file"),
    "gmail": _app("Gmail", "gmail", None, "", "new_email", "send_mail", 2, "mail"),
    "outlook": _app("Outlook", "outlook", None, "", "new_email", "send_email", 2, "mail"),
    "zendesk": _app(
        "Zendesk", "zendesk", "object", "ticket|user|organization",
        "new_ticket|updated_ticket", "create_ticket|update_ticket|search_tickets|get_user", 3),
    "hubspot": _app(
        "HubSpot", "hubspot", "object", "contact|company|deal",
        "new_contact|new_deal|updated_contact",
        "create_contact|update_contact|search_contacts|create_deal", 2.5),
    "marketo": _app(
        "Marketo", "marketo", "object", "lead|program|list", "new_lead|updated_lead",
        "create_or_update_lead|add_lead_to_list|search_leads", 2),
    "box": _app(
        "Box", "box", "folder", "Contracts|Invoices/Inbound|HR/Signed", "new_file",
        "upload_file|download_file|create_folder", 1, "file"),
    "dropbox": _app(
        "Dropbox", "dropbox", "folder", "/Apps/Workato|/Finance/Statements", "new_file",
        "upload_file|download_file", 1, "file"),
    "onedrive": _app(
        "OneDrive", "onedrive", "folder", "/Reports|/Shared/Exports", "new_file",
        "upload_file|download_file", 1, "file"),
    "microsoft_dynamics_crm": _app(
        "Dynamics 365", "d365", "entity", "account|contact|opportunity|incident",
        "new_object|updated_object", "create_object|update_object|search_objects", 1.5),
    "confluence": _app(
        "Confluence", "confluence", "space", "IT|OPS|HR|ENG", "new_page",
        "create_page|update_page"),
    "asana": _app(
        "Asana", "asana", "project", "Website Relaunch|Q3 Campaigns|Onboarding", "new_task",
        "create_task|update_task"),
    "trello": _app(
        "Trello", "trello", "board", "Marketing Requests|IT Backlog", "new_card",
        "create_card|move_card", 0.7),
    "smartsheet": _app(
        "Smartsheet", "smartsheet", "sheet", "PMO Tracker|Capacity Plan|Vendor Onboarding",
        "new_row", "add_row|update_row|search_rows"),
    "splunk": _app(
        "Splunk", "splunk", "index", "workato|integration_logs|security", "",
        "send_event|run_search"),
    "pagerduty": _app(
        "PagerDuty", "pagerduty", "service", "ERP Integrations|Data Platform|Customer Portal",
        "new_incident", "create_incident|resolve_incident"),
    "xero": _app(
        "Xero", "xero", "object", "invoice|contact|payment", "new_invoice|new_contact",
        "create_invoice|create_contact|search_invoices"),
    "quickbooks": _app(
        "QuickBooks", "qbo", "object", "Invoice|Customer|Payment|Bill", "new_object",
        "create_object|update_object|search_objects"),
    "intacct": _app(
        "Sage Intacct", "intacct", "object", "ARINVOICE|APBILL|GLBATCH|VENDOR|CUSTOMER",
        "new_object", "create_object|update_object|search_objects"),
    "zuora": _app(
        "Zuora", "zuora", "object", "Account|Subscription|Invoice|Payment",
        "new_object|updated_object", "create_object|update_object|search_objects|run_zoql_query",
        1.5),
    "docusign": _app(
        "DocuSign", "docusign", "template", "MSA|NDA|Order Form|Offer Letter",
        "envelope_status_changed", "send_envelope_with_template|get_envelope_documents"),
    "bamboohr": _app(
        "BambooHR", "bamboohr", "object", "employee|time_off_request",
        "new_employee|updated_employee", "get_employee|update_employee"),
    "coupa": _app(
        "Coupa", "coupa", "object", "purchase_orders|suppliers|invoices|requisitions",
        "new_object|updated_object", "create_object|update_object|search_objects", 1.5),
    "concur": _app(
        "SAP Concur", "concur", "object", "expense_report|invoice|user", "new_expense_report",
        "get_expense_report|update_user"),
    "sap": _app(
        "SAP", "sap", "idoc_type", "ORDERS05|DEBMAS07|MATMAS05|INVOIC02", "new_idoc",
        "send_idoc|call_rfc", 1.5),
    "okta": _app(
        "Okta", "okta", "group", "Everyone|Salesforce Users|Engineering|Contractors",
        "new_event|new_user", "create_user|search_users|add_user_to_group|deactivate_user", 2),
    "github": _app(
        "GitHub", "github", "repository", "acme/integrations|acme/web-portal|acme/data-pipelines",
        "new_issue|new_pull_request|new_commit", "create_issue|add_comment"),
    "twilio": _app("Twilio", "twilio", None, "", "", "send_sms", 0.8),
    "stripe": _app(
        "Stripe", "stripe", "object", "charge|customer|invoice|subscription", "new_event",
        "create_customer|search_customers|create_invoice"),
    "sftp": _app(
        "SFTP", "sftp", "path", "/inbound/orders|/outbound/payments|/epm-sftp/Headcount|/archive",
        "new_file", "upload|download_file|list_files", 2, "file"),
    "amazon_s3": _app(
        "Amazon S3", "s3", "bucket", "acme-data-lake|acme-exports-prod|acme-invoices", "new_file",
        "upload_file|download_file|list_objects", 2, "file"),
    "kafka": _app(
        "Kafka", "kafka", "topic", "orders.v1|customers.changed|inventory.updates|party-updates",
        "new_message_batch_v2", "publish_to_topic", 1.5, "stream"),
    "microsoft_sharepoint": _app(
        "SharePoint", "sharepoint", "list", "Contracts|Vendor Register|Policies", "new_item",
        "create_item|upload_file"),
    "active_directory": _app(
        "Active Directory", "ad", "group", "All Staff|VPN Users|Finance", "new_user",
        "create_user|add_user_to_group"),
    "anaplan": _app(
        "Anaplan", "anaplan", "model", "FP&A Model|Sales Capacity", "", "run_import|run_export"),
}
# fmt: on

#: Real Workato connector ids that generated connections use (connection ``application``).
CONNECTION_PROVIDERS: tuple[str, ...] = tuple(_APPS)

#: Apps that always keep a used connection when the workspace has one.
_WORKHORSES = ("rest", "salesforce", "netsuite", "slack", "mssql", "snowflake", "service_now")

#: Platform connectors: no connection, ``account_id`` null in ``config`` (reference §3.5).
BUILTIN_PROVIDERS: frozenset[str] = frozenset(
    "clock logger email workato_variable workato_recipe_function workato_webhooks "
    "workato_pub_sub workato_api_platform lookup_table workato_db_table json_parser csv_parser "
    "workato_files".split()
)

# fmt: off
_ENVIRONMENTS = (  # (weight, long, upper short, lower short)
    (50, "Production", "PROD", "prd"), (15, "Sandbox", "SBX", "sbx"),
    (6, "Staging", "STG", "stg"), (6, "UAT", "UAT", "uat"), (10, "Test", "TEST", "tst"),
    (13, "Development", "DEV", "dev"),
)
_DEPARTMENTS = (
    "Sales", "Finance", "HR", "IT", "Ops", "Support", "Marketing", "Data", "Legal", "Security",
    "Procurement", "RevOps",
)
_TEAMS = ("ops", "fin", "hr", "it", "sales", "data", "int", "eng", "mkt", "sec", "cs", "scm")
_REGIONS = ("EMEA", "US", "APAC", "LATAM", "UK", "DE", "JP")

_AUTH_ERRORS = {
    "mssql": "Login failed for user 'svc_workato'.",
    "postgresql": 'FATAL: password authentication failed for user "workato"',
    "oracle": "ORA-01017: invalid username/password; logon denied",
    "mysql": "Access denied for user 'workato'@'10.20.4.12' (using password: YES)",
    "snowflake": "Incorrect username or password was specified.",
    "jdbc": "Communications link failure: on-prem agent 'opa-dc1' is offline",
    "sftp": "Authentication failed: publickey denied",
    "salesforce": "invalid_grant: expired access/refresh token",
    "netsuite": "Invalid login attempt. Token-based authentication failed (InvalidSignature)",
}
_GENERIC_AUTH_ERRORS = (
    "401 Unauthorized: invalid_client",
    "invalid_grant: refresh token has been revoked",
    "403 Forbidden: the integration user is deactivated",
    "SSL_connect returned=1 errno=0 state=error: certificate verify failed",
)
_LOST_REASONS = (
    "Refresh token expired", "Password expired for the integration user",
    "On-prem agent disconnected", "OAuth token revoked in the target application",
    "API access disabled for this user",
)

_PROJECTS = (  # (name, abbreviation, description, sub-folder names)
    ("Sales Operations", "SO", "Lead-to-cash automations owned by Sales Ops.",
     ("Quote to Cash", "Lead Management", "Opportunity Sync", "CPQ", "Territory Management",
      "Commissions")),
    ("Finance", "FIN", "Close, AP/AR and revenue integrations.",
     ("Close", "Accounts Payable", "Accounts Receivable", "Revenue Recognition", "Expenses",
      "Treasury")),
    ("HR", "HR", "People systems: Workday, onboarding and offboarding.",
     ("HR Onboarding", "Offboarding", "Payroll", "Benefits", "Recruiting", "Org Changes")),
    ("IT Service Management", "ITSM", "ServiceNow and identity automations.",
     ("Incident Management", "Access Requests", "Asset Management", "Change Management",
      "Identity")),
    ("Customer Support", "CS", None, ("Ticket Routing", "Escalations", "CSAT", "Knowledge Base")),
    ("Marketing", "MKT", "Campaign and lead flows between Marketo, HubSpot and Salesforce.",
     ("Campaigns", "Lead Scoring", "Events", "Web Forms")),
    ("Data Platform", "DATA", "Loads into and out of the warehouse.",
     ("Ingestion", "Reverse ETL", "Data Quality", "Exports")),
    ("Procurement", "P2P", "Procure-to-pay: Coupa, NetSuite, suppliers.",
     ("Purchase Orders", "Supplier Onboarding", "Invoices", "Contracts")),
    ("Security", "SEC", None, ("Alerts", "Access Reviews", "Audit")),
    ("Shared Services", "SHR", "Reusable functions, notifications and error handling.",
     ("Utilities", "Error Handling", "Notifications", "Callable Recipes")),
    ("Supply Chain", "SCM", None, ("Orders", "Shipments", "Inventory", "Returns")),
    ("Legal", "LGL", None, ("Contracts", "NDAs", "Matter Intake")),
    ("Customer Success", "CSM", "Health scores and renewals.",
     ("Renewals", "Health Scores", "Onboarding")),
    ("Platform Ops", "OPS", "Monitoring of the Workato workspace itself.",
     ("Monitoring", "CICD", "Housekeeping")),
)
_GENERIC_FOLDERS = (
    "Inbound", "Outbound", "Functions", "Utilities", "Error Handling", "Archive", "Legacy",
    "Schedulers", "Webhooks", "Batch", "Real-time", "v2", "Deprecated", "Reports", "Sync",
    "Lookups", "Backfill", "Migration", "Monitoring", "Sandbox testing",
)
_FUNCTION_FOLDERS = {"Functions", "Callable Recipes", "Utilities"}

_AUTHORS = (
    "Priya Natarajan", "Marcus Chen", "Sofia Alvarez", "Tom Becker", "Aisha Okafor",
    "Daniel Kim", "Lena Fischer", "Raj Patel", "Emily Turner", "Kenji Watanabe",
    "Olivia Brown", "Mateo Rossi",
)
_VERSION_COMMENTS = (
    "Fix mapping for currency field", "Added retry on timeout",
    "Switch to production connection", "Handle empty results", "Performance: batch inserts",
    "Initial version", "Hotfix INC0012345",
)
_LOOKUP_TABLES = (
    "Country codes", "Cost center mapping", "Subsidiary mapping", "Product SKU map",
    "Error codes", "Slack channel routing", "Region to owner", "Currency codes",
    "Department mapping", "Integration settings", "Sales territory map", "Payment terms",
)
_TOPICS = (
    "Order events", "Customer updates", "Employee changes", "Invoice posted",
    "Ticket escalations", "Inventory levels", "Payment received", "Account merged",
    "Contract signed", "Shipment status",
)
_HTTP_ENDPOINTS = (
    ("POST", "https://api.fedex.com/track/v1/trackingnumbers"),
    ("POST", "https://api.avalara.com/api/v2/transactions/create"),
    ("GET", "https://api.exchangerate.host/latest?base=USD"),
    ("GET", "https://api.acme-corp.com/v1/customers/{id}"),
    ("POST", "https://api.acme-corp.com/v1/orders"),
    ("GET", "https://api.partnerhub.io/v2/partners"),
    ("PUT", "https://api.partnerhub.io/v2/partners/{id}"),
    ("POST", "https://api.docebo.com/learn/v1/enrollments"),
    ("GET", "https://api.shipbob.com/1.0/shipment/{id}"),
    ("PATCH", "https://api.acme-corp.com/v1/accounts/{id}"),
)
_FIELDS = (
    "Name", "Email", "Status", "Amount", "External_Id__c", "Description", "OwnerId",
    "CloseDate", "Phone", "Country", "Currency", "AccountNumber", "Title", "Department",
)
_PARAMS = (
    "email", "account_id", "external_id", "employee_id", "order_number", "invoice_id",
    "record_id", "start_date", "end_date", "payload", "customer_number", "ticket_id",
)
_RESULTS = ("id", "status", "message", "found", "record", "url")
_OPERANDS = (  # frequency order seen in ~430 real recipes (reference §3.3)
    ("equals_to", 20), ("present", 16), ("greater_than", 8), ("is_true", 8),
    ("is_not_true", 5), ("blank", 5), ("not_equals_to", 5), ("contains", 4),
    ("not_contains", 1), ("less_than", 1), ("ends_with", 1),
)
_VERBS = {
    "create": "Create", "add": "Create", "insert": "Insert", "upsert": "Upsert",
    "update": "Update", "search": "Search", "get": "Get", "run": "Run", "execute": "Run",
    "export": "Export", "post": "Notify", "send": "Send", "upload": "Upload",
    "download": "Download", "call": "Call", "select": "Query", "publish": "Publish",
    "list": "List", "delete": "Delete", "move": "Move", "deactivate": "Deactivate",
    "resolve": "Resolve",
}
# fmt: on
_NO_RHS = {"present", "blank", "is_true", "is_not_true"}
_OPERAND_NAMES = [o for o, _ in _OPERANDS]
_OPERAND_CUM = [float(sum(w for _, w in _OPERANDS[: i + 1])) for i in range(len(_OPERANDS))]


# ---------------------------------------------------------------------------- stats


@dataclass(frozen=True)
class WorkspaceStats:
    """What a workspace holds, derived from the workspace itself by :func:`describe`.

    ``calls`` counts call steps (``call_recipe``/``call_recipe_async``) whose ``flow_id`` is a
    recipe id; ``dynamic_calls`` those whose ``flow_id`` is a formula; ``call_cycles`` the
    strongly connected groups of the recipe call graph with more than one recipe (or a
    recipe calling itself) — the cycles the generator seeds.
    """

    recipes: int
    running: int
    stopped_by_user: int
    stopped_by_workato: int
    never_run: int
    steps: int
    connections: int
    used_connections: int
    unused_connections: int
    failed_connections: int
    lost_connections: int
    providers: int
    folders: int
    projects: int
    max_folder_depth: int
    callable_recipes: int
    calls: int
    dynamic_calls: int
    call_cycles: int
    topics: int
    publishers: int
    subscribers: int
    http_steps: int
    lookup_steps: int
    webhook_recipes: int
    secondary_connections: int


def describe(ws: Workspace) -> WorkspaceStats:
    """Count recipes, connections, folders, calls, cycles... in any workspace."""
    with ws.lock:
        recipes = list(ws.recipes.values())
        used: set[int] = set()
        edges: dict[int, set[int]] = {}
        calls = dynamic = http = lookups = steps = secondary = 0
        publishers: set[int] = set()
        subscribers: set[int] = set()
        topics: set[str] = set()
        callable_ids: set[int] = set()
        for recipe in recipes:
            for entry in recipe.config:
                if entry.get("account_id") is not None:
                    used.add(entry["account_id"])
                if entry["provider"].endswith("_secondary"):
                    secondary += 1
            code = recipe.code
            if code.get("provider") == "workato_recipe_function" and code.get("name") == "execute":
                callable_ids.add(recipe.id)
            for block in iter_blocks(code):
                steps += 1
                provider, name = block.get("provider"), block.get("name")
                inp = block.get("input") or {}
                if provider == "workato_recipe_function" and name in (
                    "call_recipe",
                    "call_recipe_async",
                ):
                    flow = inp.get("flow_id")
                    if isinstance(flow, str) and flow.isdigit():
                        calls += 1
                        edges.setdefault(recipe.id, set()).add(int(flow))
                    else:
                        dynamic += 1
                elif provider == "workato_pub_sub":
                    topics.add(str(inp.get("topic_id")))
                    if name == "publish_to_topic":
                        publishers.add(recipe.id)
                    else:
                        subscribers.add(recipe.id)
                elif provider == "rest":
                    http += 1
                elif provider == "lookup_table":
                    lookups += 1
        depth = 0
        for fid in ws.folders:
            if fid != ws.root_folder_id:
                depth = max(depth, len(ws.ancestors(fid)))
        return WorkspaceStats(
            recipes=len(recipes),
            running=sum(r.running for r in recipes),
            stopped_by_user=sum(1 for r in recipes if not r.running and r.stop_cause is None),
            stopped_by_workato=sum(1 for r in recipes if r.stop_cause is not None),
            never_run=sum(1 for r in recipes if r.last_run_at is None),
            steps=steps,
            connections=len(ws.connections),
            used_connections=len(used & set(ws.connections)),
            unused_connections=len(set(ws.connections) - used),
            failed_connections=sum(
                1 for c in ws.connections.values() if c.authorization_status == "failed"
            ),
            lost_connections=sum(
                1 for c in ws.connections.values() if c.connection_lost_at is not None
            ),
            providers=len({c.application for c in ws.connections.values()}),
            folders=len(ws.folders) - 1,
            projects=len(ws.projects),
            max_folder_depth=depth,
            callable_recipes=len(callable_ids),
            calls=calls,
            dynamic_calls=dynamic,
            call_cycles=_count_cycles(edges),
            topics=len(topics),
            publishers=len(publishers),
            subscribers=len(subscribers),
            http_steps=http,
            lookup_steps=lookups,
            webhook_recipes=sum(1 for r in recipes if r.webhook_url),
            secondary_connections=secondary,
        )


def _count_cycles(edges: dict[int, set[int]]) -> int:
    """Strongly connected components with a cycle (iterative Tarjan)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    counter = 0
    cycles = 0
    for start in sorted(edges):
        if start in index:
            continue
        work: list[tuple[int, Iterator[int]]] = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                if len(members) > 1 or node in edges.get(node, ()):
                    cycles += 1
    return cycles


# ---------------------------------------------------------------------------- helpers


def _dp(payload: dict[str, Any]) -> str:
    """A datapill in Workato's interpolation form ``#{_dp('{...}')}``."""
    return "#{_dp('" + json.dumps(payload, separators=(",", ":")) + "')}"


_CURRENT_ITEM = '{"path_element_type":"current_item"}'


def _out(provider: str, line: str, path: list[Any]) -> str:
    """An output datapill, the same text ``_dp`` gives, without json.dumps on the hot path.

    Only for names without quotes or backslashes (all generated names are plain).
    """
    parts = ",".join(_CURRENT_ITEM if isinstance(p, dict) else '"' + p + '"' for p in path)
    return (
        '#{_dp(\'{"pill_type":"output","provider":"'
        + provider
        + '","line":"'
        + line
        + '","path":['
        + parts
        + "]}')}"
    )


def _uuid4(rng: random.Random) -> str:
    """``str(uuid.UUID(int=rng.getrandbits(128), version=4))``, about three times faster."""
    n = rng.getrandbits(128)
    n = (n & ~(0xC000 << 48) | (0x8000 << 48)) & ~(0xF000 << 64) | (4 << 76)
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _formula(payload: dict[str, Any], tail: str) -> str:
    """A formula-mode value: ``=_dp('{...}')<tail>``."""
    return "=_dp('" + json.dumps(payload, separators=(",", ":")) + "')" + tail


def _verb(op: str) -> str:
    return _VERBS.get(op.split("_")[0], op.split("_")[0].capitalize())


def _human(obj: str) -> str:
    """A readable object name: ``salesOrder`` -> ``Sales order``, ``dbo.Orders`` -> ``Orders``,
    ``u_oracle_cost_centers`` -> ``Oracle cost centers``, ``#sales-ops`` -> ``Sales ops``."""
    text = obj.rsplit(" : ", 1)[-1].rsplit(".", 1)[-1].rsplit("/", 1)[-1].strip("#")
    if text.startswith("u_"):
        text = text[2:]
    if not text:
        return ""
    if "_" in text or "-" in text or text.isupper() or text.islower():
        words = [w for w in text.replace("-", "_").split("_") if w]
        result = " ".join(words).lower()
    else:
        chars = []
        for i, ch in enumerate(text):
            if ch.isupper() and i and text[i - 1].islower():
                chars.append(" " + ch.lower())
            else:
                chars.append(ch)
        result = "".join(chars)
    return result[:1].upper() + result[1:]


_FAMILY_NOUNS = {
    "chat": "Message",
    "mail": "Email",
    "file": "File",
    "stream": "Message",
    "http": "Request",
}


def _noun(provider: str, obj: str) -> str:
    """What a step works on, for names: ``Opportunity``, ``Orders``, ``Email``, ``File``."""
    family = _APPS[provider].family if provider in _APPS else "app"
    if family in _FAMILY_NOUNS:
        return _FAMILY_NOUNS[family]
    return _human(obj) or "Record"


def _plural(word: str) -> str:
    if word.endswith("s") or word[-1:].isdigit():
        return word
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "o", "u"):
        return word[:-1] + "ies"
    return word + "s"


def _event(op: str) -> str:
    if "deleted" in op:
        return "deleted"
    if "new_updated" in op or "new_or_updated" in op:
        return "created or updated"
    if op.startswith("updated"):
        return "updated"
    if "scheduled" in op or "batch" in op:
        return "changed"
    return "created"


@dataclass
class _Conn:
    id: int
    provider: str
    project: int | None
    created: datetime


@dataclass
class _Plan:
    index: int
    id: int
    kind: str
    folder_id: int
    project_id: int | None
    created: datetime
    source: tuple[str, str, str] | None = None  # (provider, trigger op, object)
    target: tuple[str, str, str] | None = None  # (provider, action op, object)
    name: str = ""
    params: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    calls: tuple[int, ...] = ()
    dynamic_call: bool = False
    publish: tuple[str, str] | None = None
    subscribe: tuple[str, str] | None = None
    secondary: str | None = None
    webhook_suffix: str | None = None


# ---------------------------------------------------------------------------- generator


class _Rng(random.Random):
    """``random.Random`` seeded as usual, with cheaper ``choice``/``randint``.

    The generator draws a few hundred thousand numbers for 5,000 recipes; the stock methods'
    rejection sampling costs more than everything else. Same determinism, same seed handling.
    """

    def choice(self, seq: Any) -> Any:  # type: ignore[override]
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def sample(self, population: Any, k: int, *, counts: Any = None) -> list[Any]:
        if counts is not None or not 0 <= k <= len(population):
            return super().sample(population, k, counts=counts)
        pool = list(population)
        n = len(pool)
        for i in range(k):  # partial Fisher-Yates
            j = i + int(self.random() * (n - i))
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:k]


def history_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """``(start, end)`` of generated history: ``end`` is ``now`` (default: the current time)
    truncated to the day in UTC, ``start`` is ``SPAN_DAYS`` days before it. Every generated
    timestamp lies in it. Naive datetimes are taken as UTC."""
    moment = now or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    end = moment.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return end - timedelta(days=SPAN_DAYS), end


def generate_workspace(
    seed: int,
    recipes: int = 300,
    connections: int | None = None,
    folders: int | None = None,
    *,
    name: str = "Main Workspace",
    now: datetime | None = None,
) -> Workspace:
    """Build a realistic Workato workspace, identical for identical arguments.

    Args:
        seed: seeds the only source of randomness, ``random.Random(seed)``.
        recipes: number of recipes, 0..5,000 (the generator's cap; more raises ``ValueError``).
        connections: number of connections; default ``max(10, recipes // 4)``.
        folders: number of folders below Home, project folders included; default
            ``max(5, recipes // 8)``. Must be at least 1.
        name: the workspace name (``GET /api/users/me``).
        now: the reference day (see :func:`history_window`); default today. Tests pin it.
    """
    if recipes < 0 or recipes > MAX_RECIPES:
        raise ValueError(f"recipes must be between 0 and {MAX_RECIPES} (the generator's cap)")
    connections = max(10, recipes // 4) if connections is None else connections
    folders = max(5, recipes // 8) if folders is None else folders
    if connections < 0:
        raise ValueError("connections must not be negative")
    if folders < 1:
        raise ValueError("folders must be at least 1 (projects are folders)")
    # Building ~1M small containers triggers many full collections of a heap that only grows;
    # pausing the cyclic collector cuts generation time by a quarter. Nothing built here is
    # cyclic garbage, and the collector's previous state is restored.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        start, end = history_window(now)
        return _Generator(seed, recipes, connections, folders, name, start, end).run()
    finally:
        if was_enabled:
            gc.enable()


class _Generator:
    def __init__(
        self,
        seed: int,
        recipes: int,
        connections: int,
        folders: int,
        name: str,
        start: datetime,
        end: datetime,
    ):
        self.rng = _Rng(seed)
        self.start, self.end = start, end
        self.n_recipes = recipes
        self.n_connections = connections
        self.n_folders = folders
        self.ws = Workspace(name=name)
        self.max_ts = self.ws.created_at
        self.project_folders: dict[int, int] = {}  # project id -> project folder id
        self.connections_folder: dict[int, int] = {}  # project id -> "Connections" folder
        self.recipe_folders: list[int] = []
        self.recipe_folder_weights: list[float] = []
        self.function_folders: list[int] = []
        self.usable: dict[str, list[_Conn]] = {}
        self.usable_created: dict[str, list[datetime]] = {}
        self.usable_local: dict[tuple[str, int], tuple[list[_Conn], list[datetime]]] = {}
        self.tag_pool = [self._tag() for _ in range(8)]

    # ------------------------------------------------------------------ small utilities
    def ts(self, start: datetime, end: datetime) -> datetime:
        """A random millisecond-precision instant in [start, end]."""
        span = max(0, int((end - start).total_seconds() * 1000))
        return start + timedelta(milliseconds=self.rng.randint(0, span))

    def note(self, *values: datetime | None) -> None:
        for value in values:
            if value is not None and value > self.max_ts:
                self.max_ts = value

    def _tag(self) -> str:
        chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return (
            "tag-"
            + "".join(self.rng.choice(chars) for _ in range(8))
            + "-"
            + "".join(self.rng.choice(chars) for _ in range(6))
        )

    def run(self) -> Workspace:
        self.build_folders()
        self.build_connections()
        self.build_recipes()
        self.ws.note_time(self.max_ts)
        return self.ws

    # ------------------------------------------------------------------ folders
    def build_folders(self) -> None:
        rng, ws = self.rng, self.ws
        n = self.n_folders
        n_projects = min(len(_PROJECTS), n, max(2, round(n / 7)))
        chosen = sorted(rng.sample(range(len(_PROJECTS)), n_projects))
        # Folders get planned, increasing instants so their timestamps are deterministic like
        # everything else. Folders all exist within _SETUP_DAYS, before any connection or
        # recipe is created in them.
        step_ms = max(1, int(_SETUP_DAYS * _MS_PER_DAY / max(n, 1)))
        clock = {"t": self.start}

        def tick() -> datetime:
            clock["t"] = clock["t"] + timedelta(milliseconds=rng.randint(1, step_ms))
            self.note(clock["t"])
            return clock["t"]

        # (folder id, depth below Home, index into _PROJECTS)
        nodes: list[tuple[int, int, int]] = []
        children: dict[int, set[str]] = {}
        for pi in chosen:
            pname, _abbr, desc, _subs = _PROJECTS[pi]
            project = ws.add_project(pname, desc, created_at=tick())
            self.project_folders[project.id] = project.folder_id
            nodes.append((project.folder_id, 1, pi))
            children[project.folder_id] = set()
            self.recipe_folders.append(project.folder_id)
            self.recipe_folder_weights.append(1.0)
        budget = n - n_projects
        for pid, fid in list(self.project_folders.items()):
            if budget <= 0:
                break
            if fid != nodes[0][0] and rng.random() < 0.15:
                continue
            folder = ws.add_folder("Connections", fid, created_at=tick())
            self.connections_folder[pid] = folder.id
            children[fid].add("Connections")
            budget -= 1

        def add(parent: tuple[int, int, int]) -> tuple[int, int, int]:
            pid, depth, pi = parent
            pool = _PROJECTS[pi][3] if depth == 1 else _GENERIC_FOLDERS
            taken = children[pid]
            free = [x for x in pool if x not in taken]
            if not free:
                free = [x for x in _GENERIC_FOLDERS if x not in taken]
            base = rng.choice(free) if free else rng.choice(pool)
            label, k = base, 2
            while label in taken:
                label, k = f"{base} {k}", k + 1
            taken.add(label)
            folder = ws.add_folder(label, pid, created_at=tick())
            children[folder.id] = set()
            node = (folder.id, depth + 1, pi)
            self.recipe_folders.append(folder.id)
            self.recipe_folder_weights.append(2.0 if depth + 1 <= 3 else 1.0)
            if label.split(" ")[0] in _FUNCTION_FOLDERS or label in _FUNCTION_FOLDERS:
                self.function_folders.append(folder.id)
            return node

        # One deep branch (Home/Project/a/b/c) whenever the budget allows.
        deep = nodes[0]
        while budget > 0 and deep[1] < 4:
            deep = add(deep)
            nodes.append(deep)
            budget -= 1
        while budget > 0:
            eligible = [x for x in nodes if x[1] < 4]
            weights = [4.0 if x[1] == 1 else 2.0 if x[1] == 2 else 1.0 for x in eligible]
            parent = rng.choices(eligible, weights)[0]
            nodes.append(add(parent))
            budget -= 1

    # ------------------------------------------------------------------ connections
    def build_connections(self) -> None:
        rng, ws = self.rng, self.ws
        n = self.n_connections
        providers = list(CONNECTION_PROVIDERS)
        weights = [_APPS[p].weight for p in providers]
        if n >= len(providers):
            apps = providers[:]
            apps += rng.choices(providers, weights, k=n - len(providers))
        else:
            # weighted sampling without replacement (Efraimidis-Spirakis keys)
            keyed = sorted(providers, key=lambda p: -(rng.random() ** (1.0 / _APPS[p].weight)))
            apps = keyed[:n]
        rng.shuffle(apps)
        created = sorted(
            self.ts(
                self.start + timedelta(days=_SETUP_DAYS + 1),
                self.start + timedelta(days=SPAN_DAYS * 0.85),
            )
            for _ in range(n)
        )
        project_ids = sorted(self.project_folders)
        n_unused = 0 if n < 2 else max(1, round(n * rng.uniform(0.08, 0.14)))
        # Leave one connection of the workhorse apps in use so recipes can always reach them.
        protected = {apps.index(a) for a in _WORKHORSES if a in apps}
        candidates = [i for i in range(n) if i not in protected]
        unused = set(rng.sample(candidates, min(n_unused, len(candidates))))
        names: set[str] = set()
        next_id = 5000 + rng.randint(100, 900)
        for i, app in enumerate(apps):
            next_id += rng.randint(1, 60)
            env = rng.choices(_ENVIRONMENTS, [e[0] for e in _ENVIRONMENTS])[0]
            label = self.connection_name(app, env)
            for _ in range(6):  # people pick another name rather than "(2)" most of the time
                if label not in names:
                    break
                label = self.connection_name(app, env)
            if label in names:
                label = f"{label} ({rng.choice(_REGIONS)})"
            base, k = label, 2
            while label in names:
                label, k = f"{base} {k}", k + 1
            names.add(label)
            r = rng.random()
            project_id = rng.choice(project_ids)
            if r < 0.8 and project_id in self.connections_folder:
                folder_id = self.connections_folder[project_id]
            elif r < 0.9:
                folder_id = self.project_folders[project_id]
            else:
                folder_id, project_id = ws.root_folder_id, None
            created_at = created[i]
            updated_at = self.ts(created_at, min(self.end, created_at + timedelta(days=400)))
            fields: dict[str, Any] = {
                "id": next_id,
                "created_at": created_at,
                "updated_at": updated_at,
                "authorized_at": self.ts(created_at, updated_at),
            }
            roll = rng.random()
            if roll < 0.07:
                fields["authorization_status"] = "failed"
                fields["authorization_error"] = _AUTH_ERRORS.get(app) or rng.choice(
                    _GENERIC_AUTH_ERRORS
                )
                if rng.random() < 0.4:
                    fields["authorized_at"] = None
            elif roll < 0.11:
                lost = self.ts(updated_at, self.end)
                fields["connection_lost_at"] = lost
                fields["connection_lost_reason"] = rng.choice(_LOST_REASONS)
                fields["updated_at"] = lost
                self.note(lost)
            if rng.random() < 0.1:
                fields["tags"] = rng.sample(self.tag_pool, rng.randint(1, 2))
            if rng.random() < 0.15:
                fields["description"] = rng.choice(
                    (
                        f"Integration user: svc_workato@{_APPS[app].slug}.acme.com",
                        "Owned by Integration CoE. Rotate credentials quarterly.",
                        "Read-only service account",
                        "Legacy basic-auth connection - do not use for new recipes",
                    )
                )
            self.note(fields["updated_at"])
            conn = ws.add_connection(app, label, folder_id, **fields)
            if i not in unused:
                self.usable.setdefault(app, []).append(_Conn(conn.id, app, project_id, created_at))
        for app, conns in self.usable.items():
            self.usable_created[app] = [c.created for c in conns]
            for project_id in {c.project for c in conns if c.project is not None}:
                local = [c for c in conns if c.project == project_id]
                self.usable_local[(app, project_id)] = (local, [c.created for c in local])

    def connection_name(self, app: str, env: tuple[int, str, str, str]) -> str:
        rng = self.rng
        spec = _APPS[app]
        _, long, upper, lower = env
        style = rng.randrange(11)
        if style == 9:
            return f"{spec.label} {upper} - {rng.choice(_DEPARTMENTS)}"
        if style == 10:
            return f"{spec.slug}-{rng.choice(_TEAMS)}-{lower}"
        if style == 0:
            return f"ACME {long} {spec.label}"
        if style == 1:
            return f"{spec.label} - {long}"
        if style == 2:
            return f"{spec.slug}_{rng.choice(_TEAMS)}_{lower}"
        if style == 3:
            return f"[{rng.choice(_DEPARTMENTS)}] {spec.label} {upper}"
        if style == 4:
            return f"{spec.label} {upper}"
        if style == 5:
            return f"CON | {spec.label} | {upper}"
        if style == 6:
            return f"{spec.label} ({rng.choice(_DEPARTMENTS)} integration user)"
        if style == 7:
            return f"{spec.label} {long} connection"
        return f"{rng.choice(_TEAMS).upper()}_{spec.slug.upper()}_{upper}"

    def pick_connection(self, provider: str, plan: _Plan, exclude: int | None = None) -> int:
        """A usable connection of ``provider`` for a recipe: created before the recipe when
        possible, usually from the recipe's own project, never ``exclude``."""
        rng = self.rng
        conns, created = self.usable[provider], self.usable_created[provider]
        if plan.project_id is not None and rng.random() < 0.75:
            local = self.usable_local.get((provider, plan.project_id))
            if local and (exclude is None or len(local[0]) > 1):
                conns, created = local
        k = bisect_right(created, plan.created) or 1
        for _ in range(8):
            pick = conns[int(rng.random() * k)].id
            if pick != exclude:
                return pick
        return next(c.id for c in self.usable[provider] if c.id != exclude)

    # ------------------------------------------------------------------ recipes
    def build_recipes(self) -> None:
        rng = self.rng
        n = self.n_recipes
        if n == 0:
            return
        trig = [p for p in self.usable if _APPS[p].triggers]
        acts = [p for p in self.usable if _APPS[p].actions]
        self.trigger_providers = trig
        self.trigger_cum = _cum([_APPS[p].weight for p in trig])
        self.action_providers = acts
        self.action_cum = _cum([_APPS[p].weight for p in acts])
        search_providers = [p for p in acts if any(_is_search(op) for op in _APPS[p].actions)]
        self.search_providers = search_providers
        self.search_cum = _cum([_APPS[p].weight for p in search_providers])
        self.has_rest = "rest" in self.usable
        chat = [p for p in ("slack", "slack_bot", "teams_bot") if p in self.usable]
        self.chat_providers = chat

        plans = self.plan_recipes()
        lookup_ids = rng.sample(range(1200, 9800), len(_LOOKUP_TABLES))
        self.lookup_tables = list(zip([str(i) for i in lookup_ids], _LOOKUP_TABLES))
        self.lookup_tables = self.lookup_tables[: max(3, min(len(_LOOKUP_TABLES), n // 25))]
        self.data_tables = [
            (str(rng.randint(100, 999)), name)
            for name in ("Job reprocess queue", "Sync watermark", "Error log")
        ]
        names: set[str] = set()
        for plan in plans:
            base, k = plan.name, 2
            while plan.name in names:
                plan.name = f"{base} (copy)" if k == 2 else f"{base} (copy {k - 1})"
                k += 1
            names.add(plan.name)
        by_index = {p.index: p for p in plans}
        for plan in plans:
            builder = _RecipeBuilder(self, plan, by_index)
            code = builder.build()
            steps = renumber(code)
            config = builder.config(code)
            self.add_recipe(plan, code, config, steps)

    def plan_recipes(self) -> list[_Plan]:
        rng = self.rng
        n = self.n_recipes
        n_fn = round(n * 0.12)
        if n >= 20:
            n_fn = max(n_fn, 5)
        elif n >= 4:
            n_fn = max(n_fn, 1)
        n_topics = 0 if n < 10 else max(1, n // 80)
        n_subs = max(n_topics, round(n * 0.04)) if n_topics else 0
        n_pubs = max(n_topics, round(n * 0.05)) if n_topics else 0
        n_web = round(n * 0.09)
        n_api = round(n * 0.03)
        n_sched = round(n * 0.2)
        kinds = (
            ["function"] * n_fn
            + ["subscriber"] * n_subs
            + ["webhook"] * n_web
            + ["api"] * n_api
            + ["schedule"] * n_sched
        )[:n]
        kinds += ["app"] * (n - len(kinds))
        order = list(range(n))
        rng.shuffle(order)
        kind_of = {order[i]: kinds[i] for i in range(n)}
        if not self.trigger_providers:
            for i, kind in kind_of.items():
                if kind == "app":
                    kind_of[i] = rng.choice(("schedule", "webhook"))

        created = sorted(
            self.ts(self.start + timedelta(days=_SETUP_DAYS + 1), self.end - timedelta(days=5))
            for _ in range(n)
        )
        plans: list[_Plan] = []
        next_id = 10_000 + rng.randint(1000, 90_000)
        function_folders = self.function_folders
        for i in range(n):
            next_id += rng.randint(1, 40)
            kind = kind_of[i]
            if kind == "function" and function_folders and rng.random() < 0.5:
                folder_id = rng.choice(function_folders)
            elif rng.random() < 0.03:
                folder_id = self.ws.root_folder_id
            else:
                folder_id = rng.choices(self.recipe_folders, self.recipe_folder_weights)[0]
            plan = _Plan(
                index=i,
                id=next_id,
                kind=kind,
                folder_id=folder_id,
                project_id=self.ws.folders[folder_id].project_id,
                created=created[i],
            )
            self.plan_endpoints(plan)
            plans.append(plan)

        # ---- recipe functions: seeded cycles, a chain, a DAG of helper calls
        functions = [p for p in plans if p.kind == "function"]
        rng.shuffle(functions)
        calls: dict[int, list[int]] = {}
        pos = 0
        if n >= 20:
            n_cycles = 1 + n // 1500
            for c in range(n_cycles):
                size = 2 if c % 2 == 0 else 3
                if pos + size > len(functions):
                    break
                members = functions[pos : pos + size]
                for a, b in zip(members, members[1:] + members[:1]):
                    calls.setdefault(a.index, []).append(b.index)
                pos += size
        rest_fns = functions[pos:]
        if len(rest_fns) >= 3:  # an explicit chain f1 -> f2 -> f3
            calls.setdefault(rest_fns[0].index, []).append(rest_fns[1].index)
            calls.setdefault(rest_fns[1].index, []).append(rest_fns[2].index)
        for k, fn in enumerate(rest_fns[:-1]):
            if k > 1 and rng.random() < 0.2:
                callee = rng.choice(rest_fns[k + 1 :])
                calls.setdefault(fn.index, []).append(callee.index)
        if functions:
            popularity = _cum([1.0 / (r + 1) for r in range(len(functions))])
            others = [p for p in plans if p.kind != "function"]
            for p in others:
                if rng.random() < 0.2:
                    k = 1 if rng.random() < 0.8 else rng.randint(2, 3)
                    picked = rng.choices(functions, cum_weights=popularity, k=k)
                    calls[p.index] = sorted({f.index for f in picked})
            if n >= 20 and others:
                for p in rng.sample(others, min(len(others), max(1, n // 100))):
                    p.dynamic_call = True
        for index, callees in calls.items():
            plans[index].calls = tuple(callees)

        # ---- pub/sub topics: every topic gets at least one publisher and one subscriber
        if n_topics:
            topic_ids = rng.sample(range(30_000, 60_000), n_topics)
            topics = [
                (str(tid), _TOPICS[t % len(_TOPICS)] + ("" if t < len(_TOPICS) else f" {t}"))
                for t, tid in enumerate(topic_ids)
            ]
            subs = [p for p in plans if p.kind == "subscriber"]
            for k, p in enumerate(subs):
                p.subscribe = topics[k % len(topics)] if k < len(topics) else rng.choice(topics)
            pool = [p for p in plans if p.kind in ("app", "schedule", "webhook")]
            for k, p in enumerate(rng.sample(pool, min(len(pool), n_pubs))):
                p.publish = topics[k % len(topics)] if k < len(topics) else rng.choice(topics)

        # ---- two connections of one app in a recipe (prod -> sandbox copies etc.)
        multi = [
            a for a, conns in self.usable.items() if len(conns) >= 2 and _APPS[a].family != "http"
        ]
        if multi:
            for p in plans:
                if p.kind in ("app", "schedule") and rng.random() < 0.05:
                    p.secondary = rng.choice(multi)

        for p in plans:
            p.name = self.recipe_name(p)
        return plans

    def plan_endpoints(self, plan: _Plan) -> None:
        """Pick the trigger source and the main target action of a recipe."""
        rng = self.rng
        if plan.kind == "app":
            prov = self.trigger_providers[_pick(rng, self.trigger_cum)]
            spec = _APPS[prov]
            plan.source = (prov, rng.choice(spec.triggers), _obj(rng, spec))
        elif plan.kind == "schedule" and self.search_providers:
            prov = self.search_providers[_pick(rng, self.search_cum)]
            spec = _APPS[prov]
            op = rng.choice([a for a in spec.actions if _is_search(a)])
            plan.source = (prov, op, _obj(rng, spec))
        if self.action_providers:
            for _ in range(4):
                prov = self.action_providers[_pick(rng, self.action_cum)]
                if plan.source is None or prov != plan.source[0] or rng.random() < 0.1:
                    break
            spec = _APPS[prov]
            writes = [a for a in spec.actions if not _is_search(a)] or list(spec.actions)
            op = rng.choice(writes if plan.kind != "api" else spec.actions)
            plan.target = (prov, op, _obj(rng, spec))
        if plan.kind == "function":
            plan.params = tuple(rng.sample(_PARAMS, rng.randint(1, 3)))
            plan.results = tuple(rng.sample(_RESULTS, rng.randint(1, 3)))
        if plan.kind == "webhook":
            plan.webhook_suffix = rng.choice(
                (
                    "order-status",
                    "new-signup",
                    "shipment-update",
                    "payment-callback",
                    "case-groups-reprocess",
                    "partner-event",
                    "form-submission",
                )
            ) + ("" if rng.random() < 0.6 else f"-{rng.randint(2, 9)}")

    def recipe_name(self, p: _Plan) -> str:
        rng = self.rng
        abbr = self._project_abbr(p.project_id)
        tgt_label = tgt_obj = tgt_verb = tgt_slug = ""
        if p.target:
            tspec = _APPS[p.target[0]]
            tgt_label, tgt_slug = tspec.label, tspec.slug
            tgt_obj = _noun(p.target[0], p.target[2])
            tgt_verb = _verb(p.target[1])
        else:
            tgt_label, tgt_slug, tgt_obj, tgt_verb = "Workato", "wk", "record", "Process"
        style = rng.randrange(5)
        if p.kind == "function":
            options = (
                f"FUNC | {tgt_label} | {tgt_verb} {tgt_obj}",
                f"[FUNCTION] {tgt_verb} {tgt_obj.lower()} in {tgt_label}",
                f"{abbr.lower()}_func_{tgt_verb.lower()}_{_snake(tgt_obj)}_{tgt_slug}",
                f"Utility - {tgt_verb} {tgt_label} {tgt_obj.lower()}",
                f"{abbr} | FX | {tgt_verb} {tgt_obj} by {p.params[0].replace('_', ' ')}",
            )
        elif p.kind == "subscriber":
            topic = p.subscribe[1] if p.subscribe else "events"
            options = (
                f"Subscriber | {topic} → {tgt_label}",
                f"On {topic.lower()}: {tgt_verb.lower()} {tgt_label} {tgt_obj.lower()}",
                f"{abbr}_sub_{_snake(topic)}_{tgt_slug}",
                f"[{abbr}] {topic} to {tgt_label}",
                f"Consume {topic.lower()} ({tgt_label})",
            )
        elif p.kind == "webhook":
            suffix = p.webhook_suffix or "event"
            options = (
                f"Webhook - {suffix.replace('-', ' ')} to {tgt_label}",
                f"[WEBHOOK] {tgt_obj} {suffix.split('-')[0]} handler",
                f"{abbr}_wh_{_snake(suffix)}",
                f"Inbound webhook: {suffix} → {tgt_label} {tgt_obj}",
                f"{abbr} | Webhook | {tgt_verb} {tgt_obj}",
            )
        elif p.kind == "api":
            options = (
                f"API | GET /{_plural(_snake(tgt_obj))}",
                f"API - {tgt_verb} {tgt_obj.lower()}",
                f"{abbr}_api_{_snake(tgt_obj)}_lookup",
                f"[API] {tgt_label} {tgt_obj} endpoint",
                f"REST endpoint: {tgt_verb.lower()} {tgt_obj.lower()}",
            )
        elif p.kind == "schedule":
            src_label = _APPS[p.source[0]].label if p.source else "Workato"
            src_obj = _plural(_noun(p.source[0], p.source[2])) if p.source else "Records"
            freq = rng.choice(("Daily", "Hourly", "Nightly", "Weekly", "Every 15 min"))
            options = (
                f"{freq} export of {src_obj.lower()} from {src_label} to {tgt_label}",
                f"Scheduled | {src_label} {src_obj} → {tgt_label}",
                f"{freq} {tgt_label} load - {src_obj}",
                f"{abbr.lower()}_sched_{_snake(src_obj)}_to_{tgt_slug}",
                f"[{abbr}] {freq} {src_obj.lower()} reconciliation",
            )
        else:
            src = _APPS[p.source[0]] if p.source else _APPS["salesforce"]
            src_obj = _noun(p.source[0], p.source[2]) if p.source else "Record"
            event = _event(p.source[1]) if p.source else "created"
            if src.family == "db":
                when = f"{src_obj} rows are {event}"
            else:
                when = f"{src_obj.lower()} is {event}"
            options = (
                f"{src.label} {src_obj} to {tgt_label} {tgt_obj}",
                f"[{abbr}] Sync {_plural(src_obj.lower())} from {src.label} to {tgt_label}",
                f"{src.slug.upper()} | {src_obj} | {tgt_verb} in {tgt_label}",
                f"When {when} in {src.label}, {tgt_verb.lower()} {tgt_obj.lower()} in {tgt_label}",
                f"{abbr.lower()}_{src.slug}_{_snake(src_obj)}_to_{tgt_slug}",
            )
        name = options[style]
        r = rng.random()
        if r < 0.03:
            name += " [DEPRECATED]"
        elif r < 0.05:
            name += " - v2"
        elif r < 0.06:
            name += " - DO NOT USE"
        elif r < 0.07:
            name += " TEST"
        return name[:255]

    def _project_abbr(self, project_id: int | None) -> str:
        if project_id is None:
            return "GEN"
        pname = self.ws.projects[project_id].name
        for entry in _PROJECTS:
            if entry[0] == pname:
                return entry[1]
        return "GEN"

    def add_recipe(
        self, plan: _Plan, code: dict[str, Any], config: list[dict[str, Any]], steps: int
    ) -> None:
        rng = self.rng
        created = plan.created
        updated = created + timedelta(seconds=rng.randint(5, 900))
        if rng.random() < 0.7:
            updated = self.ts(created, self.end)
        fields: dict[str, Any] = {
            "id": plan.id,
            "created_at": created,
            "version_no": 1 if updated - created < timedelta(hours=1) else rng.randint(2, 45),
            "author_name": rng.choice(_AUTHORS),
        }
        roll = rng.random()
        never_run = rng.random() < 0.08
        drafts = any(
            e["account_id"] is None and e["provider"] not in BUILTIN_PROVIDERS for e in config
        )
        if drafts:
            never_run = True
        running = roll < 0.75 and not drafts
        stop_cause = None
        stopped_at = None
        if not running:
            if roll >= 0.92 and not never_run:
                stop_cause = rng.choices(STOP_CAUSES, (60, 15, 5, 20))[0]
            stopped_at = self.ts(created, self.end)
            updated = max(updated, stopped_at)
        succeeded = failed = 0
        last_run = None
        if not never_run:
            succeeded = int(min(5_000_000, rng.lognormvariate(6.0, 2.0)))
            ratio = rng.uniform(0, 0.03)
            if stop_cause == "trigger_errors_limit" or rng.random() < 0.06:
                ratio = rng.uniform(0.4, 3.0)
            failed = int(succeeded * ratio) + (1 if stop_cause == "trigger_errors_limit" else 0)
            end = stopped_at if stopped_at else self.end
            quiet = timedelta(days=rng.choice((1, 1, 3, 30, 120)))
            last_run = self.ts(max(created, end - quiet), end)
        fields.update(
            updated_at=updated,
            running=running,
            stop_cause=stop_cause,
            stopped_at=stopped_at,
            last_run_at=last_run,
            job_succeeded_count=succeeded,
            job_failed_count=failed,
            lifetime_task_count=(succeeded + failed) * rng.randint(1, max(2, steps)),
            copy_count=0 if rng.random() < 0.9 else rng.randint(1, 4),
        )
        if plan.kind == "webhook":
            fields["webhook_url"] = (
                f"https://webhooks.workato.com/webhooks/rest/{_uuid4(rng)}/{plan.webhook_suffix}"
            )
        if fields["version_no"] > 1:
            author = rng.choice(_AUTHORS)
            fields["version_author_name"] = author
            fields["version_author_email"] = author.lower().replace(" ", ".") + "@acme.com"
            if rng.random() < 0.4:
                fields["version_comment"] = rng.choice(_VERSION_COMMENTS)
        if rng.random() < 0.35:
            fields["description"] = self.recipe_description(plan)
        if rng.random() < 0.08:
            fields["tags"] = rng.sample(self.tag_pool, rng.randint(1, 2))
        self.note(updated, stopped_at, last_run)
        self.ws.add_recipe(plan.name, code, config, plan.folder_id, **fields)

    def recipe_description(self, plan: _Plan) -> str:
        tgt = ""
        if plan.target:
            spec = _APPS[plan.target[0]]
            noun = _noun(plan.target[0], plan.target[2]).lower()
            tgt = f"{_verb(plan.target[1]).lower()} {noun} in {spec.label}"
        if plan.kind == "app" and plan.source:
            src = _APPS[plan.source[0]]
            what = _noun(plan.source[0], plan.source[2])
            article = "an" if what[:1].lower() in "aeiou" else "a"
            event = _event(plan.source[1])
            return f"When {article} {what} is {event} in {src.label}, {tgt or 'log it'}."
        if plan.kind == "function":
            return f"Callable function: {tgt or 'shared logic'}. Returns {', '.join(plan.results)}."
        if plan.kind == "schedule":
            return f"Runs on a schedule and will {tgt or 'process records'}."
        if plan.kind == "webhook":
            return f"Receives {plan.webhook_suffix} webhooks and will {tgt or 'log them'}."
        if plan.kind == "subscriber" and plan.subscribe:
            return f"Subscribes to '{plan.subscribe[1]}' and will {tgt or 'log messages'}."
        return f"API endpoint that will {tgt or 'answer requests'}."


def _cum(weights: list[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def _pick(rng: random.Random, cum: list[float]) -> int:
    return bisect_right(cum, rng.random() * cum[-1]) if cum else 0


def _obj(rng: random.Random, spec: _App) -> str:
    return rng.choice(spec.objects) if spec.objects else ""


_READ_PREFIXES = tuple(
    "search Search get_ select list run_custom execute_suiteql export run_zoql run_search".split()
)
_LIST_PREFIXES = tuple(
    "search Search select list run_custom execute_suiteql run_zoql get_report get_wql "
    "get_spreadsheet_rows get_records run_search new_message_batch updated_rows "
    "scheduled_select".split()
)


def _is_search(op: str) -> bool:
    """A read action (search, get, select, custom SQL...), as opposed to a write."""
    return op.startswith(_READ_PREFIXES)


def _returns_list(op: str) -> bool:
    """Operations whose output is a list a ``foreach`` can iterate."""
    return op.startswith(_LIST_PREFIXES)


def _snake(text: str) -> str:
    out = "".join(ch.lower() if ch.isalnum() else "_" for ch in text)
    while "__" in out:
        out = out.replace("__", "_")
    return out.strip("_")


# ---------------------------------------------------------------------------- recipe code

#: Builds a run of sibling steps when called (so steps are made in tree order).
_Steps = Callable[[], list[dict[str, Any]]]


class _RecipeBuilder:
    """Builds one recipe's code tree in the live-API form (numbers filled in by renumber)."""

    MAX_DEPTH = 4

    def __init__(self, gen: _Generator, plan: _Plan, plans: dict[int, _Plan]):
        self.g = gen
        self.rng = gen.rng
        self.plan = plan
        self.plans = plans
        #: (pill text up to the last path element, fields) of outputs later steps may use
        self.outputs: list[tuple[str, tuple[str, ...]]] = []
        #: (provider, line, path) of list outputs usable as a foreach source
        self.lists: list[tuple[str, str, list[Any]]] = []
        self.conns: dict[str, int | None] = {}
        self.variables: tuple[str, str] | None = None  # (line, uuid) of declare_variable
        r = self.rng.random()
        if r < 0.55:
            self.budget = self.rng.randint(2, 7)
        elif r < 0.88:
            self.budget = self.rng.randint(8, 20)
        elif r < 0.98:
            self.budget = self.rng.randint(20, 50)
        else:
            self.budget = self.rng.randint(50, 120)

    # ------------------------------------------------------------------ primitives
    def alias(self) -> str:
        return f"{self.rng.getrandbits(32):08x}"

    def uuid(self) -> str:
        return _uuid4(self.rng)

    def block(
        self,
        keyword: str,
        provider: str | None = None,
        name: str | None = None,
        inp: dict[str, Any] | None = None,
        children: list[dict[str, Any]] | None = None,
        *,
        alias: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        self.budget -= 1
        b: dict[str, Any] = {"number": 0}
        if provider is not None:
            b["provider"] = provider
            b["name"] = name
        if alias is not None:
            b["as"] = alias
        b["keyword"] = keyword
        if extra:
            b.update(extra)
        if inp is not None:
            b["input"] = inp
        if children is not None:
            b["block"] = children
        b["uuid"] = self.uuid()
        return b

    def pill(self, field: str | None = None) -> str:
        """A datapill to an output of one of the last few steps in scope."""
        outputs = self.outputs
        if not outputs:
            return _dp({"pill_type": "job_context", "path": ["job_url"]})
        prefix, fields = outputs[-1 - int(self.rng.random() * min(4, len(outputs)))]
        leaf = field if field and not fields else (self.rng.choice(fields) if fields else "id")
        return prefix + '"' + leaf + "\"]}')}"

    def output(self, provider: str, line: str, base: list[Any], fields: tuple[str, ...]) -> None:
        """Bring a step's output into scope; pills to it are ``base`` + one of ``fields``."""
        head = _out(provider, line, base)[: -len("]}')}")]
        self.outputs.append((head + ("," if base else ""), fields))

    def condition(self) -> dict[str, Any]:
        rng = self.rng
        conditions = []
        for _ in range(1 if rng.random() < 0.7 else rng.randint(2, 3)):
            operand = _OPERAND_NAMES[_pick(rng, _OPERAND_CUM)]
            if operand in _NO_RHS:
                rhs = ""
            elif operand in ("greater_than", "less_than"):
                rhs = str(rng.choice((0, 1, 100, 1000)))
            else:
                rhs = rng.choice(
                    ("Closed Won", "ACTIVE", "true", "US", "400", "Approved", "error", "Completed")
                )
            conditions.append(
                {"operand": operand, "lhs": self.pill(), "rhs": rhs, "uuid": self.uuid()}
            )
        return {
            "type": "compound",
            "operand": "and" if rng.random() < 0.8 else "or",
            "conditions": conditions,
        }

    def use(self, provider: str) -> None:
        """Make sure the recipe has a connection for ``provider`` (config account_id)."""
        if provider in self.conns:
            return
        base = provider.removesuffix("_secondary")
        if base not in self.g.usable:
            self.conns[provider] = None
            return
        if provider.endswith("_secondary"):
            if base not in self.conns:
                self.use(base)
            self.conns[provider] = self.g.pick_connection(base, self.plan, self.conns[base])
        else:
            self.conns[provider] = self.g.pick_connection(base, self.plan)

    # ------------------------------------------------------------------ app steps
    def app_step(
        self, provider: str, op: str, obj: str, *, keyword: str = "action"
    ) -> dict[str, Any]:
        rng = self.rng
        base = provider.removesuffix("_secondary")
        spec = _APPS[base]
        self.use(provider)
        line = self.alias()
        inp = self.app_input(base, spec, op, obj, trigger=keyword == "trigger")
        extra: dict[str, Any] | None = None
        if spec.family == "chat" and op.startswith("post") and rng.random() < 0.5:
            extra = {"dynamicPickListSelection": {"channel": obj.lstrip("#")}}
        b = self.block(
            keyword,
            provider,
            op,
            inp,
            [] if keyword == "trigger" else None,
            alias=line,
            extra=extra,
        )
        if _returns_list(op):
            key = "rows" if spec.family == "db" else "records"
            if base == "netsuite":
                key = "records"
            elif base == "jira":
                key = "issues"
            self.lists.append((provider, line, [key]))
            self.output(provider, line, [key, {"path_element_type": "current_item"}], _FIELDS)
        else:
            self.output(provider, line, [], ("id", "Id", "status", "url", *_FIELDS[:4]))
        return b

    def app_input(
        self, provider: str, spec: _App, op: str, obj: str, *, trigger: bool
    ) -> dict[str, Any]:
        rng = self.rng
        fam = spec.family
        if fam == "db":
            if "sql" in op or op in ("run_custom_sql", "export_csv_v2"):
                cols = ", ".join(
                    rng.sample(
                        ("ID", "NAME", "STATUS", "AMOUNT", "UPDATED_AT", "EMAIL", "COUNTRY"), 3
                    )
                )
                sql = f"SELECT {cols} FROM {obj} WHERE UPDATED_AT > '{self.pill()}'"
                inp: dict[str, Any] = {"sql": sql}
                if op == "export_csv_v2":
                    inp.update({"_action_version": "2", "timeout": "60", "delimiter": "comma"})
                return inp
            if op == "execute_procedure":
                proc = obj.split(".")[0] + ".usp_sync_" + _snake(_human(obj))
                return {"procedure": proc, "parameters": {"p_id": self.pill()}}
            if trigger:
                inp = {"table": obj, "unique_key": "ID"}
                if op == "updated_rows_batch":
                    inp.update({"sort_key": "UPDATED_AT", "batch_size": "100"})
                elif op == "scheduled_select":
                    inp.update(
                        {"where": "STATUS = 'READY'", "time_unit": "hours", "trigger_every": "1"}
                    )
                return inp
            if op in ("insert_rows_batch", "upsert_rows", "insert_rows"):
                src = self.lists[-1] if self.lists else None
                rows: dict[str, Any] = {}
                if src:
                    rows["____source"] = _dp(
                        {"pill_type": "output", "provider": src[0], "line": src[1], "path": src[2]}
                    )
                for col in rng.sample(("ID", "NAME", "STATUS", "AMOUNT", "EMAIL"), 3):
                    rows[col.lower()] = self.pill()
                inp = {"table": obj, "rows": rows}
                if op == "upsert_rows":
                    inp["unique_key"] = "ID"
                return inp
            if op in ("search_rows", "select_rows"):
                return {
                    "table": obj,
                    "where": f"STATUS = '{rng.choice(('OPEN', 'READY'))}'",
                    "limit": "1000",
                }
            return {"table": obj, "columns": {c: self.pill() for c in ("ID", "NAME", "STATUS")}}
        if fam == "chat":
            if op == "get_user_by_email":
                return {"email": self.pill("Email")}
            if trigger:
                if op.startswith("bot_command"):
                    return {
                        "command_name": rng.choice(
                            ("create_ticket", "approve_request", "lookup_account", "reset_password")
                        )
                    }
                return {"channel": obj}
            text = rng.choice(
                (
                    "New {x} received: ",
                    ":rotating_light: Integration error in {x}: ",
                    "{x} synced successfully - ",
                    "Please review {x} ",
                )
            ).format(x=self.plan.name if len(self.plan.name) <= 60 else "record")
            key = "message" if provider == "teams_bot" else "text"
            return {"channel": obj, key: text + self.pill()}
        if fam == "mail":
            if trigger:
                return {"folder": "INBOX", "subject_filter": rng.choice(("Invoice", "PO", ""))}
            return self.mail_input()
        if fam == "file":
            path_key = spec.key or "path"
            if trigger:
                return {path_key: obj, "include_sub_folders": "false"}
            if op.startswith("upload"):
                fname = f"export_{_snake(self.plan.name)[:30]}.csv"
                return {path_key: obj, "file_name": fname, "content": self.pill()}
            return {path_key: obj, "file_name": self.pill("Name")}
        if fam == "stream":
            if trigger:
                return {
                    "topic": obj,
                    "batch_size": "200",
                    "schema_source": "workato",
                    "key_schema_type": "plaintext",
                }
            return {"topic": obj, "message": {"key": self.pill(), "value": self.pill()}}
        # generic SaaS application
        inp = {spec.key: obj} if spec.key and obj else {}
        if trigger:
            if rng.random() < 0.5:
                inp["since"] = rng.choice(("=2.days.ago", "=1.hour.ago", "2023-01-01T00:00:00Z"))
            return inp
        if _is_search(op):
            inp[rng.choice(("Email", "External_Id__c", "Name", "query"))] = self.pill()
            return inp
        if op.startswith(("update", "upsert", "resolve", "move", "deactivate")):
            inp["id" if not op.startswith("upsert") else "External_Id__c"] = self.pill()
        for field in rng.sample(_FIELDS, rng.randint(2, 4)):
            inp[field] = self.pill()
        return inp

    def mail_input(self) -> dict[str, Any]:
        rng = self.rng
        return {
            "email_type": rng.choice(("html", "text")),
            "to": rng.choice(
                (
                    "integrations@acme.com",
                    "finance-ops@acme.com",
                    "it-oncall@acme.com",
                    "hr-systems@acme.com",
                )
            ),
            "subject": rng.choice(
                ("Workato: sync failed", "Daily report", "Action required", "Records processed")
            ),
            "body": "Details: " + self.pill(),
        }

    # ------------------------------------------------------------------ built-in steps
    def random_app_step(self) -> dict[str, Any]:
        g = self.g
        if not g.action_providers:
            return self.logger_step()
        prov = g.action_providers[_pick(self.rng, g.action_cum)]
        if prov == "rest":
            return self.http_step()
        spec = _APPS[prov]
        return self.app_step(prov, self.rng.choice(spec.actions), _obj(self.rng, spec))

    def logger_step(self) -> dict[str, Any]:
        inp = {
            "user_logs_enabled": True,
            "log_level": self.rng.choice(("INFO", "INFO", "ERROR")),
            "message": "Processed: " + self.pill(),
        }
        return self.block("action", "logger", "log_message", inp, alias=self.alias())

    def notify_step(self) -> dict[str, Any]:
        rng = self.rng
        if self.g.chat_providers and rng.random() < 0.7:
            prov = rng.choice(self.g.chat_providers)
            spec = _APPS[prov]
            op = "post_message" if prov == "slack" else "post_bot_message"
            return self.app_step(prov, op, rng.choice(spec.objects))
        if "gmail" in self.g.usable and rng.random() < 0.3:
            return self.app_step("gmail", "send_mail", "")
        return self.block("action", "email", "send_mail", self.mail_input(), alias=self.alias())

    def variable_step(self) -> dict[str, Any]:
        line = self.alias()
        names = self.rng.sample(
            ("Status", "Count", "batch_offset", "error_message", "has_more", "last_id"), 3
        )
        schema = json.dumps(
            [
                {"control_type": "text", "label": n, "name": n, "type": "string", "optional": True}
                for n in names
            ],
            separators=(",", ":"),
        )
        b = self.block(
            "action",
            "workato_variable",
            "declare_variable",
            {"variables": {"schema": schema, "data": {names[0]: "0"}}},
            alias=line,
        )
        self.variables = (line, b["uuid"])
        self.output("workato_variable", line, [], tuple(names))
        return b

    def update_variables_step(self) -> dict[str, Any]:
        if self.variables is None:
            return self.logger_step()
        line, uid = self.variables
        inp = {
            "input_mode": "raw",
            "name": f"{uid}:{line}:batch_offset",
            "batch_offset": _formula(
                {
                    "pill_type": "output",
                    "provider": "workato_variable",
                    "line": line,
                    "path": ["batch_offset"],
                },
                ".to_i + 100",
            ),
        }
        return self.block("action", "workato_variable", "update_variables", inp, alias=self.alias())

    def lookup_step(self) -> dict[str, Any]:
        rng = self.rng
        table_id, table_name = rng.choice(self.g.lookup_tables)
        op = rng.choice(("search_entries", "get_entry", "get_entry", "add_entry"))
        line = self.alias()
        inp = {"lookup_table_id": table_id, "parameters": {"col1": self.pill()}}
        b = self.block(
            "action",
            "lookup_table",
            op,
            inp,
            alias=line,
            extra={"dynamicPickListSelection": {"lookup_table_id": table_name}},
        )
        self.output("lookup_table", line, ["entry"], ("col1", "col2", "col3"))
        return b

    def db_table_step(self) -> dict[str, Any]:
        table_id, table_name = self.rng.choice(self.g.data_tables)
        op = self.rng.choice(("get_records", "add_record", "upsert_record", "update_record"))
        line = self.alias()
        inp: dict[str, Any] = {"table_id": table_id}
        if op == "get_records":
            inp.update({"order_direction": "asc", "limit": "100"})
            self.lists.append(("workato_db_table", line, ["records"]))
        else:
            inp["record"] = {"recipe_id": self.pill(), "status": "pending"}
        return self.block(
            "action",
            "workato_db_table",
            op,
            inp,
            alias=line,
            extra={"dynamicPickListSelection": {"table_id": table_name}},
        )

    def parser_step(self) -> dict[str, Any]:
        line = self.alias()
        if self.rng.random() < 0.6:
            inp = {"sample_document": '{"id":"123","status":"ACTIVE"}', "document": self.pill()}
            b = self.block("action", "json_parser", "parse_json_v2", inp, alias=line)
            self.output("json_parser", line, ["document"], ("id", "status"))
        else:
            inp = {"col_sep": ",", "skip_first_line": "true", "csv_content": self.pill()}
            b = self.block("action", "csv_parser", "parse_csv", inp, alias=line)
            self.lists.append(("csv_parser", line, ["lines"]))
        return b

    def http_step(self) -> dict[str, Any]:
        if not self.g.has_rest:
            return self.logger_step()
        rng = self.rng
        method, url = rng.choice(_HTTP_ENDPOINTS)
        url = url.replace("{id}", self.pill())
        host = url.split("/")[2].removeprefix("api.").split(".")[0]
        request: dict[str, Any] = {
            "method": method,
            "content_type": "application/json",
            "url": url,
            "headers": {
                "Authorization": "Bearer "
                + _dp({"pill_type": "account_property", "property_name": f"{host}_api_token"}),
                "Accept": "application/json",
            },
        }
        if method in ("POST", "PUT", "PATCH"):
            request["body"] = '{"id": "' + self.pill() + '", "source": "workato"}'
        inp = {
            "request_name": rng.choice(("getStatus", "createRecord", "sync", "lookup")),
            "request": request,
            "response": {"output_type": "json", "ignore_http_errors": "false"},
        }
        self.use("rest")
        line = self.alias()
        b = self.block(
            "action",
            "rest",
            "make_request_v2",
            inp,
            alias=line,
            extra={"toggleCfg": {"response.ignore_http_errors": True}}
            if rng.random() < 0.3
            else None,
        )
        self.output("rest", line, ["body"], ("id", "status", "data"))
        return b

    def stop_step(self, error: bool, reason: str | None = None) -> dict[str, Any]:
        inp = {"stop_with_error": "true" if error else "false"}
        if error:
            inp["stop_reason"] = reason or "Stopped: " + self.pill()
        return self.block("stop", inp=inp, alias=self.alias())

    def call_step(self, callee: _Plan | None) -> list[dict[str, Any]]:
        rng = self.rng
        line = self.alias()
        asynchronous = rng.random() < 0.25
        op = "call_recipe_async" if asynchronous else "call_recipe"
        pre: list[dict[str, Any]] = []
        if callee is None:  # dynamic dispatch: the recipe id comes from a lookup table row
            routing = self.lookup_step()
            pre.append(routing)
            flow = _formula(
                {
                    "pill_type": "output",
                    "provider": "lookup_table",
                    "line": routing["as"],
                    "path": ["entry", "col2"],
                },
                ".to_s",
            )
            inp = {"flow_id": flow, "parameters": {"payload": self.pill()}}
            extra: dict[str, Any] = {
                "toggleCfg": {"flow_id": True},
                "comment": "Callee recipe id routed via lookup table",
            }
        else:
            inp = {"flow_id": str(callee.id), "parameters": {p: self.pill() for p in callee.params}}
            extra = {"dynamicPickListSelection": {"flow_id": callee.name}}
        out = [
            *pre,
            self.block("action", "workato_recipe_function", op, inp, alias=line, extra=extra),
        ]
        if asynchronous:
            self.output("workato_recipe_function", line, [], ("job_ref",))
            if rng.random() < 0.5:
                wait = {
                    "timeout": "60",
                    "async_calls": [
                        {
                            "job_ref": _dp(
                                {
                                    "pill_type": "output",
                                    "provider": "workato_recipe_function",
                                    "line": line,
                                    "path": ["job_ref"],
                                }
                            )
                        }
                    ],
                }
                out.append(
                    self.block(
                        "action",
                        "workato_recipe_function",
                        "wait_for_async_jobs",
                        wait,
                        alias=self.alias(),
                    )
                )
        else:
            results = callee.results if callee else ("result",)
            self.output("workato_recipe_function", line, ["result"], results)
        return out

    def publish_step(self, topic: tuple[str, str]) -> dict[str, Any]:
        inp = {"topic_id": topic[0], "message": {"id": self.pill(), "event": self.plan.kind}}
        return self.block(
            "action",
            "workato_pub_sub",
            "publish_to_topic",
            inp,
            alias=self.alias(),
            extra={"dynamicPickListSelection": {"topic_id": topic[1]}},
        )

    # ------------------------------------------------------------------ control blocks
    def steps(self, depth: int, low: int = 1, high: int = 3) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        count = self.rng.randint(low, high)
        while len(out) < count and (self.budget > 0 or not out):
            out.extend(self.filler(depth))
        return out

    def filler(self, depth: int) -> list[dict[str, Any]]:
        r = self.rng.random()
        if depth < self.MAX_DEPTH and self.budget > 2:
            if r < 0.09:
                return [self.if_block(depth)]
            if r < 0.14:
                return self.foreach_block(depth)
            if r < 0.19:
                return [self.try_block(depth)]
            if r < 0.21:
                return self.repeat_block(depth)
        if r < 0.57:
            return [self.random_app_step()]
        if r < 0.67:
            return [self.logger_step()]
        if r < 0.74:
            return [self.variable_step()]
        if r < 0.83:
            return [self.notify_step()]
        if r < 0.87:
            return [self.lookup_step()]
        if r < 0.90:
            return [self.http_step()]
        if r < 0.96:
            return [self.parser_step()]
        return [self.db_table_step()]

    def if_block(self, depth: int, then: _Steps | None = None) -> dict[str, Any]:
        """``if`` with then-steps (built by ``then``), then optional ``elsif``s and ``else``."""
        rng = self.rng
        cond = self.condition()
        b = self.block("if", inp=cond)
        mark = len(self.outputs)
        kids = then() if then is not None else self.steps(depth + 1)
        if rng.random() < 0.15:
            kids.append(self.stop_step(rng.random() < 0.5))
        del self.outputs[mark:]
        for _ in range(rng.choice((0, 0, 0, 1, 2))):
            elsif = self.block("elsif", inp=self.condition())
            elsif["block"] = self.steps(depth + 1)
            del self.outputs[mark:]
            kids.append(elsif)
        if rng.random() < 0.45:
            els = self.block("else", inp={})
            els["block"] = self.steps(depth + 1, 1, 2)
            del self.outputs[mark:]
            kids.append(els)
        b["block"] = kids
        b["uuid"] = b.pop("uuid")  # keep uuid as the last key, as the editor writes it
        return b

    def foreach_block(self, depth: int) -> list[dict[str, Any]]:
        pre: list[dict[str, Any]] = []
        if not self.lists:
            pre.append(self.search_step())
        if not self.lists:
            return pre or [self.logger_step()]
        provider, line, path = self.lists[-1]
        source = _dp({"pill_type": "output", "provider": provider, "line": line, "path": path})
        alias = self.alias()
        b = self.block(
            "foreach",
            inp={},
            alias=alias,
            extra={"source": source, "repeat_mode": "simple", "clear_scope": "false"},
        )
        mark = len(self.outputs)
        self.output("foreach", alias, [], _FIELDS)
        b["block"] = self.steps(depth + 1)
        del self.outputs[mark:]
        b["uuid"] = b.pop("uuid")
        return [*pre, b]

    def search_step(self) -> dict[str, Any]:
        g, rng = self.g, self.rng
        if g.search_providers:
            prov = g.search_providers[_pick(rng, g.search_cum)]
            spec = _APPS[prov]
            op = rng.choice([a for a in spec.actions if _is_search(a)])
            return self.app_step(prov, op, _obj(rng, spec))
        return self.db_table_step() if rng.random() < 0.5 else self.lookup_step()

    def try_block(
        self,
        depth: int,
        body: _Steps | None = None,
        on_error: Callable[[], dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """``try`` around ``body``'s steps; its last child is the one ``catch``, whose handler
        ends with ``on_error()`` (e.g. an error result) or sometimes a ``stop``."""
        rng = self.rng
        b = self.block("try", inp={})
        kids = body() if body is not None else self.steps(depth + 1)
        line = self.alias()
        catch = self.block(
            "catch",
            inp={
                "max_retry_count": rng.choice(("0", "0", "1", "2", "3")),
                "retry_interval": rng.choice(("2", "2", "5", "10", "30")),
            },
            alias=line,
        )
        if rng.random() < 0.2:
            catch["filter"] = {
                "conditions": [
                    {
                        "operand": "not_equals_to",
                        "lhs": _dp(
                            {
                                "pill_type": "output",
                                "provider": "catch",
                                "line": line,
                                "path": ["http_response", "code"],
                            }
                        ),
                        "rhs": rng.choice(("400", "404")),
                        "uuid": self.uuid(),
                    }
                ],
                "operand": "and",
                "type": "compound",
            }
        mark = len(self.outputs)
        self.output("catch", line, [], ("message", "error_type"))
        handler = [self.notify_step() if rng.random() < 0.5 else self.logger_step()]
        if rng.random() < 0.2 and self.variables:
            handler.append(self.update_variables_step())
        if on_error is not None:
            handler.append(on_error())
        elif rng.random() < 0.4:
            handler.append(
                self.stop_step(
                    True,
                    "Failed: "
                    + _dp(
                        {
                            "pill_type": "output",
                            "provider": "catch",
                            "line": line,
                            "path": ["message"],
                        }
                    ),
                )
            )
        del self.outputs[mark:]
        catch["block"] = handler
        catch["uuid"] = catch.pop("uuid")
        if rng.random() < 0.3:
            catch["comment"] = rng.choice(
                ("Retry unless bad request", "Notify and stop", "Log and continue")
            )
        b["block"] = [*kids, catch]
        b["uuid"] = b.pop("uuid")
        return b

    def repeat_block(self, depth: int) -> list[dict[str, Any]]:
        pre: list[dict[str, Any]] = []
        if self.variables is None:
            pre.append(self.variable_step())
        line, _ = self.variables  # type: ignore[misc]
        alias = self.alias()
        b = self.block("repeat", alias=alias)
        mark = len(self.outputs)
        body = [
            self.http_step() if self.g.has_rest and self.rng.random() < 0.5 else self.search_step()
        ]
        if self.rng.random() < 0.5:
            body.extend(self.foreach_block(depth + 1))
        body.append(self.update_variables_step())
        cond = {
            "type": "compound",
            "operand": "and",
            "conditions": [
                {
                    "operand": "is_true",
                    "lhs": _dp(
                        {
                            "pill_type": "output",
                            "provider": "workato_variable",
                            "line": line,
                            "path": ["has_more"],
                        }
                    ),
                    "rhs": "",
                    "uuid": self.uuid(),
                }
            ],
        }
        body.append(self.block("while_condition", inp=cond))
        del self.outputs[mark:]
        b["block"] = body
        b["uuid"] = b.pop("uuid")
        return [*pre, b]

    # ------------------------------------------------------------------ whole recipe
    def trigger(self) -> dict[str, Any]:
        p, rng = self.plan, self.rng
        kind = p.kind
        if kind == "app" and p.source:
            prov, op, obj = p.source
            t = self.app_step(prov, op, obj, keyword="trigger")
            if rng.random() < 0.15:  # trigger condition
                t["filter"] = self.condition()
                t["uuid"] = t.pop("uuid")
            return t
        if kind == "function":

            def schema(names: tuple[str, ...]) -> str:
                return json.dumps(
                    [
                        {
                            "name": n,
                            "type": "string",
                            "optional": False,
                            "control_type": "text",
                            "label": _human(n),
                        }
                        for n in names
                    ],
                    separators=(",", ":"),
                )

            line = self.alias()
            t = self.block(
                "trigger",
                "workato_recipe_function",
                "execute",
                {
                    "parameters_schema_json": schema(p.params),
                    "result_schema_json": schema(p.results),
                },
                [],
                alias=line,
            )
            self.output("workato_recipe_function", line, ["parameters"], p.params)
            return t
        if kind == "subscriber" and p.subscribe:
            line = self.alias()
            t = self.block(
                "trigger",
                "workato_pub_sub",
                "subscribe_to_topic",
                {"topic_id": p.subscribe[0]},
                [],
                alias=line,
                extra={"dynamicPickListSelection": {"topic_id": p.subscribe[1]}},
            )
            self.output("workato_pub_sub", line, ["message"], ("id", "event"))
            return t
        if kind == "webhook":
            line = self.alias()
            inp = {
                "request": {
                    "webhook_type": rng.choice(("json", "json", "get")),
                    "payload_schema": '[{"name":"event_type","type":"string"},'
                    '{"name":"id","type":"string"}]',
                },
                "webhook_suffix": p.webhook_suffix,
            }
            t = self.block("trigger", "workato_webhooks", "new_event", inp, [], alias=line)
            self.output("workato_webhooks", line, ["payload"], ("event_type", "id", "status"))
            return t
        if kind == "api":
            line = self.alias()
            inp = {
                "request": {
                    "content_type": "json",
                    "path_params": "[]",
                    "schema": '[{"name":"id","type":"string","optional":false}]',
                }
            }
            t = self.block(
                "trigger", "workato_api_platform", "receive_request", inp, [], alias=line
            )
            self.output("workato_api_platform", line, ["request"], ("id",))
            return t
        # schedule (and fallbacks for apps/subscribers without a source)
        line = self.alias()
        if rng.random() < 0.7:
            inp = {
                "time_unit": rng.choice(("minutes", "hours", "days")),
                "trigger_every": rng.choice(("5", "15", "1", "6", "24")),
            }
        else:
            inp = {
                "time_unit": "custom_schedule",
                "timezone": "America/New_York",
                "cron_expression": rng.choice(("0 7 * * 1-5", "0 2 * * *", "0 7 2 * *")),
            }
        t = self.block("trigger", "clock", "scheduled_event", inp, [], alias=line)
        self.output("clock", line, [], ("scheduled_time",))
        return t

    def target_step(self) -> dict[str, Any]:
        p = self.plan
        if p.target is None:
            return self.logger_step()
        prov, op, obj = p.target
        if prov == "rest":
            return self.http_step()
        return self.app_step(prov, op, obj)

    def schedule_core(self) -> list[dict[str, Any]]:
        """Scheduled batch: read the source, then write each record to the target."""
        p, rng = self.plan, self.rng
        out: list[dict[str, Any]] = []
        if p.source:
            out.append(self.app_step(*p.source))
        else:
            out.append(self.search_step())
        if not (self.lists and rng.random() < 0.8):
            return [*out, self.target_step()]
        provider, line, path = self.lists[-1]
        alias = self.alias()
        source = _dp({"pill_type": "output", "provider": provider, "line": line, "path": path})
        loop = self.block(
            "foreach",
            inp={},
            alias=alias,
            extra={"source": source, "repeat_mode": "simple", "clear_scope": "false"},
        )
        mark = len(self.outputs)
        self.output("foreach", alias, [], _FIELDS)
        loop["block"] = [self.target_step()]
        del self.outputs[mark:]
        loop["uuid"] = loop.pop("uuid")
        return [*out, loop]

    def api_response(self, status: str) -> dict[str, Any]:
        if status == "200":
            response = {"id": self.pill(), "status": self.pill()}
        else:
            response = {"errorMessage": "Search service is temporarily busy. Please try again."}
        return self.block(
            "action",
            "workato_api_platform",
            "return_response",
            {"http_status_code": status, "response": response},
            alias=self.alias(),
        )

    def return_result(self, error: bool) -> dict[str, Any]:
        results = self.plan.results
        if error:
            result = {r: ("ERROR" if r == "status" else "") for r in results}
        else:
            result = {r: self.pill() for r in results}
        return self.block(
            "action",
            "workato_recipe_function",
            "return_result",
            {"result": result},
            alias=self.alias(),
        )

    def layout(self) -> list[_Steps]:
        """The recipe's top-level items in order: the core of its kind, then the planned
        calls, publishing, HTTP... at random positions. Built later, in this order, so every
        datapill refers to a step that comes before it."""
        p, rng = self.plan, self.rng
        items: list[_Steps] = []
        if p.kind == "schedule":
            items.append(self.schedule_core)
        elif p.kind == "webhook":
            items.append(lambda: [self.if_block(1, lambda: [self.target_step()])])
        elif p.kind == "api":
            items.append(
                lambda: [
                    self.try_block(
                        1,
                        lambda: [self.target_step(), self.api_response("200")],
                        lambda: self.api_response("503"),
                    )
                ]
            )
        else:
            items.append(lambda: [self.target_step()])
            if rng.random() < 0.3:
                items.append(lambda: [self.notify_step()])
        extras: list[_Steps] = []
        for callee_index in p.calls:
            extras.append(lambda c=self.plans[callee_index]: self.call_step(c))
        if p.dynamic_call:
            extras.append(lambda: self.call_step(None))
        if p.publish:
            extras.append(lambda t=p.publish: [self.publish_step(t)])
        if p.secondary:
            extras.append(lambda: self.secondary_steps(p.secondary))
        if rng.random() < 0.08:
            extras.append(lambda: [self.http_step()])
        if rng.random() < 0.08:
            extras.append(lambda: [self.lookup_step()])
        for item in extras:
            r = rng.random()
            if r < 0.25:
                item = self.guarded(item, "try")
            elif r < 0.4:
                item = self.guarded(item, "if")
            items.insert(rng.randint(0, len(items)), item)
        return items

    def guarded(self, item: _Steps, how: str) -> _Steps:
        """``item`` inside a ``try`` (with its ``catch``) or an ``if``."""
        if how == "try":
            return lambda: [self.try_block(2, item)]
        return lambda: [self.if_block(2, item)]

    def secondary_steps(self, app: str) -> list[dict[str, Any]]:
        """Read with one connection of ``app``, write with another (``<app>_secondary``)."""
        rng = self.rng
        spec = _APPS[app]
        searches = [a for a in spec.actions if _is_search(a)] or list(spec.actions)
        writes = [a for a in spec.actions if not _is_search(a)] or list(spec.actions)
        obj = _obj(rng, spec)
        return [
            self.app_step(app, rng.choice(searches), obj),
            self.app_step(app + "_secondary", rng.choice(writes), obj),
        ]

    def sequence(self, items: list[_Steps]) -> list[dict[str, Any]]:
        """Build ``items`` in order, spreading filler steps between them up to the budget."""
        out: list[dict[str, Any]] = []
        for i, item in enumerate(items):
            keep = self.budget * (len(items) - i) / (len(items) - i + 1)
            while self.budget > keep and self.budget > 0:
                out.extend(self.filler(1))
            out.extend(item())
        while self.budget > 0:
            out.extend(self.filler(1))
        return out

    def build(self) -> dict[str, Any]:
        root = self.trigger()
        items = self.layout()
        if self.plan.kind != "function":
            root["block"] = self.sequence(items)
        elif self.rng.random() < 0.4:
            root["block"] = [
                self.try_block(
                    1,
                    lambda: [*self.sequence(items), self.return_result(False)],
                    lambda: self.return_result(True),
                )
            ]
        else:
            root["block"] = [*self.sequence(items), self.return_result(False)]
        root["uuid"] = root.pop("uuid")
        return root

    def config(self, code: dict[str, Any]) -> list[dict[str, Any]]:
        """One entry per provider in order of first use; connections for app providers."""
        seen: list[str] = []
        for block in iter_blocks(code):
            provider = block.get("provider")
            if provider and provider not in seen:
                seen.append(provider)
        draft = self.rng.random() < 0.02
        out = []
        for provider in seen:
            if provider in BUILTIN_PROVIDERS:
                account = None
            else:
                account = None if draft else self.conns.get(provider)
            out.append(application_config(provider, account))
        return out
