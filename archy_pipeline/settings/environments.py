"""Which environment a connection points at, told by its name (``environments:`` in archy.yaml).

Pure: no I/O. The defaults below are the ``environments:`` section when archy.yaml does not
change them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

#: Environment names and the words that mark them in connection names, checked in order:
#: "preprod" must be staging before "prod" can make it production.
DEFAULT_ENVIRONMENTS: dict[str, tuple[str, ...]] = {
    "staging": ("staging", "stage", "stg", "uat", "preprod", "prepod", "preprd", "pre-prod"),
    "sandbox": ("sandbox", "sbx", "sbox", "sand"),
    "test": ("test", "tst", "qa", "testing"),
    "development": ("dev", "development", "develop"),
    "production": ("production", "prod", "prd", "live"),
}
ENVIRONMENTS = (*DEFAULT_ENVIRONMENTS, "unknown")

_WORD = re.compile(r"[A-Za-z0-9]+")


def environment_of(
    name: str | None, patterns: Mapping[str, Iterable[str]] = DEFAULT_ENVIRONMENTS
) -> str:
    """The environment a connection name points at ('unknown' when nothing says).

    Names are split into words ("ACME Production Salesforce", "slack_ops_prd",
    "SalesforceSandbox", "[HR] Workday PROD"), and the first environment with a matching
    word wins. Patterns with a hyphen (``pre-prod``) are matched against the whole name.
    """
    if not name:
        return "unknown"
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)
    words = {w.lower() for w in _WORD.findall(spaced)}
    words |= {w.rstrip("0123456789") for w in words}  # "prod2", "dev01"
    lowered = name.lower()
    for environment, markers in patterns.items():
        for marker in markers:
            marker = marker.lower()
            if marker in words or (not marker.isalnum() and marker in lowered):
                return environment
    return "unknown"
