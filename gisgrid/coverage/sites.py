"""Demand and candidate sites on the street network.

**Demand** is buildings weighted by households, snapped at their door (:func:`gisgrid.network.snap_buildings`:
a door on the outline, else the footprint's point nearest a street). A building with no households
asks for nothing and is left out.

**Candidates** are where a new post could open:

* a complex's **entrance** — its gates when they are known, else the point of the complex's outline
  nearest a street (where a gate most likely is, and where a red heart station stands in practice);
* a building's **entrance** — its door, or the footprint's point nearest a street;
* points a planner **gives** (rooms on offer, say) — then only those.

Two candidates at the same street spot (same edge, within a metre along it and off it) are one site:
the first listed is kept, so a complex entrance wins over a building door at the same spot.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid.errors import InvalidInputError
from gisgrid.network import Snap, StreetNetwork, snap_buildings, snap_points

__all__ = ["CANDIDATE_KINDS", "Candidates", "Demand", "building_demand", "candidate_sites"]

CANDIDATE_KINDS = ("given", "complex_entrance", "building_entrance")
SAME_SPOT_M = 1.0


@dataclass(frozen=True, eq=False)
class Demand:
    """Buildings that ask for service: ``ref`` (building id), ``weight`` (households), where each meets
    the street (``snap``) and its door (``door``, in the network's metric CRS)."""

    ref: np.ndarray
    weight: np.ndarray
    snap: Snap
    door: np.ndarray

    def __len__(self) -> int:
        return len(self.ref)


@dataclass(frozen=True, eq=False)
class Candidates:
    """Candidate sites: ``kind`` (one of :data:`CANDIDATE_KINDS`), ``ref`` (complex id, building id or the
    given point's position), ``name``, the ``site`` point (metric CRS) and its ``snap``."""

    kind: np.ndarray
    ref: np.ndarray
    name: np.ndarray
    site: np.ndarray
    snap: Snap

    def __len__(self) -> int:
        return len(self.kind)

    def take(self, index: np.ndarray | list[int]) -> Candidates:
        idx = np.asarray(index, dtype=np.int64)
        return Candidates(self.kind[idx], self.ref[idx], self.name[idx], self.site[idx], self.snap.take(idx))


def _ids(gdf: gpd.GeoDataFrame) -> np.ndarray:
    return (gdf["id"] if "id" in gdf.columns else gdf.index.to_series()).to_numpy(dtype=object)


def _names(gdf: gpd.GeoDataFrame) -> np.ndarray:
    if "name" not in gdf.columns:
        return np.full(len(gdf), "", dtype=object)
    return gdf["name"].fillna("").astype(str).to_numpy(dtype=object)


def _doors(
    net: StreetNetwork, footprints: np.ndarray, entrances: np.ndarray | None
) -> tuple[Snap, np.ndarray]:
    """Snaps of buildings and the door each walks from (its entrance, else the footprint's nearest point)."""
    snaps, used = snap_buildings(net, footprints, entrances)
    nearest = shapely.get_point(shapely.shortest_line(footprints, net.edge_lines[snaps.edge]), 0)
    door = np.where(used, entrances if entrances is not None else nearest, nearest)
    return snaps, door


def _entrances(net: StreetNetwork, buildings: gpd.GeoDataFrame) -> np.ndarray | None:
    if "entrance" not in buildings.columns:
        return None
    return net.to_metric(gpd.GeoSeries(buildings["entrance"].to_numpy(), crs=buildings.crs))


def building_demand(net: StreetNetwork, buildings: gpd.GeoDataFrame) -> Demand:
    """The buildings with households > 0 (footprint geometry, optional ``entrance`` points in the same
    CRS, ``households``; ids from ``id`` or the index) as demand on ``net``."""
    if "households" not in buildings.columns:
        raise InvalidInputError(
            "buildings need a households column", field="households", rule="demand weight"
        )
    weight = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy(dtype=float)
    keep = weight > 0
    part = buildings[keep]
    if not len(part):
        empty = Snap(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, dtype=object))
        return Demand(np.zeros(0, dtype=object), np.zeros(0), empty, np.zeros(0, dtype=object))
    snaps, door = _doors(net, net.to_metric(part.geometry), _entrances(net, part))
    return Demand(_ids(part), weight[keep], snaps, door)


def _complex_entrances(
    net: StreetNetwork, complexes: gpd.GeoDataFrame, gates: gpd.GeoDataFrame | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ref, name, site) of every complex: one site per gate where gates are known, else its outline's
    point nearest a street."""
    ids, names = _ids(complexes), _names(complexes)
    outlines = shapely.boundary(net.to_metric(complexes.geometry))  # a footway inside is no entrance
    refs: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    sites: list[np.ndarray] = []
    gated = np.zeros(len(complexes), dtype=bool)
    if gates is not None and len(gates):
        if "complex_id" not in gates.columns:
            raise InvalidInputError(
                "gates need a complex_id column", field="gates.complex_id", rule="gate of a complex"
            )
        pos = {ref: k for k, ref in enumerate(ids.tolist())}
        owner = np.array([pos.get(c, -1) for c in gates["complex_id"].tolist()], dtype=np.int64)
        known = owner >= 0
        gated[owner[known]] = True
        refs.append(ids[owner[known]])
        labels.append(names[owner[known]])
        sites.append(net.to_metric(gates.geometry)[known])
    rest = np.flatnonzero(~gated)
    if len(rest):
        edge = net.edge_tree.query_nearest(outlines[rest], all_matches=False)[1]
        refs.append(ids[rest])
        labels.append(names[rest])
        sites.append(shapely.get_point(shapely.shortest_line(outlines[rest], net.edge_lines[edge]), 0))
    if not refs:
        return (np.zeros(0, dtype=object),) * 3  # type: ignore[return-value]
    return np.concatenate(refs), np.concatenate(labels), np.concatenate(sites)


def candidate_sites(
    net: StreetNetwork,
    *,
    complexes: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    gates: gpd.GeoDataFrame | None = None,
    given: gpd.GeoDataFrame | None = None,
) -> Candidates:
    """Candidate sites from complexes (polygons; ``id``, ``name``), their ``gates`` (points with
    ``complex_id``), buildings (footprints, optional ``entrance``; ``id``, ``name``) and ``given``
    points (``name``). Given points, when any, are the only candidates."""
    kinds: list[np.ndarray] = []
    refs: list[np.ndarray] = []
    names: list[np.ndarray] = []
    sites: list[np.ndarray] = []
    snaps: list[Snap] = []

    def add(kind: str, ref: np.ndarray, name: np.ndarray, site: np.ndarray, snap: Snap | None = None) -> None:
        if not len(ref):
            return
        kinds.append(np.full(len(ref), kind, dtype=object))
        refs.append(np.asarray(ref, dtype=object))
        names.append(np.asarray(name, dtype=object))
        sites.append(np.asarray(site, dtype=object))
        snaps.append(snap if snap is not None else snap_points(net, site))

    if given is not None and len(given):
        add("given", np.arange(len(given), dtype=object), _names(given), net.to_metric(given.geometry))
    else:
        if complexes is not None and len(complexes):
            add("complex_entrance", *_complex_entrances(net, complexes, gates))
        if buildings is not None and len(buildings):
            snap, door = _doors(net, net.to_metric(buildings.geometry), _entrances(net, buildings))
            add("building_entrance", _ids(buildings), _names(buildings), door, snap)
    if not kinds:
        empty = Snap(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, dtype=object))
        none = np.zeros(0, dtype=object)
        return Candidates(none, none, none, none, empty)
    out = Candidates(
        np.concatenate(kinds),
        np.concatenate(refs),
        np.concatenate(names),
        np.concatenate(sites),
        Snap.concat(snaps),
    )
    spot = pd.DataFrame(
        {
            "edge": out.snap.edge,
            "along": np.round(out.snap.along / SAME_SPOT_M),
            "offset": np.round(out.snap.offset / SAME_SPOT_M),
        }
    )
    return out.take(np.flatnonzero(~spot.duplicated().to_numpy()))
