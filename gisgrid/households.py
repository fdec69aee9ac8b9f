"""Household estimates for buildings (楼栋户数).

Grids are sized in households (300–500 per unit grid is the local practice), but household counts are
rarely supplied for every building and floor counts are rare in Chinese OSM (about 2 % of buildings).
:func:`estimate_households` therefore fills the gaps, and records how each number was obtained:

=============  ==========================================================================================
method         households =
=============  ==========================================================================================
``supplied``   the building's own ``households`` value (non-null, ≥ 0) — always wins
``levels``     footprint area × ``levels`` (building:levels) ÷ floor area per household of its type
``height``     footprint area × round(``height`` ÷ storey height, ≥ 1) ÷ floor area per household
``default``    footprint area × the type's default number of floors ÷ floor area per household
=============  ==========================================================================================

The footprint area is measured in square metres in :func:`gisgrid.crs.metric_crs_for` — never in
degrees.

Numbers used (**assumption, configurable** — pass ``floor_area_per_household`` / ``default_levels``):

* Gross floor area (建筑面积, including shared areas) per household: ``residential_slab`` 95 m²,
  ``residential_tower`` 100 m² (towers have more shared area, 公摊), ``villa`` 250 m², ``mixed`` 190 m²
  (about half of the floor area assumed residential), ``other`` 95 m². As an order-of-magnitude check, NBS
  reported about 40 m² of housing per urban resident around 2019 and the 2020 census an average household
  of about 2.6 people, i.e. roughly 100 m² per household. ``commercial`` and ``public`` buildings house no
  households (0).
* Default floors when neither ``levels`` nor ``height`` is known: ``residential_slab`` 6 (the common
  walk-up 多层 block), ``residential_tower`` 18, ``villa`` 3, ``mixed`` 4, ``commercial`` 3, ``public`` 3,
  ``other`` 5.
* ``other`` (OSM ``building=yes`` and unknown values) **is counted as possibly residential**: most buildings
  in Chinese OSM are tagged only ``building=yes`` and most of them, in the residential areas that grids
  cover, are homes; counting them as zero would leave grids empty. Set
  ``floor_area_per_household={"other": 0}`` to count only buildings known to be residential. Estimates are
  always flagged (``households_estimated``) so they can be replaced by surveyed counts.
* An estimate for a residential type (slab, tower, villa, mixed) is at least 1 household; for ``other``
  it may round to 0 (sheds, kiosks).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gisgrid import vocab
from gisgrid.crs import metric_crs_for
from gisgrid.crs.checks import feature_id
from gisgrid.errors import CRSError, InvalidInputError

__all__ = [
    "DEFAULT_FLOOR_AREA_PER_HOUSEHOLD",
    "DEFAULT_LEVELS",
    "OSM_BUILDING_TYPES",
    "TOWER_MIN_LEVELS",
    "building_type_from_osm",
    "estimate_households",
    "summarise_methods",
]

#: Gross floor area per household in m² by building type (assumption, configurable). 0 = no households.
DEFAULT_FLOOR_AREA_PER_HOUSEHOLD: dict[str, float] = {
    "residential_slab": 95.0,
    "residential_tower": 100.0,
    "villa": 250.0,
    "mixed": 190.0,
    "commercial": 0.0,
    "public": 0.0,
    "other": 95.0,
}

#: Floors assumed when neither levels nor height is known (assumption, configurable).
DEFAULT_LEVELS: dict[str, int] = {
    "residential_slab": 6,
    "residential_tower": 18,
    "villa": 3,
    "mixed": 4,
    "commercial": 3,
    "public": 3,
    "other": 5,
}

#: From this many floors an apartment block is a tower (高层住宅: 10 floors and more, GB 50352 practice).
TOWER_MIN_LEVELS = 10

_RESIDENTIAL_APARTMENTS = {"apartments", "residential", "dormitory", "flats"}
_SINGLE_HOUSEHOLD = {
    "house",
    "detached",
    "villa",
    "semidetached_house",
    "terrace",
    "bungalow",
    "farm",
    "cabin",
    "static_caravan",
}

#: OSM ``building=*`` values with a fixed gisgrid type (apartments/residential depend on the levels).
OSM_BUILDING_TYPES: dict[str, str] = {
    **dict.fromkeys(_SINGLE_HOUSEHOLD, "villa"),
    **dict.fromkeys(("mixed", "mixed_use", "commercial;residential", "residential;commercial"), "mixed"),
    **dict.fromkeys(
        (
            "commercial",
            "retail",
            "office",
            "shop",
            "supermarket",
            "kiosk",
            "hotel",
            "industrial",
            "warehouse",
            "factory",
            "manufacture",
        ),
        "commercial",
    ),
    # public and ancillary, non-residential structures
    **dict.fromkeys(
        (
            "school",
            "kindergarten",
            "university",
            "college",
            "hospital",
            "clinic",
            "civic",
            "government",
            "public",
            "church",
            "temple",
            "mosque",
            "religious",
            "train_station",
            "transportation",
            "sports_hall",
            "stadium",
            "gymnasium",
            "fire_station",
            "police",
            "garage",
            "garages",
            "parking",
            "carport",
            "shed",
            "roof",
            "toilets",
            "service",
            "transformer_tower",
            "greenhouse",
            "ruins",
            "construction",
        ),
        "public",
    ),
}


def building_type_from_osm(value: Any, levels: Any = None) -> str:
    """Map an OSM ``building=*`` value (and its ``building:levels``) to a gisgrid building type.

    * ``apartments`` / ``residential`` / ``dormitory`` → ``residential_tower`` with ≥ 10 levels, else
      ``residential_slab`` (also when the levels are unknown);
    * ``house`` / ``detached`` / ``villa`` / ``semidetached_house`` / ``terrace`` / … → ``villa``;
    * shops, offices, hotels, industry, warehouses → ``commercial``;
    * schools, hospitals, government, religious, transport, and ancillary structures (garages, sheds,
      roofs, toilets, substations) → ``public``;
    * ``yes``, missing and anything else → ``other`` (counted as possibly residential by
      :func:`estimate_households`, see the module notes).

    Examples
    --------
    >>> building_type_from_osm("apartments", 18), building_type_from_osm("apartments", "6")
    ('residential_tower', 'residential_slab')
    >>> building_type_from_osm("house"), building_type_from_osm("retail"), building_type_from_osm("yes")
    ('villa', 'commercial', 'other')
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "other"
    key = str(value).strip().lower()
    if key in _RESIDENTIAL_APARTMENTS:
        n = parse_number(levels)
        return "residential_tower" if n is not None and n >= TOWER_MIN_LEVELS else "residential_slab"
    return OSM_BUILDING_TYPES.get(key, "other")


#: A number, optionally followed by metres ("12", "30 m", "30米"); group 1 is the number.
NUMBER = re.compile(r"^\s*([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)\s*(?:m|米)?\s*$", re.IGNORECASE)


def parse_number(value: Any, pattern: re.Pattern[str] = NUMBER) -> float | None:
    """A float from a number or from a string ``pattern`` matches; None for missing or unparsable.

    Examples
    --------
    >>> parse_number("30 m"), parse_number(6), parse_number("six"), parse_number(None)
    (30.0, 6.0, None, None)
    """
    if value is None or value is pd.NA:
        return None
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return None if np.isnan(value) else float(value)
    match = pattern.match(str(value))
    return float(match.group(1)) if match else None


def _numeric_column(gdf: gpd.GeoDataFrame, column: str, *, whole: bool = False) -> np.ndarray:
    """The column as floats (NaN = missing), validated: numeric, ≥ 0, and whole numbers if ``whole``."""
    if column not in gdf.columns:
        return np.full(len(gdf), np.nan)
    raw = gdf[column].to_numpy(dtype=object)
    out = np.full(len(gdf), np.nan)
    for i, value in enumerate(raw):
        missing = value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))
        if missing or (isinstance(value, str) and not value.strip()):
            continue
        number = parse_number(value)
        if number is None:
            raise InvalidInputError(
                f"{column} of feature {feature_id(gdf, i)!r} is {value!r}, not a number",
                field=column,
                feature=feature_id(gdf, i),
                rule=f"{column} is a number",
            )
        if number < 0:
            raise InvalidInputError(
                f"{column} of feature {feature_id(gdf, i)!r} is {value!r}; it cannot be negative",
                field=column,
                feature=feature_id(gdf, i),
                rule=f"{column} >= 0",
            )
        if whole and number != int(number):
            raise InvalidInputError(
                f"{column} of feature {feature_id(gdf, i)!r} is {value!r}; it must be a whole number",
                field=column,
                feature=feature_id(gdf, i),
                rule=f"{column} is a whole number",
            )
        out[i] = number
    return out


def _merged(
    defaults: Mapping[str, Any], given: Mapping[str, Any] | None, field: str, *, minimum: float
) -> dict:
    table = dict(defaults)
    for key, value in (given or {}).items():
        if key not in vocab.BUILDING_TYPES:
            raise InvalidInputError(
                f"{field} names an unknown building type {key!r}; known: {', '.join(vocab.BUILDING_TYPES)}",
                field=field,
                rule="keys are building types",
            )
        if value is None or not np.isfinite(value) or value < minimum:
            raise InvalidInputError(
                f"{field}[{key!r}] is {value!r}; it must be a number >= {minimum:g}",
                field=field,
                rule=f"values >= {minimum:g}",
            )
        table[key] = value
    return table


def estimate_households(
    buildings: gpd.GeoDataFrame,
    *,
    floor_area_per_household: Mapping[str, float] | None = None,
    default_levels: Mapping[str, int] | None = None,
    storey_height_m: float = 3.0,
) -> gpd.GeoDataFrame:
    """Fill ``households`` for every building and record how each value was obtained.

    Parameters
    ----------
    buildings
        Building footprints with a CRS. Optional columns: ``households`` (supplied counts),
        ``levels`` (floors, OSM ``building:levels``), ``height`` (metres), ``building_type`` (a gisgrid
        type; if absent it is derived from an OSM ``building`` column with :func:`building_type_from_osm`,
        else ``other``), ``id`` (used to name features in errors; else the index).
    floor_area_per_household
        Gross m² per household by building type, overriding :data:`DEFAULT_FLOOR_AREA_PER_HOUSEHOLD`
        (0 = the type houses no households).
    default_levels
        Floors by building type when neither levels nor height is known, overriding
        :data:`DEFAULT_LEVELS`.
    storey_height_m
        Metres per floor for turning ``height`` into floors (3.0 m, typical for Chinese housing).

    Returns
    -------
    GeoDataFrame
        A copy with ``building_type``, ``levels`` (int, 1–200; from the data, else from height, else the
        type default — also for rows whose households were supplied), ``households`` (int ≥ 0),
        ``households_estimated`` (bool) and ``households_method`` (``supplied`` / ``levels`` /
        ``height`` / ``default``).

    Raises
    ------
    InvalidInputError
        Negative, non-numeric or fractional households; negative or non-numeric levels or height; levels
        above 200; an unknown building type. The error names the field and the feature id.
    CRSError
        The buildings have no CRS (the area could not be measured in metres).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> footprint = box(500000, 3850000, 500020, 3850030)  # 20 m × 30 m = 600 m², UTM 50N
    >>> utm = gpd.GeoDataFrame(
    ...     {
    ...         "building_type": ["residential_slab"] * 4,
    ...         "households": [24, None, None, None],
    ...         "levels": [None, 6, None, None],
    ...         "height": [None, None, 30.0, None],
    ...     },
    ...     geometry=[footprint] * 4,
    ...     crs="EPSG:32650",
    ... )
    >>> out = estimate_households(utm)
    >>> out[["households", "households_method", "levels"]].values.tolist()
    [[24, 'supplied', 6], [38, 'levels', 6], [63, 'height', 10], [38, 'default', 6]]
    >>> summarise_methods(out)
    {'supplied': 1, 'levels': 1, 'height': 1, 'default': 1}
    """
    if buildings.crs is None:
        raise CRSError(
            "the buildings have no CRS, so their footprint areas cannot be measured in metres",
            field="crs",
            rule="a CRS is required",
        )
    if storey_height_m is None or not np.isfinite(storey_height_m) or storey_height_m <= 0:
        raise InvalidInputError(
            f"storey_height_m is {storey_height_m!r}; it must be > 0",
            field="storey_height_m",
            rule="storey_height_m > 0",
        )
    fa_table = _merged(
        DEFAULT_FLOOR_AREA_PER_HOUSEHOLD, floor_area_per_household, "floor_area_per_household", minimum=0
    )
    lv_table = _merged(DEFAULT_LEVELS, default_levels, "default_levels", minimum=1)

    out = buildings.copy()
    n = len(out)
    supplied = _numeric_column(out, "households", whole=True)
    levels = _numeric_column(out, "levels")
    height = _numeric_column(out, "height")
    too_high = np.flatnonzero(levels > 200)
    if too_high.size:
        first = int(too_high[0])
        raise InvalidInputError(
            f"levels of feature {feature_id(out, first)!r} is {levels[first]:g}; "
            "buildings have 1–200 floors",
            field="levels",
            feature=feature_id(out, first),
            rule="levels between 1 and 200",
        )
    levels[levels == 0] = np.nan  # OSM uses building:levels=0 for roofs and carports: unknown here

    if "building_type" in out.columns:
        types = out["building_type"].astype(object).where(out["building_type"].notna(), "other").to_numpy()
    elif "building" in out.columns:
        types = np.array(
            [
                building_type_from_osm(b, lv)
                for b, lv in zip(out["building"], out.get("levels", [None] * n), strict=True)
            ],
            dtype=object,
        )
    else:
        types = np.full(n, "other", dtype=object)
    for i, t in enumerate(types):
        if t not in vocab.BUILDING_TYPES:
            raise InvalidInputError(
                f"building_type of feature {feature_id(out, i)!r} is {t!r}; "
                f"known: {', '.join(vocab.BUILDING_TYPES)}",
                field="building_type",
                feature=feature_id(out, i),
                rule="building_type in the vocabulary",
            )

    # floors: levels, else height / storey height, else the type default
    from_height = np.maximum(np.floor(height / storey_height_m + 0.5), 1.0)
    type_default = np.array([lv_table[t] for t in types], dtype=float)
    has_levels = ~np.isnan(levels)
    has_height = ~has_levels & ~np.isnan(height) & (height > 0)
    floors = np.where(
        has_levels, np.maximum(np.floor(levels + 0.5), 1.0), np.where(has_height, from_height, type_default)
    )
    floors = np.minimum(floors, 200.0)

    # footprint area in m², in a metric CRS (never degrees)
    area_m2 = out.geometry.to_crs(metric_crs_for(out)).area.to_numpy(dtype=float) if n else np.zeros(0)
    area_m2 = np.nan_to_num(area_m2, nan=0.0)

    fa = np.array([fa_table[t] for t in types], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(fa > 0, area_m2 * floors / fa, 0.0)
    estimate = np.floor(raw + 0.5)
    residential = np.isin(types, ["residential_slab", "residential_tower", "villa", "mixed"])
    estimate = np.where(residential & (fa > 0) & (area_m2 > 0), np.maximum(estimate, 1.0), estimate)

    has_supplied = ~np.isnan(supplied)
    method = np.where(
        has_supplied, "supplied", np.where(has_levels, "levels", np.where(has_height, "height", "default"))
    )
    out["building_type"] = types
    out["levels"] = floors.astype(int)
    out["households"] = np.where(has_supplied, supplied, estimate).astype(int)
    out["households_estimated"] = ~has_supplied
    out["households_method"] = method.astype(object)
    return out


def summarise_methods(gdf: pd.DataFrame) -> dict[str, int]:
    """Count buildings by ``households_method`` (every method listed, zeros included).

    Examples
    --------
    >>> summarise_methods(pd.DataFrame({"households_method": ["supplied", "default", "default"]}))
    {'supplied': 1, 'levels': 0, 'height': 0, 'default': 2}
    """
    counts = gdf["households_method"].value_counts() if "households_method" in gdf.columns else pd.Series()
    unknown = set(counts.index) - set(vocab.HOUSEHOLD_METHODS)
    if unknown:
        raise InvalidInputError(
            f"unknown households_method values: {sorted(unknown)}",
            field="households_method",
            rule="households_method in the vocabulary",
        )
    return {m: int(counts.get(m, 0)) for m in vocab.HOUSEHOLD_METHODS}
