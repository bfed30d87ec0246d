"""The naive per-recipe extractor: list the recipes, then GET each one.

What tools that read a Workato workspace recipe by recipe do: page through
``GET /api/recipes?exclude_code=true`` (100 a page, until a short page), then
``GET /api/recipes/:id`` for every recipe, to have its code. Nothing is parsed or stored: this
is the floor of such an extractor, its requests and its time at the quota.

It sends its requests through archy-pipeline's own ``WorkatoClient`` so that it is paced (and
retried) exactly as our sync is, with the same settings the bench gives our sync's child
process: ``--requests-per-minute`` per endpoint family and ``--rate-window-seconds`` for the
length of Workato's minute. The bench runs it as a child process and measures it as it
measures ``archy-pipeline sync``. The token comes from ``WORKATO_API_TOKEN``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

PER_PAGE = 100


def extract(client: object) -> dict[str, int]:
    """List every recipe without code, then fetch each one; return what was read."""
    ids: list[int] = []
    page = 1
    while True:
        items = client.get(  # type: ignore[attr-defined]
            "/recipes", {"page": page, "per_page": PER_PAGE, "exclude_code": "true"}
        )["items"]
        ids.extend(item["id"] for item in items)
        if len(items) < PER_PAGE:
            break
        page += 1
    code_bytes = 0
    for recipe_id in ids:
        recipe = client.get(f"/recipes/{recipe_id}")  # type: ignore[attr-defined]
        code_bytes += len(recipe.get("code") or "")
    return {"pages": page, "recipes": len(ids), "code_bytes": code_bytes}


def main(argv: list[str]) -> int:
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != here]
    from archy_pipeline.workato.client import WorkatoClient

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--requests-per-minute", type=int, default=60)
    parser.add_argument("--rate-window-seconds", type=float, default=60.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    with WorkatoClient(
        os.environ["WORKATO_API_TOKEN"],
        base_url=args.base_url,
        requests_per_minute=args.requests_per_minute,
        rate_window_seconds=args.rate_window_seconds,
    ) as client:
        read = extract(client)
        waited = client.rate_limiter.waited
    read_seconds = time.perf_counter() - started
    args.out.write_text(
        json.dumps({**read, "seconds": read_seconds, "quota_wait_seconds": waited}, indent=1)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
