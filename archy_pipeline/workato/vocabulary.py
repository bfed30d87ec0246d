"""What archy-pipeline knows about Workato connectors, in one place.

Pure module: standard library only (no Dagster, no dlt). The recipe parser, the generated
descriptions and the connection mapping all read their connector knowledge from here:

* provider ids: ``_secondary`` variants (:func:`normalise_provider`), custom (SDK) connectors
  (:func:`custom_connector_slug`), Workato platform connectors that reach no outside system
  (:data:`PLATFORM_PROVIDERS`, :func:`is_platform_provider`), helpers that say nothing about
  the architecture (:data:`HELPERS`), generic transports that name no system
  (:data:`GENERIC_PROVIDERS`) and how applications are named in sentences
  (:data:`DISPLAY_NAMES`, :func:`display_name`);
* whether a step reads or writes its application (:func:`classify_step`).

Reads and writes
----------------
Workato publishes no read/write flag for an action (workato-api-addendum §7.1): recipe steps
carry only ``provider`` and ``name``, and the connector metadata API only ``{name, title,
deprecated, bulk, batch}``. The signal is the action name, the HTTP verb and the SQL text.
:func:`classify_step` gives every step ``access`` = ``read``, ``write`` or ``unknown``, the
HTTP method of HTTP steps, and the rule that decided (``reason``), first match wins:

====================  =====================================================================
reason                rule
====================  =====================================================================
``no_application``    a control block (if, foreach, try, catch, stop...): access None
``platform``          a Workato platform connector without a connection (clock, logger,
                      variables, lookup tables, data tables, recipe functions, email...):
                      access None, it touches no outside system
``override``          ``access.overrides`` in archy.yaml (``<provider>/<action>`` or
                      ``<provider>/*``)
``trigger``           the trigger reads its application (addendum §7.1)
``http_verb``         ``__adhoc_http_action``: ``input.verb``; ``rest`` steps:
                      ``input.request.method`` (addendum §7.1). GET/HEAD/OPTIONS read;
                      POST/PUT/PATCH/DELETE write
``http_query_post``   a POST to a query endpoint: the last path segment is ``search``,
                      ``_search``, ``query...``, ``freeBusy``... (Google Calendar's
                      ``calendar/v3/freeBusy`` and an RPC ``querytool`` in the corpus)
``http_no_method``    HTTP step whose method is missing or a datapill/formula: unknown
``exception``         a per-connector name from addendum §7.3 (:data:`EXCEPTIONS`)
``sql``               ``run_custom_sql*`` and ``execute_procedure`` with the statement in
                      ``input.sql``: SELECT/WITH...SELECT/SHOW read; INSERT/UPDATE/DELETE/
                      MERGE/CREATE/... write; a procedure call (CALL/EXEC) unknown
``sql_unknown``       the same actions with no readable statement
``procedure``         ``execute_procedure``: a procedure named with a write verb
                      (``usp_insert_orders``) writes; any other name is unknown
``prefix``            the action name's first word (addendum §7.2): :data:`READ_VERBS`,
                      :data:`WRITE_VERBS`
``verb_in_name``      no prefix verb, but the other words of the name hold verbs of one
                      class only (``streamable_download``, ``run_export``)
``no_rule``           nothing matched: unknown
====================  =====================================================================
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "ACCESS_VALUES",
    "DISPLAY_NAMES",
    "EXCEPTIONS",
    "GENERIC_PROVIDERS",
    "HELPERS",
    "PLATFORM_PROVIDERS",
    "READ_VERBS",
    "WRITE_VERBS",
    "AccessOverrideError",
    "AccessShare",
    "StepAccess",
    "classify_sql",
    "classify_step",
    "custom_connector_slug",
    "display_name",
    "is_custom_connector",
    "is_platform_provider",
    "normalise_provider",
    "parse_access_overrides",
]

Access = Literal["read", "write", "unknown"]
ACCESS_VALUES: tuple[str, ...] = ("read", "write", "unknown")

SECONDARY_SUFFIX = "_secondary"
ADHOC_HTTP_ACTION = "__adhoc_http_action"


# ---------------------------------------------------------------------- providers

#: Workato platform connectors: they run inside Workato and reach no outside system (never a
#: system in the mapping; steps on them get access None when they have no connection). Every
#: ``workato_*`` provider counts too (see :func:`is_platform_provider`).
PLATFORM_PROVIDERS: frozenset[str] = frozenset(
    "clock logger email lookup_table csv_parser json_parser xml_tools yaml_parser py_eval "
    "js_eval pgp jwt utility sms workflow linked_objects file_connector open_ai_utility "
    "python".split()
)

#: Transports that can reach anything: the provider alone names no system.
GENERIC_PROVIDERS: frozenset[str] = frozenset(
    "rest rest_oauth soap jdbc odbc sftp ftps ftp onprem_files onprem_command_line_scripts jms "
    "cxml graphql webhook".split()
)

#: Connectors that move data around inside a recipe: not worth a word in a description.
HELPERS: frozenset[str] = frozenset(
    {
        "logger", "workato_variable", "json_parser", "csv_parser", "workato_list",
        "workato_smart_list", "workato_template", "workato_transformations", "py_eval",
        "js_eval", "workato_custom_code", "workato_files", "lookup_table", "workato_db_table",
        "utility", "workato_mapper", "open_ai_utility", "workato_decision_engine",
    }
)  # fmt: skip

#: How applications are named in sentences; others are title-cased from the provider id.
DISPLAY_NAMES: dict[str, str] = {
    "salesforce": "Salesforce", "netsuite": "NetSuite", "service_now": "ServiceNow",
    "slack": "Slack", "slack_bot": "Slack", "teams_bot": "Microsoft Teams", "jira": "Jira",
    "jira_service_desk": "Jira Service Management", "workday": "Workday",
    "workday_rest": "Workday", "snowflake": "Snowflake", "mssql": "SQL Server",
    "postgresql": "PostgreSQL", "mysql": "MySQL", "oracle": "Oracle", "oracle_ebs": "Oracle EBS",
    "oracle_fusion": "Oracle Fusion", "redshift": "Amazon Redshift",
    "google_big_query": "BigQuery", "google_sheets": "Google Sheets",
    "google_drive": "Google Drive", "google_calendar": "Google Calendar", "gmail": "Gmail",
    "outlook": "Outlook", "onedrive": "OneDrive", "microsoft_sharepoint": "SharePoint",
    "microsoft_dynamics_crm": "Dynamics 365", "zendesk": "Zendesk", "hubspot": "HubSpot",
    "marketo": "Marketo", "box": "Box", "dropbox": "Dropbox", "docusign": "DocuSign",
    "bamboohr": "BambooHR", "coupa": "Coupa", "concur": "SAP Concur", "sap": "SAP",
    "sap_s4_hana_cloud": "SAP S/4HANA", "ariba": "SAP Ariba", "zuora": "Zuora", "xero": "Xero",
    "quickbooks": "QuickBooks", "intacct": "Sage Intacct", "stripe": "Stripe",
    "twilio": "Twilio", "okta": "Okta", "active_directory": "Active Directory",
    "github": "GitHub", "pagerduty": "PagerDuty", "splunk": "Splunk",
    "smartsheet": "Smartsheet", "asana": "Asana", "trello": "Trello",
    "confluence": "Confluence", "sftp": "SFTP", "amazon_s3": "Amazon S3", "kafka": "Kafka",
    "email": "Workato email", "open_ai": "OpenAI", "anaplan": "Anaplan",
    "onprem_files": "on-prem files", "jdbc": "a JDBC database",
}  # fmt: skip

#: ``<slug>_connector_<n>_<n>`` (workato-api §4); the second number is optional here so a
#: shortened id still shows its slug.
_CUSTOM_CONNECTOR = re.compile(r"^(?P<slug>.+?)_connector_\d+(?:_\d+)?$")


def normalise_provider(provider: str | None) -> str | None:
    """``salesforce_secondary`` -> ``salesforce``; anything else unchanged (workato-api §4)."""
    if provider and provider.endswith(SECONDARY_SUFFIX) and len(provider) > len(SECONDARY_SUFFIX):
        return provider[: -len(SECONDARY_SUFFIX)]
    return provider


def custom_connector_slug(provider: str | None) -> str | None:
    """``coupa_v2`` for a custom (SDK) connector ``coupa_v2_connector_812_1699``, else None."""
    match = _CUSTOM_CONNECTOR.match(normalise_provider(provider) or "")
    return match.group("slug") if match else None


def is_custom_connector(provider: str | None) -> bool:
    """Whether ``provider`` names a custom (SDK) connector: ``<slug>_connector_<n>_<n>``."""
    return custom_connector_slug(provider) is not None


def is_platform_provider(provider: str | None) -> bool:
    """A Workato platform connector (``clock``, ``logger``, ``workato_*``...): never a system."""
    app = (normalise_provider(provider) or "").strip().lower()
    return bool(app) and (app in PLATFORM_PROVIDERS or app.startswith("workato_"))


def display_name(provider: str | None) -> str:
    """How an application is named in a sentence: ``mssql`` -> ``SQL Server``."""
    app = normalise_provider(provider) or ""
    if app in DISPLAY_NAMES:
        return DISPLAY_NAMES[app]
    slug = custom_connector_slug(app)
    if slug:
        app = slug
    return " ".join(w.capitalize() if w.islower() else w for w in app.split("_")) or "an app"


# ---------------------------------------------------------------------- read / write

#: First words of action names that read (addendum §7.2, plus plain English synonyms).
READ_VERBS: frozenset[str] = frozenset(
    "search get list lookup find select export query download read fetch retrieve describe "
    "count dir browse scan poll".split()
)
#: First words of action names that write (addendum §7.2, plus plain English synonyms).
WRITE_VERBS: frozenset[str] = frozenset(
    "create add insert update upsert delete merge bulk composite upload attach assign post "
    "send publish archive invite set remove put patch replace write store save submit approve "
    "reject cancel close reopen resolve move copy rename share append clear sync import "
    "deactivate activate enable disable transition reply comment notify charge refund void "
    "unassign detach revoke grant purge truncate drop load push start stop rerun restart "
    "retry".split()
)

#: Per-connector names the prefix rule gets wrong or cannot tell (addendum §7.2-§7.3), keyed
#: by (application, action name); ``*`` as application means any connector.
EXCEPTIONS: dict[tuple[str, str], Access] = {
    # Snowflake "Replicate rows" (§7.2); the prefix "sync" says so too, kept for the record.
    ("snowflake", "sync_objects_to_snowflake*"): "write",
    # NetSuite "Initialize object": listed ambiguous in §7.2, left to overrides.
    ("netsuite", "initialize_operation"): "unknown",
    # Workbot chat UI (§7.2, ambiguous): a modal, a dialog or a reply shows data to people in
    # Slack, which is a write to Slack as much as post_bot_message is.
    ("slack_bot", "block_kit_modals"): "write",
    ("slack_bot", "open_bot_dialog"): "write",
    ("slack_bot", "post_bot_reply_v2"): "write",
    ("teams_bot", "block_kit_modals"): "write",
    ("teams_bot", "open_bot_dialog"): "write",
    # Workday "Call operation" runs any SOAP operation.
    ("workday", "call_operation"): "unknown",
    # SAP "Call RFC" runs any remote function.
    ("sap", "call_rfc"): "unknown",
    # NetSuite (§7.2): a saved search and a SuiteQL query read.
    ("netsuite", "execute_saved_search"): "read",
    ("netsuite", "execute_suiteql"): "read",
    # Any connector (§7.2): process steps and bulk job retries change state.
    ("*", "approve_process"): "write",
    ("*", "reject_process"): "write",
    ("*", "submit_process"): "write",
    ("*", "retry_bulk_jobs"): "write",
    # SFTP (§7.3): "dir" lists a directory, "remove" deletes a file.
    ("sftp", "dir"): "read",
    ("sftp", "remove"): "write",
}

#: Action names whose access depends on the SQL they run (addendum §7.2).
SQL_ACTIONS: frozenset[str] = frozenset(
    {"run_custom_sql", "run_custom_sql_async", "run_custom_sql_async_v2", "run_custom_sql_v2"}
)
PROCEDURE_ACTIONS: frozenset[str] = frozenset({"execute_procedure", "execute_stored_procedure"})

_READ_SQL = frozenset({"select", "show", "describe", "desc", "explain", "values", "table"})
_WRITE_SQL = frozenset(
    "insert update delete merge upsert replace create alter drop truncate grant revoke copy "
    "put remove rename comment unload".split()
)
_CALL_SQL = frozenset({"call", "exec", "execute", "begin", "declare", "do"})
_SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_SQL_STRING = re.compile(r"'(?:[^']|'')*'")
_WORDS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_QUERY_SEGMENT = re.compile(r"^(_?search|query\w*|\w*[_-](search|query)|freebusy)$")
_PROCEDURE_PREFIX = re.compile(r"^(usp|sp|proc|prc|p)_", re.I)


@dataclass(frozen=True)
class StepAccess:
    """How a step touches its application: ``access`` None for control blocks and platform
    connectors; ``http_method`` upper-case for HTTP steps with a literal method."""

    access: Access | None
    http_method: str | None
    reason: str


class AccessOverrideError(ValueError):
    """``access.overrides`` in archy.yaml is not valid; the message names the key."""


def is_dynamic(value: str) -> bool:
    """Whether a string value is a datapill or formula rather than a literal."""
    text = value.lstrip()
    return (
        text.startswith("=")
        or "_dp(" in text
        or "#{" in text
        or "_('data." in text
        or '_("data.' in text
    )


def parse_access_overrides(data: Any, where: str = "access.overrides") -> dict[str, Access]:
    """Validate ``{"<provider>/<action>": read|write}``; keys are lower-cased.

    ``<action>`` may be ``*`` (every action of the connector). ``_secondary`` is stripped
    from the provider, so one key covers both connections of a recipe.

    Raises:
        AccessOverrideError: naming the offending key and what is allowed.
    """
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise AccessOverrideError(
            f'{where} must be a mapping like {{"mssql/run_custom_sql": read}}'
        )
    result: dict[str, Access] = {}
    for key, value in data.items():
        provider, slash, action = str(key).strip().partition("/")
        if not isinstance(key, str) or not slash or not provider.strip() or not action.strip():
            raise AccessOverrideError(
                f"{where}: key {key!r} must be '<provider>/<action_name>' "
                "(e.g. 'mssql/run_custom_sql' or 'mssql/*')"
            )
        if value not in ("read", "write"):
            raise AccessOverrideError(f"{where}.{key}: {value!r} is not 'read' or 'write'")
        app = normalise_provider(provider.strip().lower()) or ""
        result[f"{app}/{action.strip().lower()}"] = value
    return result


def _override(overrides: Mapping[str, str] | None, application: str, name: str) -> Access | None:
    if not overrides:
        return None
    found = overrides.get(f"{application}/{name}") or overrides.get(f"{application}/*")
    return found if found in ("read", "write") else None  # type: ignore[return-value]


def classify_sql(text: Any) -> Access:
    """``read``/``write``/``unknown`` for the SQL text of a step (several statements: any
    write makes it a write; a procedure call or unreadable text is unknown)."""
    if not isinstance(text, str) or not text.strip():
        return "unknown"
    body = _SQL_COMMENT.sub(" ", text)
    if body.lstrip().startswith("=") or body.lstrip().startswith("#{"):
        return "unknown"  # the whole statement is a formula or a datapill
    body = _SQL_STRING.sub("''", body)
    found: set[str] = set()
    for statement in body.split(";"):
        words = [w.lower() for w in _WORDS.findall(statement)]
        if not words:
            continue
        first = words[0]
        if first == "with":
            modifying = {"insert", "update", "delete", "merge"} & set(words)
            found.add("write" if modifying else ("read" if "select" in words else "unknown"))
        elif first in _READ_SQL:
            found.add("write" if first == "select" and "into" in _select_into(words) else "read")
        elif first in _WRITE_SQL:
            found.add("write")
        else:  # CALL/EXEC and anything we do not know
            found.add("unknown")
    if "write" in found:
        return "write"
    if found == {"read"}:
        return "read"
    return "unknown"


def _select_into(words: list[str]) -> set[str]:
    """``SELECT ... INTO new_table FROM`` (T-SQL, PostgreSQL) creates a table."""
    try:
        return {"into"} if words.index("into") < words.index("from") else set()
    except ValueError:
        return {"into"} if "into" in words and "from" not in words else set()


def _http_method(application: str, name: str, inp: Mapping[str, Any]) -> tuple[bool, Any]:
    """(is an HTTP step, raw method)."""
    if name == ADHOC_HTTP_ACTION:
        return True, inp.get("verb")
    if application == "rest":
        request = inp.get("request")
        if isinstance(request, Mapping):
            return True, request.get("method")
        return True, inp.get("method")
    return False, None


def _http_target(application: str, name: str, inp: Mapping[str, Any]) -> str:
    if name == ADHOC_HTTP_ACTION:
        value = inp.get("path")
    else:
        request = inp.get("request")
        value = request.get("url") if isinstance(request, Mapping) else inp.get("url")
    return value if isinstance(value, str) else ""


def _is_query_endpoint(target: str) -> bool:
    path = target.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    segment = path.rsplit("/", 1)[-1].lower()
    return bool(segment) and not is_dynamic(segment) and bool(_QUERY_SEGMENT.match(segment))


def _by_words(name: str) -> tuple[Access, str] | None:
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
    if not words:
        return None
    if words[0] in READ_VERBS:
        return "read", "prefix"
    if words[0] in WRITE_VERBS:
        return "write", "prefix"
    classes = {"read" for w in words[1:] if w in READ_VERBS} | {
        "write" for w in words[1:] if w in WRITE_VERBS
    }
    if len(classes) == 1:
        return classes.pop(), "verb_in_name"  # type: ignore[return-value]
    return None


def _procedure(inp: Mapping[str, Any]) -> Access:
    for key in ("procedure", "procedure_name", "name"):
        value = inp.get(key)
        if isinstance(value, str) and value.strip() and not is_dynamic(value):
            bare = value.strip().strip('"[]`').rsplit(".", 1)[-1].strip('"[]`')
            bare = _PROCEDURE_PREFIX.sub("", bare)
            words = [w for w in re.split(r"[^a-z0-9]+", bare.lower()) if w]
            if words and words[0] in WRITE_VERBS:
                return "write"
            return "unknown"
    return "unknown"


def classify_step(
    keyword: str | None,
    provider: str | None,
    action_name: str | None,
    step_input: Any = None,
    *,
    has_connection: bool = False,
    overrides: Mapping[str, str] | None = None,
) -> StepAccess:
    """Whether a step reads or writes its application, and why (see the module docstring).

    ``overrides`` are validated keys from :func:`parse_access_overrides`. ``has_connection``
    tells a platform connector used through a connection (then classified like any app).
    """
    application = (normalise_provider(provider) or "").strip().lower()
    if not application:
        return StepAccess(None, None, "no_application")
    if is_platform_provider(application) and not has_connection:
        return StepAccess(None, None, "platform")
    name = (action_name or "").strip()
    lowered = name.lower()
    inp: Mapping[str, Any] = step_input if isinstance(step_input, Mapping) else {}

    is_http, raw_method = _http_method(application, name, inp)
    method = None
    if is_http and isinstance(raw_method, str) and raw_method.strip():
        if not is_dynamic(raw_method):
            method = raw_method.strip().upper()

    forced = _override(overrides, application, lowered)
    if forced is not None:
        return StepAccess(forced, method, "override")
    if keyword == "trigger":
        return StepAccess("read", method, "trigger")
    if is_http:
        if method in ("GET", "HEAD", "OPTIONS"):
            return StepAccess("read", method, "http_verb")
        if method == "POST" and _is_query_endpoint(_http_target(application, name, inp)):
            return StepAccess("read", method, "http_query_post")
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            return StepAccess("write", method, "http_verb")
        return StepAccess("unknown", method, "http_no_method")
    exception = EXCEPTIONS.get((application, lowered)) or EXCEPTIONS.get(("*", lowered))
    if exception is None:
        for (app, pattern), value in EXCEPTIONS.items():
            if "*" in pattern and app in (application, "*") and fnmatch.fnmatch(lowered, pattern):
                exception = value
                break
    if exception is not None:
        return StepAccess(exception, None, "exception")
    if lowered in SQL_ACTIONS:
        sql = inp.get("sql")
        found = classify_sql(sql)
        return StepAccess(found, None, "sql" if found != "unknown" else "sql_unknown")
    if lowered in PROCEDURE_ACTIONS:
        if isinstance(inp.get("sql"), str):
            found = classify_sql(inp["sql"])
            return StepAccess(found, None, "sql" if found != "unknown" else "sql_unknown")
        return StepAccess(_procedure(inp), None, "procedure")
    decided = _by_words(lowered)
    if decided is not None:
        return StepAccess(decided[0], None, decided[1])
    return StepAccess("unknown", None, "no_rule")


# ---------------------------------------------------------------------- the unknown share


@dataclass(frozen=True)
class AccessShare:
    """How many steps on outside applications read, write or are unknown."""

    read: int = 0
    write: int = 0
    unknown: int = 0

    @classmethod
    def from_counts(cls, counts: Mapping[str | None, int]) -> AccessShare:
        return cls(
            int(counts.get("read") or 0),
            int(counts.get("write") or 0),
            int(counts.get("unknown") or 0),
        )

    @property
    def total(self) -> int:
        return self.read + self.write + self.unknown

    @property
    def unknown_share(self) -> float:
        return self.unknown / self.total if self.total else 0.0

    def summary(self) -> str:
        """``step access: 1,234 steps on external apps: 60% read, 35% write, 5% unknown
        (see archy.unclassified_actions)``."""
        if not self.total:
            return "step access: no steps on external apps"
        counts = (self.read, self.write, self.unknown)
        parts = ", ".join(
            f"{value / self.total:.0%} {name}"
            for name, value in zip(ACCESS_VALUES, counts, strict=True)
        )
        hint = " (see archy.unclassified_actions)" if self.unknown else ""
        return f"step access: {self.total:,} steps on external apps: {parts}{hint}"
