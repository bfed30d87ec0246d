"""Benchmark: generate a Workato workspace and serve its recipes over HTTP.

Run from the repository root::

    .venv/bin/python bench/bench_simulator.py            # 5,000 and 1,000 recipes
    .venv/bin/python bench/bench_simulator.py --sizes 300 --repeat 5

For each size it prints (nothing is asserted):

* generate: median wall time of ``generate_workspace(seed, recipes=N)`` over ``--repeat`` runs;
* serve: median wall time to page through ``GET /api/recipes?per_page=100&page=1..N/100``
  with one keep-alive httpx client against the local simulator (rate limits off), with
  pages/s, recipes/s and the megabytes of response bodies transferred;
* the ratio of the largest size to the smallest for both figures.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import time

import httpx
from workato_simulator.generator import describe, generate_workspace
from workato_simulator.server import WorkatoSimulator

PER_PAGE = 100


def bench_generate(recipes: int, repeat: int, seed: int) -> tuple[float, object]:
    times = []
    ws = None
    for _ in range(repeat):
        ws = None  # free the previous run first so the collector does not scan it
        gc.collect()
        start = time.perf_counter()
        ws = generate_workspace(seed, recipes=recipes)
        times.append(time.perf_counter() - start)
    return statistics.median(times), ws


def bench_serve(ws, recipes: int, repeat: int) -> dict[str, float]:
    pages = -(-recipes // PER_PAGE)
    runs = []
    with WorkatoSimulator(ws, rate_limits=None) as sim:
        headers = {"Authorization": f"Bearer {sim.token}"}
        with httpx.Client(base_url=sim.base_url, headers=headers, timeout=60) as client:
            client.get("/users/me").raise_for_status()  # open the keep-alive connection
            for _ in range(repeat):
                received = 0
                items = 0
                start = time.perf_counter()
                for page in range(1, pages + 1):
                    resp = client.get("/recipes", params={"per_page": PER_PAGE, "page": page})
                    resp.raise_for_status()
                    received += len(resp.content)
                    items += len(resp.json()["items"])
                elapsed = time.perf_counter() - start
                if items != recipes:
                    raise RuntimeError(f"served {items} recipes, expected {recipes}")
                runs.append((elapsed, received))
    elapsed = statistics.median(r[0] for r in runs)
    megabytes = runs[0][1] / 1_000_000
    return {
        "pages": pages,
        "seconds": elapsed,
        "pages_per_s": pages / elapsed,
        "recipes_per_s": recipes / elapsed,
        "mb": megabytes,
        "mb_per_s": megabytes / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    print(
        f"python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs; median of {args.repeat} runs"
    )
    results = {}
    ws = None
    for size in args.sizes:
        ws = None
        gen_s, ws = bench_generate(size, args.repeat, args.seed)
        stats = describe(ws)
        serve = bench_serve(ws, size, args.repeat)
        results[size] = (gen_s, serve)
        print(
            f"\n{size} recipes ({stats.steps} steps, {stats.connections} connections, "
            f"{stats.folders} folders)"
        )
        print(f"  generate: {gen_s:.2f} s ({size / gen_s:,.0f} recipes/s)")
        print(
            f"  serve:    {serve['pages']} pages of {PER_PAGE} in {serve['seconds']:.2f} s = "
            f"{serve['pages_per_s']:.1f} pages/s, {serve['recipes_per_s']:,.0f} recipes/s, "
            f"{serve['mb']:.1f} MB ({serve['mb_per_s']:.1f} MB/s)"
        )
    if len(results) > 1:
        big, small = max(results), min(results)
        gen_ratio = results[big][0] / results[small][0]
        serve_ratio = results[big][1]["seconds"] / results[small][1]["seconds"]
        print(
            f"\nratio {big}/{small} recipes ({big / small:.1f}x): generate {gen_ratio:.2f}x, "
            f"serve {serve_ratio:.2f}x"
        )


if __name__ == "__main__":
    main()
