"""Import speed, buildings per second: our importers against ``GeoDataFrame.to_postgis`` of the same rows.

Two cases, each measured in its own process, ours and the peer in the same run:

* **OSM extract** — the buildings of pyrosm's ``test_pbf`` (real OSM data) repeated ``copies`` times
  with distinct OSM ids (about 2,200 per copy), through :func:`layers.importers.osm.import_osm`
  (COPY into a temporary table, upsert keyed by OSM id, link to complexes and communities);
* **demo district** — the buildings of a 1,000,000-household synthetic district written to a
  GeoPackage and read back with :func:`gisgrid.readers.read_layer`, through
  :func:`layers.importers.files.import_layer` (validation, household estimates, upsert, linking).

The peer writes the very same GeoDataFrame with ``to_postgis(if_exists="replace")`` into a fresh
table: no validation, no upsert, no constraints to check, no linking — the floor of what a loader costs.
Reading the file is outside both timings.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.harness import case, run_in_subprocess


def _osm_buildings(copies: int) -> Any:
    import warnings

    import pandas as pd
    import pyrosm

    from gisgrid.osm import read_osm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        extract = read_osm(pyrosm.get_data("test_pbf"))
    parts = []
    for i in range(copies):
        part = extract.buildings.copy()
        part["source_ref"] = part["source_ref"] + f"#{i}"
        parts.append(part)
    return extract, pd.concat(parts, ignore_index=True)


def _demo_buildings(households: int, tmpdir: str) -> Any:
    from pathlib import Path

    from gisgrid.readers import read_layer
    from gisgrid.synth import generate_district

    district = generate_district(seed=7, households=households)
    b = district.buildings[["building_key", "name", "building_type", "levels", "units", "households", "geom"]]
    b = b.rename(columns={"building_key": "id"}).set_geometry("geom").rename_geometry("geometry")
    path = Path(tmpdir) / "buildings.gpkg"
    b.to_file(path, driver="GPKG")
    return read_layer(path, kind="buildings")


def _reset(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM building WHERE source IN ('osm', 'import')"))
        conn.execute(text("DROP TABLE IF EXISTS bench_peer_buildings"))
    engine.dispose()


def _peer(gdf: Any, url: str) -> float:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    t0 = time.perf_counter()
    gdf.to_postgis("bench_peer_buildings", engine, if_exists="replace", index=False)
    seconds = time.perf_counter() - t0
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_peer_buildings"))
    engine.dispose()
    return seconds


@case("osm_ours")
def osm_ours(*, url: str, copies: int) -> dict[str, Any]:
    import dataclasses

    from layers.db import make_engine
    from layers.importers.osm import import_osm

    extract, buildings = _osm_buildings(copies)
    only_buildings = dataclasses.replace(extract, buildings=buildings)
    for name in ("complexes", "street_nodes", "street_edges", "stations"):
        setattr(only_buildings, name, getattr(extract, name).iloc[0:0])
    _reset(url)
    engine = make_engine(url)
    t0 = time.perf_counter()
    report = import_osm(engine, only_buildings, progress=False)
    seconds = time.perf_counter() - t0
    engine.dispose()
    _reset(url)
    return {"seconds": seconds, "buildings": report.imported + report.updated}


@case("osm_peer")
def osm_peer(*, url: str, copies: int) -> dict[str, Any]:
    _, buildings = _osm_buildings(copies)
    _reset(url)
    return {"seconds": _peer(buildings, url), "buildings": len(buildings)}


@case("demo_ours")
def demo_ours(*, url: str, households: int) -> dict[str, Any]:
    import tempfile

    from layers.db import make_engine
    from layers.importers.files import import_layer

    with tempfile.TemporaryDirectory() as tmp:
        gdf = _demo_buildings(households, tmp)
    _reset(url)
    engine = make_engine(url)
    t0 = time.perf_counter()
    report = import_layer(engine, gdf, kind="buildings", source_name="bench", progress=False)
    seconds = time.perf_counter() - t0
    engine.dispose()
    _reset(url)
    return {"seconds": seconds, "buildings": report.imported + report.updated}


@case("demo_peer")
def demo_peer(*, url: str, households: int) -> dict[str, Any]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        gdf = _demo_buildings(households, tmp)
    _reset(url)
    return {"seconds": _peer(gdf, url), "buildings": len(gdf)}


def _row(label: str, ours: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any]:
    return {
        "benchmark": label,
        "buildings": ours["buildings"],
        "ours_s": round(ours["seconds"], 2),
        "ours_buildings_per_s": round(ours["buildings"] / ours["seconds"]),
        "ours_peak_mb": ours["peak_rss_mb"],
        "peer": "GeoDataFrame.to_postgis",
        "peer_s": round(peer["seconds"], 2),
        "peer_buildings_per_s": round(peer["buildings"] / peer["seconds"]),
        "peer_peak_mb": peer["peak_rss_mb"],
        "ratio_ours_over_peer": round((ours["buildings"] / ours["seconds"]) / (peer["buildings"] / peer["seconds"]), 2),
    }


def run(ctx: dict[str, Any]) -> list[dict[str, Any]]:
    url = ctx["url"]
    copies = 2 if ctx.get("quick") else 20
    households = 100_000 if ctx.get("quick") else 1_000_000
    rows = []
    ours = run_in_subprocess(__name__, "osm_ours", url=url, copies=copies)
    peer = run_in_subprocess(__name__, "osm_peer", url=url, copies=copies)
    rows.append(_row(f"OSM import, test_pbf buildings ×{copies}", ours, peer))
    ours = run_in_subprocess(__name__, "demo_ours", url=url, households=households)
    peer = run_in_subprocess(__name__, "demo_peer", url=url, households=households)
    rows.append(_row(f"GeoPackage import, demo district of {households:,} households", ours, peer))
    return rows
