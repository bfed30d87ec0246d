"""The console logger of the runs the command line executes: Dagster's own, without stacks.

Dagster's console logger prints each failure with its stack and chain of causes, about forty
lines a failure, and the command line then prints the reason in one line of its own. This
logger is Dagster's ``colored_console_logger`` (same format, same ``log_level`` setting) with
one filter: the failure events the command line reports itself (a step's, resources' or the
run's failure) are not printed, and any other event that carries an error is printed on one
line with the error's reason. The run's event log, which the UI shows, keeps every event
whole, stacks and all: loggers only decide what reaches the terminal.
"""

from __future__ import annotations

import logging

import dagster as dg

from archy_pipeline.run_failures import FAILURE_EVENTS, event_error, root_cause

#: Where Dagster puts its metadata (and the event) on the records its loggers receive.
_META = "dagster_meta"


class _OneLineFailures(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        event = (getattr(record, _META, None) or {}).get("dagster_event")
        if event is None:
            return True
        if event.event_type in FAILURE_EVENTS:
            return False  # the command line prints why, in one line
        error = event_error(event)
        if error is not None:  # each logger gets its own record: the event log is untouched
            cls_name, message = root_cause(error)
            headline = str(record.msg).split("\n", 1)[0]
            record.msg, record.args = f"{headline} {cls_name}: {message}", ()
        return True


@dg.logger(
    config_schema=dg.colored_console_logger.config_schema,
    description="Dagster's colored console logger, with failures on one line (the command "
    "line's runs).",
)
def cli_console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    logger = dg.colored_console_logger.logger_fn(init_context)
    logger.addFilter(_OneLineFailures())
    return logger


def with_cli_console(job: dg.JobDefinition) -> dg.JobDefinition:
    """``job`` logging to :func:`cli_console_logger` as ``console`` (its run config's
    ``loggers.console`` sets the level as before)."""
    return job.with_logger_defs({"console": cli_console_logger})
