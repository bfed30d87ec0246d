"""The environment variables archy-pipeline reads, read in one place.

:func:`read_environment` takes one snapshot of the environment; the Dagster resources and the
CLI hand its values down. No module below them reads ``os.environ`` (a test checks it).

=========================  =====================================================================
``ARCHY_CONFIG``           archy.yaml's path (default ``archy.yaml`` in the working directory)
``WORKATO_API_TOKEN``      the token, unless a workspace's ``token_env`` names another variable
``WORKATO_BASE_URL``       the API host when neither the resource nor archy.yaml says one
``WORKATO_DATA_CENTER``    the data center in that case (us, eu, jp, ...)
``ARCHY_DUCKDB_PATH``      the pipeline's DuckDB file (default ``data/warehouse.duckdb``)
``ARCHY_ANALYSTS_DUCKDB_PATH`` the analysts' snapshot (default ``analysts.duckdb`` beside it)
``ARCHY_DUCKDB_LOCK_WAIT_SECONDS`` how long to wait for a process holding the DuckDB file (60)
``ARCHY_POSTGRES_DSN``     PostgreSQL instead of DuckDB
``ARCHY_MODELS_DIR``       SQL models to load instead of the shipped ones
``ARCHY_WEBHOOK_INBOX``    the webhook inbox (default ``data/webhook_inbox.sqlite``)
``ARCHY_WEBHOOK_SECRET``   the webhook receiver's shared secret (``--secret-env`` names another)
``ARCHY_DAGSTER_URL``      the Dagster UI that notifications link to
``ARCHY_SMTP_HOST``, ``ARCHY_SMTP_PORT`` and the variables ``notifications:`` names
``ARCHY_SECRET_KEY``       the Fernet key of the stored tokens (:mod:`.credentials`)
``ARCHY_SECRET_KEY_FILE``  a file holding that key, instead of the OS keyring or the default file
``XDG_CONFIG_HOME``        where the default key file goes (``$HOME/.config`` when unset)
=========================  =====================================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr

CONFIG_ENV_VAR = "ARCHY_CONFIG"
TOKEN_ENV_VAR = "WORKATO_API_TOKEN"
BASE_URL_ENV_VAR = "WORKATO_BASE_URL"
DATA_CENTER_ENV_VAR = "WORKATO_DATA_CENTER"
DUCKDB_PATH_ENV_VAR = "ARCHY_DUCKDB_PATH"
ANALYSTS_PATH_ENV_VAR = "ARCHY_ANALYSTS_DUCKDB_PATH"
LOCK_WAIT_ENV_VAR = "ARCHY_DUCKDB_LOCK_WAIT_SECONDS"
POSTGRES_DSN_ENV_VAR = "ARCHY_POSTGRES_DSN"
MODELS_ENV_VAR = "ARCHY_MODELS_DIR"
WEBHOOK_INBOX_ENV_VAR = "ARCHY_WEBHOOK_INBOX"
WEBHOOK_SECRET_ENV_VAR = "ARCHY_WEBHOOK_SECRET"
UI_URL_ENV_VAR = "ARCHY_DAGSTER_URL"
SMTP_HOST_ENV_VAR = "ARCHY_SMTP_HOST"
SMTP_PORT_ENV_VAR = "ARCHY_SMTP_PORT"
REPORT_DIR_ENV_VAR = "ARCHY_REPORT_DIR"
SECRET_KEY_ENV_VAR = "ARCHY_SECRET_KEY"
SECRET_KEY_FILE_ENV_VAR = "ARCHY_SECRET_KEY_FILE"

#: The DuckDB file when neither the warehouse resource nor ``ARCHY_DUCKDB_PATH`` names one; its
#: folder is the data folder (the report, the stored tokens).
DEFAULT_DUCKDB_PATH = "data/warehouse.duckdb"


class EnvironmentVariables(BaseModel):
    """The variables with fixed names (unset or empty: None), and any named one on request."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    config_path: str | None = Field(default=None, alias=CONFIG_ENV_VAR)
    workato_base_url: str | None = Field(default=None, alias=BASE_URL_ENV_VAR)
    workato_data_center: str | None = Field(default=None, alias=DATA_CENTER_ENV_VAR)
    duckdb_path: str | None = Field(default=None, alias=DUCKDB_PATH_ENV_VAR)
    analysts_path: str | None = Field(default=None, alias=ANALYSTS_PATH_ENV_VAR)
    #: As written: the warehouse resource says whether it is a number of seconds.
    lock_wait_seconds: str | None = Field(default=None, alias=LOCK_WAIT_ENV_VAR)
    postgres_dsn: SecretStr | None = Field(default=None, alias=POSTGRES_DSN_ENV_VAR)
    models_dir: str | None = Field(default=None, alias=MODELS_ENV_VAR)
    webhook_inbox: str | None = Field(default=None, alias=WEBHOOK_INBOX_ENV_VAR)
    dagster_url: str | None = Field(default=None, alias=UI_URL_ENV_VAR)
    smtp_host: str | None = Field(default=None, alias=SMTP_HOST_ENV_VAR)
    #: As written: archy.yaml's checks say whether it is a port number.
    smtp_port: str | None = Field(default=None, alias=SMTP_PORT_ENV_VAR)
    report_dir: str | None = Field(default=None, alias=REPORT_DIR_ENV_VAR)
    secret_key: SecretStr | None = Field(default=None, alias=SECRET_KEY_ENV_VAR)
    secret_key_file: str | None = Field(default=None, alias=SECRET_KEY_FILE_ENV_VAR)
    xdg_config_home: str | None = Field(default=None, alias="XDG_CONFIG_HOME")
    home: str | None = Field(default=None, alias="HOME")

    _values: dict[str, str] = PrivateAttr(default_factory=dict)

    def secret(self, name: str) -> SecretStr | None:
        """The variable ``name`` (a token, a password, a webhook secret); None when unset."""
        value = self._values.get(name)
        return SecretStr(value) if value else None


#: Every fixed-name variable that changes what archy-pipeline does (not HOME and its kin):
#: what the tests and the benchmarks hide from a developer's shell.
SETTING_VARIABLES = tuple(
    sorted(
        {field.alias for field in EnvironmentVariables.model_fields.values()}
        - {"HOME", "XDG_CONFIG_HOME"}
        | {TOKEN_ENV_VAR, WEBHOOK_SECRET_ENV_VAR}
    )
)


def read_environment(environ: Mapping[str, str] | None = None) -> EnvironmentVariables:
    """One snapshot of the environment (``os.environ`` unless ``environ`` is given)."""
    values = {k: v for k, v in (os.environ if environ is None else environ).items() if v}
    aliases = {field.alias for field in EnvironmentVariables.model_fields.values()}
    variables = EnvironmentVariables.model_validate(
        {name: value for name, value in values.items() if name in aliases}
    )
    variables._values = values
    return variables
