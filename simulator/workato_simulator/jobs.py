"""Job history for ``GET /api/recipes/:id/jobs``, made up deterministically from the recipe.

The simulator does not run recipes; it derives a plausible, stable job list from each
recipe's counts so the endpoint has Workato's shape and filters (reference §2.8).
"""

from __future__ import annotations

import random
from datetime import timedelta, timezone
from typing import Any

from workato_simulator.workspace import Recipe, format_ts

#: How many recent jobs the endpoint returns per call.
JOBS_PAGE = 100
#: Jobs kept per recipe; older history only shows in the counts.
JOBS_KEPT = 300


def recent_jobs(recipe: Recipe, tz: timezone) -> list[dict[str, Any]]:
    """The recipe's most recent jobs, newest first, always the same for the same recipe."""
    total = recipe.job_succeeded_count + recipe.job_failed_count
    kept = min(total, JOBS_KEPT)
    if kept == 0 or recipe.last_run_at is None:
        return []
    rng = random.Random(recipe.id)
    failure_ratio = recipe.job_failed_count / total
    jobs = []
    started = recipe.last_run_at
    for index in range(kept):
        failed = rng.random() < failure_ratio
        duration = timedelta(seconds=rng.randint(1, 120))
        handle = f"j-{recipe.id:x}-{kept - index:05d}"
        jobs.append(
            {
                "id": handle,
                "flow_run_id": recipe.id * 100000 + kept - index,
                "started_at": format_ts(started, tz),
                "completed_at": format_ts(started + duration, tz),
                "title": f"Job {kept - index} of {recipe.name}",
                "is_poll_error": False,
                "error": "Connection timed out" if failed else None,
                "is_error": failed,
                "status": "failed" if failed else "succeeded",
            }
        )
        started -= timedelta(minutes=rng.randint(5, 600))
    return jobs


def list_jobs(
    recipe: Recipe,
    tz: timezone,
    *,
    offset_job_id: str | None = None,
    prev: bool = False,
    status: str | None = None,
) -> dict[str, Any]:
    """The body of ``GET /api/recipes/:id/jobs``."""
    jobs = recent_jobs(recipe, tz)
    if status:
        jobs = [j for j in jobs if j["status"] == status]
    if offset_job_id:
        ids = [j["id"] for j in jobs]
        if offset_job_id in ids:
            at = ids.index(offset_job_id)
            jobs = jobs[:at][::-1] if prev else jobs[at + 1 :]
    return {
        "job_succeeded_count": recipe.job_succeeded_count,
        "job_failed_count": recipe.job_failed_count,
        "job_count": recipe.job_succeeded_count + recipe.job_failed_count,
        "items": jobs[:JOBS_PAGE],
    }
