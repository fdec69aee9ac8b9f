"""Invalid OSM geometries: rejected, each named by its OSM id and GEOS's reason, or repaired on request.

:func:`~gisgrid.osm.read_osm` keeps geometries as mapped. :func:`check_geometries` (called by the importer)
rejects invalid ones with the reason from :func:`shapely.is_valid_reason` (GEOS explain_validity), or with
``repair=True`` fixes them with :func:`shapely.make_valid` — provided the result is still polygonal —
and re-estimates the households of repaired buildings.
"""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import numpy as np
import shapely

from gisgrid.geometry import polygonal_part
from gisgrid.osm.features import reestimate
from gisgrid.osm.read import OsmExtract
from gisgrid.report import Problem

__all__ = ["check_geometries", "checked"]


def check_geometries(
    gdf: gpd.GeoDataFrame, *, repair: bool = False, polygonal: bool = True
) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Reject (or, with ``repair``, fix) invalid and empty geometries; name each by ``source_ref``.

    Invalid geometries are reported with :func:`shapely.is_valid_reason` (GEOS explain_validity). With
    ``repair=True`` they are fixed with :func:`shapely.make_valid`; for polygonal layers only the
    polygonal part is kept and a repair that leaves none is rejected. Returns the kept rows (index
    reset) and the problems.
    """
    problems: list[Problem] = []
    if not len(gdf):
        return gdf, problems
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    refs = gdf["source_ref"].to_numpy(dtype=object)
    missing = np.array([g is None for g in geoms], dtype=bool)
    empty = ~missing & shapely.is_empty(np.where(missing, shapely.Point(), geoms).astype(object))
    invalid = ~missing & ~empty & ~shapely.is_valid(np.where(missing | empty, shapely.Point(0, 0), geoms))
    keep = ~(missing | empty)
    for i in np.flatnonzero(missing | empty):
        problems.append(Problem(refs[i], "geometry", "non-empty geometry", "the feature has no geometry"))
    new_geoms = geoms.copy()
    for i in np.flatnonzero(invalid):
        reason = shapely.is_valid_reason(geoms[i])
        if not repair:
            problems.append(Problem(refs[i], "geometry", "valid geometry", reason))
            keep[i] = False
            continue
        made = shapely.make_valid(geoms[i])
        fixed = polygonal_part(made) if polygonal else made
        if fixed is None or fixed.is_empty or not fixed.is_valid:
            problems.append(Problem(refs[i], "geometry", "valid geometry",
                                    f"{reason}; make_valid gave a {made.geom_type}, not a polygon"))
            keep[i] = False
            continue
        new_geoms[i] = fixed
        problems.append(Problem(refs[i], "geometry", "valid geometry",
                                f"{reason}; repaired with make_valid ({fixed.geom_type})", action="repaired"))
    out = gdf.copy()
    out[gdf.geometry.name] = gpd.GeoSeries(new_geoms, index=gdf.index, crs=gdf.crs)
    out = out.loc[keep].reset_index(drop=True)
    return out, problems


def checked(
    extract: OsmExtract, *, repair: bool = False
) -> tuple[OsmExtract, dict[str, list[Problem]]]:
    """The extract with invalid geometries rejected (or, with ``repair``, fixed), and the problems by layer.

    Buildings and complexes are checked as polygons (see :func:`check_geometries`); stations and street
    edges are never repaired, only rejected. Households of repaired buildings are estimated again on
    the repaired footprint (a self-intersecting "bow tie" has a meaningless area until repaired).
    """
    problems: dict[str, list[Problem]] = {}
    buildings, problems["buildings"] = check_geometries(extract.buildings, repair=repair)
    repaired = {x.feature for x in problems["buildings"] if x.action == "repaired"}
    if repaired:
        rows = np.flatnonzero(buildings["source_ref"].isin(repaired).to_numpy())
        buildings = reestimate(buildings, rows)
    complexes, problems["complexes"] = check_geometries(extract.complexes, repair=repair)
    stations, problems["stations"] = check_geometries(extract.stations, polygonal=False)
    edges, problems["street_edges"] = check_geometries(extract.street_edges, polygonal=False)
    barriers, problems["barriers"] = check_geometries(extract.barriers, repair=repair, polygonal=False)
    out = replace(
        extract, buildings=buildings, complexes=complexes, stations=stations, street_edges=edges, barriers=barriers
    )
    return out, problems
