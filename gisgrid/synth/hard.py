"""Hard districts for the grid planner: tall buildings, a river with few bridges, irregular streets, open land.

The demo district (:mod:`gisgrid.synth.district`) plans perfectly because everything in it is regular.
Real extracts are not, and :func:`generate_hard_district` makes districts with what real extracts have,
from a seed (the same seed gives identical frames):

* **tall buildings** — towers of 18–33 floors with 2–4 entrances (单元) and 2–4 flats per floor and
  entrance, slabs of 6 floors, low-rise houses; about 4 % are *giant* (550–1,200 households), of which a
  third record only their floors (``levels``) and no entrances, a third only their entrances
  (``units``) with floors unknown, and the rest both. ``indivisible`` giant buildings more have one
  floor and one entrance (they cannot be split: the planner must report them);
* **a river** — a meandering band of water (a ``water`` polygon and its ``river`` centre line) crossing
  the district west to east, with ``bridges`` streets (1–2) crossing it; every other street stops at
  the banks;
* **irregular streets** — a jittered lattice of wavy streets with dead ends (segments dropped at random)
  and two diagonals; every third line is a ``secondary`` road, the rest ``residential``;
* **a railway** running north–south through the eastern part, and a **walled** campus (the wall is an
  outline polygon) — both ``barriers``;
* **open land** — a park with a lake in it (another ``water`` polygon) and no buildings.

Buildings carry ``households``, ``levels`` (nullable), ``units`` (nullable), ``name`` (``{complex}{n}号楼``),
``source_ref`` (``synthetic/way/{n}``) and ``complex_key``; most blocks are one residential complex.
Everything is in EPSG:4326; the layout is worked in UTM 50N metres around 117.30 E, 34.80 N.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from gisgrid.errors import InvalidInputError
from gisgrid.synth.geometry import METRIC_CRS, WGS84, reproject

__all__ = ["HardDistrict", "generate_hard_district"]

_ORIGIN = (500_000.0 - 30_000.0, 3_850_000.0)  # UTM 50N metres, near 117.30 E, 34.80 N
_SPACING = 55.0  # metres of district side per √building, plus _MARGIN_M: about 1,900 m for 1,000 buildings
_MARGIN_M = 200.0  # the river, streets and park take a larger share of a small district
_STREET_PITCH = (210.0, 170.0)  # between street lines, before jitter
_STREET_SETBACK = 9.0  # buildings keep this far from a street centre line
_RIVER_WIDTH = (40.0, 70.0)
_GIANT_SHARE = 0.04
_TOWER_SHARE = 0.35
_LOW_SHARE = 0.15
_PLACEMENT_ROUNDS = 6  # finer lattices tried (each 10 % finer) until the buildings fit


@dataclass
class HardDistrict:
    """A generated hard district: ``buildings`` (indexed by ``building_key``), the ``community`` polygon,
    ``streets`` (``highway``, ``bridge``), ``barriers`` (``kind``, ``name``) and the ``park`` polygon,
    all EPSG:4326."""

    buildings: gpd.GeoDataFrame
    community: shapely.Polygon
    streets: gpd.GeoDataFrame
    barriers: gpd.GeoDataFrame
    park: shapely.Polygon
    seed: int


def _wavy(points: np.ndarray, rng: np.random.Generator, amplitude: float) -> shapely.LineString:
    """A polyline through ``points`` with each inner vertex moved sideways by up to ``amplitude``."""
    pts = points.astype(float).copy()
    if len(pts) > 2:
        pts[1:-1] += rng.uniform(-amplitude, amplitude, size=(len(pts) - 2, 2))
    return shapely.LineString(pts)


def _river(width: float, height: float, rng: np.random.Generator) -> tuple[shapely.LineString, shapely.Polygon]:
    xs = np.linspace(-20, width + 20, 24)
    phase = rng.uniform(0, 2 * math.pi)
    ys = height * 0.45 + height * 0.06 * np.sin(xs / width * 3 * math.pi + phase) + rng.uniform(-8, 8, len(xs))
    centre = shapely.LineString(np.column_stack([xs, ys]))
    half = rng.uniform(*_RIVER_WIDTH) / 2
    return centre, centre.buffer(half, cap_style="flat")


def _streets(width: float, height: float, rng: np.random.Generator, river: shapely.Polygon,
             bridges: int) -> tuple[list[shapely.LineString], list[str], list[bool]]:
    lines: list[shapely.LineString] = []
    kinds: list[str] = []
    for axis, (length, across, pitch) in enumerate(((height, width, _STREET_PITCH[0]),
                                                     (width, height, _STREET_PITCH[1]))):
        count = int(across // pitch)
        for i in range(1, count + 1):
            at = i * across / (count + 1) + rng.uniform(-0.2, 0.2) * pitch
            steps = np.linspace(0, length, 9)
            for a, b in itertools.pairwise(steps):
                if rng.random() < 0.12:  # a dead end or a missing link
                    continue
                seg = np.array([[at, a], [at, b]]) if axis == 0 else np.array([[a, at], [b, at]])
                mid = seg.mean(axis=0)
                seg = np.vstack([seg[0], mid, seg[1]])
                lines.append(_wavy(seg, rng, 12.0))
                kinds.append("secondary" if i % 3 == 0 else "residential")
    for start, end in (((0.0, 0.1 * height), (0.55 * width, height)), ((0.6 * width, 0.0), (width, 0.7 * height))):
        lines.append(_wavy(np.linspace(start, end, 8), rng, 15.0))
        kinds.append("tertiary")
    # streets stop at the banks, except the bridges
    out: list[shapely.LineString] = []
    out_kind: list[str] = []
    out_bridge: list[bool] = []
    for line, kind in zip(lines, kinds, strict=True):
        for part in shapely.get_parts(line.difference(river.buffer(2.0))):
            if isinstance(part, shapely.LineString) and part.length > 5:
                out.append(part)
                out_kind.append(kind)
                out_bridge.append(False)
    bounds = river.bounds
    for j in range(bridges):
        x = width * (0.3 + 0.4 * j) + rng.uniform(-60, 60)
        out.append(shapely.LineString([(x, bounds[1] - 30), (x, bounds[3] + 30)]))
        out_kind.append("secondary")
        out_bridge.append(True)
    return out, out_kind, out_bridge


def _households(kind: str, rng: np.random.Generator) -> tuple[int, int | None, int | None]:
    """(households, levels, units) of a building of ``kind``."""
    if kind == "giant":
        levels, units, flats = int(rng.integers(26, 34)), int(rng.integers(3, 5)), int(rng.integers(5, 9))
        hh = min(1_200, max(550, levels * units * flats))
        known = rng.random()
        return hh, (levels if known < 2 / 3 else None), (units if known >= 1 / 3 else None)
    if kind == "tower":
        levels, units, flats = int(rng.integers(18, 34)), int(rng.integers(1, 3)), int(rng.integers(2, 5))
        hh = min(480, levels * units * flats)
        return hh, levels, (units if rng.random() < 0.7 else None)
    if kind == "slab":
        units = int(rng.integers(2, 5))
        return 6 * units * 2, 6, units
    levels = int(rng.integers(1, 4))
    return int(rng.integers(1, 6)), levels, 1


def _place(rng: np.random.Generator, width: float, height: float, pitch: float, wanted: int, area: shapely.Polygon,
           blocked: shapely.Geometry, campus: shapely.Polygon,
           block_tree: shapely.STRtree) -> tuple[list[dict[str, object]], list[shapely.Polygon]]:
    gx, gy = np.meshgrid(np.arange(pitch / 2, width, pitch), np.arange(pitch / 2, height, pitch))
    slots = np.column_stack([gx.ravel(), gy.ravel()]) + rng.uniform(-6, 6, size=(gx.size, 2))
    rows: list[dict[str, object]] = []
    footprints: list[shapely.Polygon] = []
    for x, y in slots[rng.permutation(len(slots))]:
        if len(rows) >= wanted:
            break
        r = rng.random()
        kind = "giant" if r < _GIANT_SHARE else "tower" if r < _GIANT_SHARE + _TOWER_SHARE else \
            "low" if r < _GIANT_SHARE + _TOWER_SHARE + _LOW_SHARE else "slab"
        half = {"giant": (30, 9), "tower": (13, 9), "slab": (24, 6), "low": (6, 5)}[kind]
        theta = rng.uniform(-0.2, 0.2)
        foot = shapely.affinity.rotate(shapely.box(x - half[0], y - half[1], x + half[0], y + half[1]), theta,
                                       use_radians=True)
        if blocked.intersects(foot) or not area.contains(foot) or \
                (footprints and bool(shapely.dwithin(np.asarray(footprints, dtype=object), foot, 4.0).any())):
            continue
        hh, levels, units = _households(kind, rng)
        hit = block_tree.query(shapely.Point(x, y), predicate="within")
        block = int(hit[0]) if len(hit) else -1
        rows.append({"households": hh, "levels": levels, "units": units, "kind": kind, "block": block,
                     "in_campus": bool(campus.contains(shapely.Point(x, y)))})
        footprints.append(foot)
    return rows, footprints


def generate_hard_district(seed: int = 0, buildings: int = 1_000, *, bridges: int = 2,
                           indivisible: int = 0) -> HardDistrict:
    """A hard district of about ``buildings`` buildings (see the module docstring).

    Parameters
    ----------
    seed
        Fixes everything; the same seed gives identical frames.
    buildings
        About how many buildings (≥ 50).
    bridges
        Streets crossing the river (1 or 2).
    indivisible
        Giant buildings with one floor and one entrance added (they cannot be split).
    """
    if buildings < 50:
        raise InvalidInputError(f"buildings={buildings} is too few for a district", field="buildings",
                                rule="at least 50 buildings")
    if bridges not in (1, 2):
        raise InvalidInputError(f"bridges={bridges}", field="bridges", rule="1 or 2 bridges")
    if indivisible < 0:
        raise InvalidInputError(f"indivisible={indivisible}", field="indivisible", rule="≥ 0")
    rng = np.random.default_rng(seed)
    side = math.sqrt(buildings) * _SPACING + _MARGIN_M
    width, height = side * 1.15, side / 1.15
    area = shapely.box(0, 0, width, height)
    centre, river = _river(width, height, rng)
    river = river.intersection(area)
    park = shapely.box(0.08 * width, 0.65 * height, 0.08 * width + 0.17 * width, 0.65 * height + 0.2 * height)
    lake = shapely.Point(park.centroid.x, park.centroid.y).buffer(min(park.bounds[2] - park.bounds[0],
                                                                     park.bounds[3] - park.bounds[1]) * 0.25)
    campus = shapely.box(0.62 * width, 0.7 * height, 0.62 * width + 0.16 * width, 0.7 * height + 0.18 * height)
    rail_x = 0.86 * width
    railway = _wavy(np.array([[rail_x, -10], [rail_x + 30, height / 2], [rail_x - 20, height + 10]]), rng, 5.0)
    streets, kinds, is_bridge = _streets(width, height, rng, river, bridges)
    street_zone = shapely.union_all([s.buffer(_STREET_SETBACK) for s in streets])
    blocked = shapely.union_all([river.buffer(8), park, street_zone, railway.buffer(15), campus.boundary.buffer(4)])
    shapely.prepare(blocked)

    # building slots: a jittered lattice, kept off streets, water, the park, the railway, the wall and each
    # other; the lattice is made finer until it holds the buildings asked for
    blocks = [b for b in shapely.get_parts(shapely.polygonize(shapely.get_parts(
        shapely.union_all([area.boundary, *streets, river.boundary])))) if b.area > 0]
    block_tree = shapely.STRtree(blocks)
    pitch = _SPACING * 0.72
    for _ in range(_PLACEMENT_ROUNDS):
        rows, footprints = _place(rng, width, height, pitch, buildings, area, blocked, campus, block_tree)
        if len(rows) >= buildings:
            break
        pitch *= 0.9
    for j in range(indivisible):  # one floor, one entrance, too many households: cannot be split
        for x, y in rng.uniform((40, 40), (width - 40, height - 40), size=(400, 2)):
            foot = shapely.box(x - 30, y - 20, x + 30, y + 20)
            if not blocked.intersects(foot) and area.contains(foot) and \
                    not any(foot.intersects(f) for f in footprints):
                rows.append({"households": 600 + 100 * j, "levels": 1, "units": 1, "kind": "hall", "block": -2 - j,
                             "in_campus": False})
                footprints.append(foot)
                break
    frame = pd.DataFrame(rows)
    # complexes: most blocks are one complex (the campus is one), a few blocks are loose buildings
    block_ids = sorted(set(frame["block"].tolist()))
    named = {b: (f"HC{n:03d}" if rng.random() < 0.85 else None) for n, b in enumerate(block_ids)}
    frame["complex_key"] = [("HC-campus" if c else named[b]) for b, c in zip(frame["block"], frame["in_campus"],
                                                                           strict=True)]
    counter: dict[object, int] = {}
    names = []
    for key in frame["complex_key"]:
        counter[key] = counter.get(key, 0) + 1
        names.append(f"{key or '散楼'}{counter[key]}号楼")
    frame["name"] = names
    frame["source_ref"] = [f"synthetic/way/{seed * 100_000 + i}" for i in range(len(frame))]
    frame["levels"] = pd.array(frame["levels"], dtype="Int64")
    frame["units"] = pd.array(frame["units"], dtype="Int64")

    to_wgs = Transformer.from_crs(METRIC_CRS, WGS84, always_xy=True)

    def wgs(geoms: list[shapely.Geometry]) -> np.ndarray:
        arr = np.asarray(geoms, dtype=object)
        return reproject(shapely.transform(arr, lambda c: c + np.asarray(_ORIGIN)), to_wgs)

    b = gpd.GeoDataFrame(frame[["households", "levels", "units", "name", "source_ref", "complex_key"]],
                         geometry=wgs(footprints), crs=WGS84)
    b.index = pd.Index([f"H{i:05d}" for i in range(len(b))], name="building_key")
    streets_gdf = gpd.GeoDataFrame({"highway": kinds, "bridge": is_bridge}, geometry=wgs(streets), crs=WGS84)
    barriers = gpd.GeoDataFrame(
        {"kind": ["water", "river", "water", "railway", "wall"],
         "name": ["river", "river centre line", "park lake", "railway", "campus wall"]},
        geometry=wgs([river, centre.intersection(area), lake, railway.intersection(area), campus]), crs=WGS84)
    community = wgs([area])[0]
    return HardDistrict(buildings=b, community=community, streets=streets_gdf, barriers=barriers,
                        park=wgs([park])[0], seed=seed)
