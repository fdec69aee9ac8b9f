"""The demo district at scale: generate and load 60k and 1M households.

Peer: ``GeoDataFrame.to_postgis`` / ``DataFrame.to_sql`` (GeoAlchemy2, SQLAlchemy 2 insertmanyvalues)
writing the very same frames into plain tables in the same database, in the same run.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.harness import case, run_in_subprocess

SIZES = (60_000, 1_000_000)


@case("generate")
def generate(*, households: int, seed: int = 7) -> dict[str, Any]:
    from gisgrid.synth import generate_district

    t0 = time.perf_counter()
    district = generate_district(seed=seed, households=households)
    seconds = time.perf_counter() - t0
    summary = district.summary()
    return {"seconds": round(seconds, 2), "buildings": summary["buildings"], "households": summary["households"]}


@case("load_ours")
def load_ours(*, households: int, url: str, seed: int = 7) -> dict[str, Any]:
    from gisgrid.synth import generate_district
    from layers.db import make_engine
    from layers.demo import load_district

    district = generate_district(seed=seed, households=households)
    engine = make_engine(url)
    t0 = time.perf_counter()
    counts = load_district(engine, district)
    seconds = time.perf_counter() - t0
    engine.dispose()
    return {"seconds": round(seconds, 2), "rows": sum(counts.values()), "buildings": counts.get("building", 0)}


@case("load_to_postgis")
def load_to_postgis(*, households: int, url: str, seed: int = 7) -> dict[str, Any]:
    """The peer: every frame the demo loader writes, via to_postgis/to_sql into bench_* tables."""
    import geopandas as gpd
    from sqlalchemy import create_engine, text

    from gisgrid.synth import generate_district

    district = generate_district(seed=seed, households=households)
    engine = create_engine(url)
    frames = district.frames()
    rows = 0
    t0 = time.perf_counter()
    for name, frame in frames.items():
        table = f"bench_peer_{name}"
        frame = frame.copy()
        for col in frame.columns:  # to_sql cannot write lists, dicts or extra geometry columns
            if col != getattr(frame, "_geometry_column_name", None) and frame[col].dtype == object:
                frame[col] = frame[col].map(lambda v: v if v is None or isinstance(v, str | int | float) else str(v))
        if isinstance(frame, gpd.GeoDataFrame):
            frame.to_postgis(table, engine, if_exists="replace", index=False)
        else:
            frame.to_sql(table, engine, if_exists="replace", index=False)
        rows += len(frame)
    seconds = time.perf_counter() - t0
    with engine.begin() as conn:
        for name in frames:
            conn.execute(text(f"DROP TABLE IF EXISTS bench_peer_{name}"))
    engine.dispose()
    return {"seconds": round(seconds, 2), "rows": rows}


def run(ctx: dict[str, Any]) -> list[dict[str, Any]]:
    results = []
    for households in ctx.get("demo_sizes", SIZES):
        gen = run_in_subprocess(__name__, "generate", households=households)
        ours = run_in_subprocess(__name__, "load_ours", households=households, url=ctx["url"])
        peer = run_in_subprocess(__name__, "load_to_postgis", households=households, url=ctx["url"])
        results.append(
            {
                "benchmark": f"demo district, {households:,} households",
                "generate_s": gen["seconds"],
                "generate_peak_mb": gen["peak_rss_mb"],
                "buildings": gen["buildings"],
                "rows": ours["rows"],
                "ours_load_s": ours["seconds"],
                "ours_peak_mb": ours["peak_rss_mb"],
                "peer": "GeoDataFrame.to_postgis / DataFrame.to_sql",
                "peer_load_s": peer["seconds"],
                "peer_peak_mb": peer["peak_rss_mb"],
                "speedup_vs_peer": round(peer["seconds"] / ours["seconds"], 2) if ours["seconds"] else None,
            }
        )
    return results
