"""``python -m benchmarks [--only NAME ...] [--quick]`` — run the benchmarks, print and save the figures."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from layers import bootstrap, migrate
from layers.settings import get_settings

MODULES = ("bench_demo", "bench_import", "bench_partition", "bench_incidents", "bench_coverage", "bench_siting",
           "bench_patrol", "bench_pages")
# several checkouts may share one PostgreSQL server, each with its own migrations: one bench database each
BENCH_DB = os.environ.get("GISGRID_BENCH_DATABASE", "gisgrid_bench")
RESULTS = Path(__file__).parent / "results"


def bench_database() -> str:
    """A migrated database of its own, so a benchmark never touches the demo or the test data."""
    settings = get_settings()
    url = bootstrap.database_url(Path(settings.state_dir), env_url=settings.database_url)
    server = bootstrap.Server(url=make_url(url).set(database="postgres").render_as_string(False), origin="bench")
    bootstrap.create_database(server, BENCH_DB, quiet=True)
    bench_url = server.database(BENCH_DB)
    bootstrap.ensure_postgis(bench_url, quiet=True)
    migrate.upgrade(bench_url)
    return bench_url


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--only", action="append", choices=MODULES, help="run only these modules")
    parser.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    args = parser.parse_args()

    ctx: dict[str, Any] = {"url": bench_database()}
    if args.quick:
        ctx["quick"] = True
        ctx["demo_sizes"] = (20_000,)
    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "results": [],
    }
    for name in args.only or MODULES:
        module = importlib.import_module(f"benchmarks.{name}")
        for row in module.run(ctx):
            row["module"] = name
            report["results"].append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    print(f"wrote {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    main()
