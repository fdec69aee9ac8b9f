"""The built stock: residential complexes (小区) on the blocks, their buildings and property companies.

Each block holds one gated complex: slab buildings (6–7 floors), towers (11–33 floors) or both, on a
fixed lattice of non-overlapping slots, rotated a few degrees. Complexes are consumed in order until
the requested household count is reached; the last building is trimmed so that the total is exact
(its ``households`` may then be below ``levels × units × per_floor`` — a few flats used as shops or
offices).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from gisgrid.errors import InvalidInputError
from gisgrid.synth.geometry import WGS84, lattice, rects, reproject
from gisgrid.synth.layout import CELL_H, CELL_W, COMPLEX_INSET, SOURCE
from gisgrid.synth.names import (
    COMPANY_CITY,
    COMPANY_FORM,
    COMPANY_WORD,
    COMPLEX_A,
    COMPLEX_B,
    cn_number,
    combo_names,
    person_names,
)

SLOT_INSET = 25.0  # buildings stay this far inside the cell edge
MAX_ROT = math.radians(6.0)


@dataclass(frozen=True)
class Housing:
    """The complexes drawn for the first blocks and their buildings (one row per building)."""

    complex_type: np.ndarray  # per complex: 0 slab, 1 tower, 2 mixed
    complex_of: np.ndarray  # the building's complex, ascending: complex k stands on block k
    dx: np.ndarray  # offset of the building's centre from its block's centre, metres
    dy: np.ndarray
    tower: np.ndarray
    levels: np.ndarray
    units: np.ndarray
    per_floor: np.ndarray
    households: np.ndarray

    @property
    def n_complexes(self) -> int:
        """How many complexes were built (the first that many blocks)."""
        return int(self.complex_of[-1]) + 1


def draw_housing(rng: np.random.Generator, n_blocks: int, households: int) -> Housing:
    """Complexes on the first of ``n_blocks`` blocks until exactly ``households`` households live there."""
    templates = _templates()
    m = min(n_blocks, households // 250 + 10)
    while True:
        n_cx, b_cx, b_dx, b_dy, b_tower = _draw_layout(rng, templates, m)
        b_levels, b_units, b_pf = _draw_floors(rng, b_tower)
        b_hh = b_levels * b_units * b_pf
        cum = np.cumsum(b_hh)
        if cum[-1] >= households or m == n_blocks:
            break
        m = min(n_blocks, 2 * m)
    if cum[-1] < households:
        raise InvalidInputError(
            f"{households:,} households do not fit inside the district (at most about {int(cum[-1]):,})",
            field="households",
            feature=households,
            rule="the city must fit inside the real boundary",
        )
    last = int(np.searchsorted(cum, households))
    keep = slice(0, last + 1)
    b_cx, b_dx, b_dy, b_tower = b_cx[keep], b_dx[keep], b_dy[keep], b_tower[keep]
    b_levels, b_units, b_pf, b_hh = b_levels[keep], b_units[keep], b_pf[keep], b_hh[keep].copy()
    b_hh[-1] -= int(cum[last]) - households  # exact total (a few flats used otherwise)
    n_complex = int(b_cx[-1]) + 1
    return Housing(n_cx[:n_complex], b_cx, b_dx, b_dy, b_tower, b_levels, b_units, b_pf, b_hh)


def _extents() -> tuple[tuple[float, float], tuple[float, float]]:
    """Half-extents (x, y) of the largest slab and tower, rotated by up to ``MAX_ROT``."""
    c, s = math.cos(MAX_ROT), math.sin(MAX_ROT)
    slab_l, slab_w, tower = 78.0, 12.0, 35.0  # largest footprints
    return ((slab_l * c + slab_w * s) / 2, (slab_l * s + slab_w * c) / 2), (tower * (c + s) / 2,) * 2


def _templates() -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Slot lattices per complex type (0 slab, 1 tower, 2 mixed): (dx, dy, is_tower) from the cell centre."""
    x0, x1 = -CELL_W / 2 + SLOT_INSET, CELL_W / 2 - SLOT_INSET
    y0, y1 = -CELL_H / 2 + SLOT_INSET, CELL_H / 2 - SLOT_INSET
    (shx, shy), (thx, thy) = _extents()
    out = {}
    sx, sy = lattice(x0, x1, y0, y1, shx, shy, 90.0, 37.0)
    out[0] = (sx, sy, np.zeros(sx.size, bool))
    tx, ty = lattice(x0, x1, y0, y1, thx, thy, 55.0, 55.0)
    out[1] = (tx, ty, np.ones(tx.size, bool))
    ymid = (y0 + y1) / 2
    msx, msy = lattice(x0, x1, y0, ymid - 5, shx, shy, 90.0, 37.0)
    mtx, mty = lattice(x0, x1, ymid + 5, y1, thx, thy, 55.0, 55.0)
    out[2] = (np.r_[msx, mtx], np.r_[msy, mty], np.r_[np.zeros(msx.size, bool), np.ones(mtx.size, bool)])
    return out


@dataclass(frozen=True)
class Row:
    """One row of building slots of a complex type, relative to the block centre: its ``y``, the
    half-height of its largest building (``half_h``), its slots' ``xs`` and their largest half-width."""

    y: float
    half_h: float
    xs: tuple[float, ...]
    half_w: float


def slot_rows() -> dict[int, list[Row]]:
    """The rows of slots of each complex type (0 slab, 1 tower, 2 mixed), south to north.

    Every building stands in one row and no building reaches outside ``y ± half_h`` or, around its slot,
    ``x ± half_w``: the footways run in the gaps (:mod:`gisgrid.synth.footways`).
    """
    (shx, shy), (thx, thy) = _extents()
    out: dict[int, list[Row]] = {}
    for t, (xs, ys, tw) in _templates().items():
        rows = []
        for y in np.unique(ys):
            sel = ys == y
            tower = bool(tw[sel][0])
            rows.append(Row(float(y), thy if tower else shy, tuple(np.sort(xs[sel]).tolist()), thx if tower else shx))
        out[t] = rows
    return out


def _draw_layout(
    rng: np.random.Generator, templates: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]], m: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Types for ``m`` complexes (towers more likely farther out) and their kept building slots."""
    p_tower = 0.15 + 0.35 * np.minimum(1.0, np.arange(m) / 400.0)  # towers more likely farther out
    p_mixed = np.full(m, 0.25)
    u = rng.random(m)
    ctype = np.where(u < p_tower, 1, np.where(u < p_tower + p_mixed, 2, 0))
    fill = rng.uniform(0.65, 1.0, m)
    sizes = np.array([templates[t][0].size for t in range(3)])
    n_slots = sizes[ctype]
    cx_of_slot = np.repeat(np.arange(m), n_slots)
    slot_no = np.arange(cx_of_slot.size) - np.repeat(np.cumsum(n_slots) - n_slots, n_slots)
    t_of_slot = ctype[cx_of_slot]
    keep = rng.random(cx_of_slot.size) < fill[cx_of_slot]
    keep[slot_no == 0] = True  # at least one building per complex
    dx = np.empty(cx_of_slot.size)
    dy = np.empty(cx_of_slot.size)
    tw = np.empty(cx_of_slot.size, bool)
    for t in range(3):
        sel = t_of_slot == t
        tx, ty, tt = templates[t]
        dx[sel], dy[sel], tw[sel] = tx[slot_no[sel]], ty[slot_no[sel]], tt[slot_no[sel]]
    return ctype, cx_of_slot[keep], dx[keep], dy[keep], tw[keep]


def _draw_floors(rng: np.random.Generator, tower: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Levels, units (stairwells) and flats per floor per unit, for towers and slabs."""
    n = tower.size
    levels = np.where(tower, rng.integers(11, 34, n), np.where(rng.random(n) < 0.6, 6, 7))
    units = np.where(tower, rng.integers(1, 3, n), rng.integers(2, 5, n))
    per_floor = np.where(tower, rng.integers(2, 5, n), 2)
    return levels.astype(np.int64), units.astype(np.int64), per_floor.astype(np.int64)


def make_complexes(
    rng: np.random.Generator,
    today: dt.date,
    n: int,
    ctype: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    comm_code: np.ndarray,
    to_wgs: Transformer,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The complexes on the first ``n`` built blocks, and the property companies that manage them.

    Old slab estates are the likeliest to have no manager at all (三无小区: 9 % of them, 2 % of others).
    """
    u = rng.random(n)
    p_none = np.where(ctype == 0, 0.09, 0.02)
    management = np.where(u < p_none, "none", np.where(u < p_none + 0.12, "self", "professional")).astype(
        object
    )
    if n >= 10 and not (management == "none").any():  # every demo has at least one 三无小区
        management[int(np.argmax((ctype == 0) + rng.random(n)))] = "none"
    prof = management == "professional"
    n_comp = max(3, math.ceil(prof.sum() / 5))
    comp_names = []
    pool = [c + w for c in COMPANY_CITY for w in COMPANY_WORD]
    order = rng.permutation(len(pool))
    for k in range(n_comp):
        rnd = k // (2 * len(pool))
        name = pool[order[k % len(pool)]] + (cn_number(rnd + 1) if rnd else "")
        comp_names.append(name + COMPANY_FORM[(k // len(pool)) % 2] + "（合成）")
    credit = rng.choice(np.array(["red", "normal", "black"], dtype=object), n_comp, p=[0.15, 0.78, 0.07])
    companies = pd.DataFrame(
        {
            "name": comp_names,
            "credit": credit,
            "contact_name": person_names(rng, n_comp),
            "contact_phone": None,
            "source": SOURCE,
        }
    )
    company = np.where(prof, np.asarray(comp_names, dtype=object)[rng.integers(0, n_comp, n)], None)  # type: ignore[call-overload]
    built = np.where(
        ctype == 0,
        rng.integers(1985, 2006, n),
        np.where(ctype == 1, rng.integers(2006, 2023, n), rng.integers(1998, 2016, n)),
    )
    has_oc = rng.random(n) < np.where(management == "none", 0.3, 0.85)
    first = np.maximum(built + 2, today.year - 15)
    oc_year = first + (rng.random(n) * np.maximum(today.year - first, 1)).astype(int)
    oc_day = rng.integers(0, 365, n)
    oc_dates = [
        min(dt.date(int(yy), 1, 1) + dt.timedelta(days=int(dd)), today - dt.timedelta(days=1)) if ok else None
        for yy, dd, ok in zip(oc_year, oc_day, has_oc, strict=True)
    ]
    party = rng.choice(
        np.array(["independent", "joint", "affiliated", "none"], dtype=object), n, p=[0.35, 0.3, 0.25, 0.1]
    )
    red = prof & (party != "none") & (rng.random(n) < 0.35)
    names = combo_names(rng, COMPLEX_A, COMPLEX_B, n)
    keys = np.array([f"syn-complex-{k:05d}" for k in range(n)], dtype=object)
    hw = np.full(n, CELL_W / 2 - COMPLEX_INSET)
    hh = np.full(n, CELL_H / 2 - COMPLEX_INSET)
    polys = shapely.multipolygons(shapely.polygons(rects(x, y, hw, hh, np.zeros(n))), indices=np.arange(n))
    complexes = gpd.GeoDataFrame(
        {
            "complex_key": keys,
            "name": names,
            "community_code": comm_code,
            "company_name": company,
            "management": management,
            "owners_committee_since": oc_dates,
            "party_org": party,
            "red_property": red,
            "built_year": built.astype(np.int64),
            "source": SOURCE,
            "source_ref": keys,
        },
        geometry=gpd.GeoSeries(reproject(polys, to_wgs), crs=WGS84),
    ).rename_geometry("geom")
    return complexes, companies

def make_buildings(
    rng: np.random.Generator,
    housing: Housing,
    cell_x: np.ndarray,
    cell_y: np.ndarray,
    complex_keys: np.ndarray,
    community_codes: np.ndarray,
    to_wgs: Transformer,
) -> tuple[gpd.GeoDataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """The buildings frame, each building's centre in UTM 50N (incidents are scattered around it) and
    its door, ``(n, 2)`` in UTM 50N: the middle of the footprint's south side, which is the ``entrance``.

    ``cell_x``, ``cell_y`` are the centres of the built blocks, ``community_codes`` each building's.
    """
    b_cx, b_dx, b_dy, b_tower = housing.complex_of, housing.dx, housing.dy, housing.tower
    b_levels, b_units, b_pf, b_hh = housing.levels, housing.units, housing.per_floor, housing.households
    n_complex = housing.n_complexes
    theta_c = rng.uniform(-MAX_ROT, MAX_ROT, n_complex)
    b_theta = theta_c[b_cx]
    bx, by = cell_x[b_cx] + b_dx, cell_y[b_cx] + b_dy
    slab_len = b_units * 18.0 + 6.0
    tower_side = 20.0 + 2.5 * (b_units * b_pf - 2)
    hw = np.where(b_tower, tower_side, slab_len) / 2
    hh = np.where(b_tower, tower_side, 12.0) / 2
    rings = rects(bx, by, hw, hh, b_theta)
    nb = b_cx.size
    foot = shapely.multipolygons(shapely.polygons(rings), indices=np.arange(nb))
    foot = reproject(foot, to_wgs)
    doors = (rings[:, 0, :] + rings[:, 1, :]) / 2  # middle of the south side: centre + rotated (0, -hh)
    entrance = reproject(shapely.points(doors), to_wgs)
    b_start = np.searchsorted(b_cx, np.arange(n_complex))
    b_no = np.arange(nb) - b_start[b_cx] + 1
    bkeys = np.array([f"syn-bldg-{k:06d}" for k in range(nb)], dtype=object)
    buildings = gpd.GeoDataFrame(
        {
            "building_key": bkeys,
            "name": [f"{k}号楼" for k in b_no],
            "building_type": np.where(b_tower, "residential_tower", "residential_slab").astype(object),
            "levels": b_levels,
            "units": b_units,
            "per_floor": b_pf,
            "households": b_hh,
            "households_estimated": False,
            "households_method": "supplied",
            "complex_key": complex_keys[b_cx],
            "community_code": community_codes,
            "grid_code": None,
            "source": SOURCE,
            "source_ref": bkeys,
            "entrance": gpd.GeoSeries(entrance, crs=WGS84),
        },
        geometry=gpd.GeoSeries(foot, crs=WGS84),
    ).rename_geometry("geom")
    return buildings, bx, by, doors
