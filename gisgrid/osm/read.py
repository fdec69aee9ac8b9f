"""Open an OSM file — ``.osm.pbf`` with pyrosm, ``.osm`` XML copied to PBF with pyosmium first — into an
:class:`OsmExtract`.

An unknown extension, a missing, empty, truncated or non-OSM file raises
:class:`~gisgrid.errors.InvalidInputError` naming the field ``file`` and the rule; so does a file holding
none of the four kinds of features.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from gisgrid.errors import InvalidInputError
from gisgrid.households import summarise_methods
from gisgrid.osm.barriers import BARRIER_FILTER, barriers_from
from gisgrid.osm.features import (
    STATION_AMENITIES,
    STATION_NAME,
    buildings_from,
    complexes_from,
    stations_from,
)
from gisgrid.osm.network import network_from
from gisgrid.osm.tags import WGS84, polygon_rows
from gisgrid.report import Problem

__all__ = ["OsmExtract", "read_osm"]

PBF_SUFFIXES = (".osm.pbf", ".pbf")
XML_SUFFIXES = (".osm", ".osm.gz", ".osm.bz2", ".osm.xml")

# pyrosm warns (UserWarning) when a layer is empty; an empty layer is a normal outcome here.
_EMPTY_LAYER_WARNING = r"Could not find any .* for given area"


def _empty(columns: Sequence[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in columns}, geometry=[], crs=WGS84)


BUILDING_COLUMNS = (
    "source_ref", "name", "building", "building_type", "levels", "height", "households",
    "households_estimated", "households_method",
)
COMPLEX_COLUMNS = ("source_ref", "name", "named")
NODE_COLUMNS = ("source_ref", "component")
EDGE_COLUMNS = ("source_ref", "source_node_ref", "target_node_ref", "length_m", "name", "highway")
STATION_COLUMNS = ("source_ref", "name", "kind", "status", "opened_on")
BARRIER_COLUMNS = ("source_ref", "kind", "name")


@dataclass
class OsmExtract:
    """What :func:`read_osm` found, as GeoDataFrames in EPSG:4326 (geometry column ``geometry``).

    buildings
        ``source_ref, name, building (OSM value), building_type, levels (Int64, mapped or null),
        height, households, households_estimated, households_method`` and a MultiPolygon.
    complexes
        ``source_ref, name, named`` and a MultiPolygon.
    street_nodes
        ``source_ref`` (``node/ID``), ``component`` (0 = largest) and a Point.
    street_edges
        ``source_ref`` (``way/ID/k``), ``source_node_ref``, ``target_node_ref``, ``length_m``,
        ``name``, ``highway`` and a two-point LineString.
    stations
        ``source_ref, name, kind, status, opened_on (date or None)`` and a Point.
    barriers
        ``source_ref, kind (river, water, railway, wall), name`` and a line or polygon
        (:mod:`gisgrid.osm.barriers`).
    problems
        What was ignored or could not be read (``warned``), feature by feature.
    """

    source: str
    buildings: gpd.GeoDataFrame = field(default_factory=lambda: _empty(BUILDING_COLUMNS))
    complexes: gpd.GeoDataFrame = field(default_factory=lambda: _empty(COMPLEX_COLUMNS))
    street_nodes: gpd.GeoDataFrame = field(default_factory=lambda: _empty(NODE_COLUMNS))
    street_edges: gpd.GeoDataFrame = field(default_factory=lambda: _empty(EDGE_COLUMNS))
    stations: gpd.GeoDataFrame = field(default_factory=lambda: _empty(STATION_COLUMNS))
    barriers: gpd.GeoDataFrame = field(default_factory=lambda: _empty(BARRIER_COLUMNS))
    problems: list[Problem] = field(default_factory=list)

    def component_sizes(self) -> list[int]:
        """Node counts of the street network's connected components, largest first."""
        if not len(self.street_nodes):
            return []
        counts = self.street_nodes["component"].value_counts().sort_index()
        return [int(v) for v in counts.to_numpy()]

    def summary(self) -> dict[str, Any]:
        """Counts by kind, household methods, station kinds and the street components."""
        sizes = self.component_sizes()
        return {
            "buildings": len(self.buildings),
            "complexes": len(self.complexes),
            "named_complexes": int(self.complexes["named"].sum()) if len(self.complexes) else 0,
            "stations": len(self.stations),
            "station_kinds": {k: int(v) for k, v in self.stations["kind"].value_counts().items()},
            "street_nodes": len(self.street_nodes),
            "street_edges": len(self.street_edges),
            "street_length_km": round(float(self.street_edges["length_m"].sum()) / 1000.0, 3)
            if len(self.street_edges)
            else 0.0,
            "street_components": {"count": len(sizes), "sizes": sizes},
            "barriers": len(self.barriers),
            "barrier_kinds": {k: int(v) for k, v in self.barriers["kind"].value_counts().items()},
            "households_methods": summarise_methods(self.buildings),
            "households_total": int(self.buildings["households"].sum()) if len(self.buildings) else 0,
        }


def _check_file(path: Path) -> str:
    """The file's format ('pbf' or 'xml'), after checking that it exists, is readable and is not empty."""
    name = path.name.lower()
    if name.endswith(PBF_SUFFIXES):
        kind = "pbf"
    elif name.endswith(XML_SUFFIXES):
        kind = "xml"
    else:
        raise _file_error(
            path,
            f"{path.name!r} is neither an OSM PBF (.osm.pbf, .pbf) nor an OSM XML file (.osm, .osm.gz, "
            ".osm.bz2)",
            "a .osm.pbf or .osm file",
        )
    if not path.is_file():
        raise _file_error(path, f"{path} does not exist or is not a file", "an existing file")
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise _file_error(path, f"{path} cannot be read: {exc}", "a readable file") from exc
    if size == 0:
        raise _file_error(path, f"{path} is empty", "a non-empty OSM file")
    return kind


def _file_error(path: Path, message: str, rule: str) -> InvalidInputError:
    """Whatever is wrong with an OSM file is reported against the file, named by its path."""
    return InvalidInputError(message, field="file", feature=str(path), rule=rule)


def _xml_to_pbf(path: Path, target: Path) -> None:
    """Copy an OSM XML file into a PBF with pyosmium (objects are written as read)."""
    import osmium

    try:
        with osmium.SimpleWriter(str(target)) as writer:
            for obj in osmium.FileProcessor(str(path)):
                writer.add(obj)
    except (RuntimeError, ValueError, OSError) as exc:
        raise _file_error(path, f"{path.name} is not a readable OSM XML file: {exc}", "valid OSM XML") from exc


def read_osm(path: str | Path) -> OsmExtract:
    """Read buildings, complexes, the walking network and service posts from an OSM file.

    Parameters
    ----------
    path
        An ``.osm.pbf`` / ``.pbf`` file, or OSM XML: ``.osm`` (optionally ``.gz`` / ``.bz2``).

    Returns
    -------
    OsmExtract
        The frames in EPSG:4326 and the problems found (the rules: :mod:`gisgrid.osm.features`,
        :mod:`gisgrid.osm.network`).

    Raises
    ------
    InvalidInputError
        ``field='file'``: unknown extension, missing, unreadable, empty, truncated or not OSM, or holding
        no buildings, residential areas, walkable streets or service posts.
    """
    path = Path(path)
    kind = _check_file(path)
    if kind == "pbf":
        return _read_pbf(path, source=path.name)
    with tempfile.TemporaryDirectory(prefix="gisgrid-osm-") as tmp:
        pbf = Path(tmp) / "converted.osm.pbf"
        _xml_to_pbf(path, pbf)
        return _read_pbf(pbf, source=path.name, original=path)


def _read_pbf(pbf: Path, *, source: str, original: Path | None = None) -> OsmExtract:
    import pyrosm

    shown = original or pbf
    problems: list[Problem] = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_EMPTY_LAYER_WARNING, category=UserWarning)
        try:
            osm = pyrosm.OSM(str(pbf))
            raw_buildings = osm.get_buildings()
            raw_complexes = osm.get_data_by_custom_criteria(
                custom_filter={"landuse": ["residential"], "residential": True},
                keep_nodes=False,
            )
            raw_posts = osm.get_data_by_custom_criteria(
                custom_filter={"amenity": list(STATION_AMENITIES)}, keep_nodes=True
            )
            raw_named_posts = osm.get_data_by_custom_criteria(
                custom_filter={"name": [STATION_NAME]}, keep_nodes=True
            )
            network = osm.get_network("walking", nodes=True)
            raw_barriers = osm.get_data_by_custom_criteria(custom_filter=BARRIER_FILTER, keep_nodes=False)
        except InvalidInputError:
            raise
        except Exception as exc:  # pyrosm raises protobuf, value and its own errors on broken files
            raise _file_error(
                shown,
                f"{shown.name} could not be read as OpenStreetMap data ({type(exc).__name__}: {exc})",
                "a complete, valid OSM file",
            ) from exc

    nodes, edges = network_from(network)
    extract = OsmExtract(
        source=source,
        buildings=_or_empty(buildings_from(polygon_rows(raw_buildings), problems), BUILDING_COLUMNS),
        complexes=_or_empty(complexes_from(polygon_rows(raw_complexes)), COMPLEX_COLUMNS),
        street_nodes=_or_empty(nodes, NODE_COLUMNS),
        street_edges=_or_empty(edges, EDGE_COLUMNS),
        stations=_or_empty(stations_from([raw_posts, raw_named_posts], problems), STATION_COLUMNS),
        barriers=_or_empty(barriers_from(raw_barriers), BARRIER_COLUMNS),
        problems=problems,
    )
    layers = ("buildings", "complexes", "street_edges", "stations", "barriers")
    if not any(len(getattr(extract, k)) for k in layers):
        raise _file_error(
            shown,
            f"{shown.name} holds no buildings, residential areas, walkable streets, service posts or barriers",
            "an OSM file with features to import",
        )
    return extract


def _or_empty(frame: gpd.GeoDataFrame | None, columns: Sequence[str]) -> gpd.GeoDataFrame:
    return frame if frame is not None else _empty(columns)
