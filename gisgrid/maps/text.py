"""Every string a map page shows, in zh-CN (the default) and English, and vocabulary values as read.

One table per page (overview, grid map, heat map) so that a translator finds all of a page's strings
together; :func:`term` renders the shared vocabulary (management kinds, station kinds and statuses).
"""

from __future__ import annotations

from typing import Literal

from gisgrid import vocab

Language = Literal["zh-CN", "en"]
LANGUAGES: tuple[str, ...] = ("zh-CN", "en")

# The overview map, and the strings every page shares (names, codes, basemap names, the data notice).
TEXT: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "{district}网格化管理总览",
        "title_empty": "网格化管理总览",
        "synthetic": "合成数据 · 非真实 / synthetic demo data",
        "district": "区界",
        "streets": "街道",
        "communities": "社区",
        "community_labels": "社区名称",
        "station_labels": "站点名称",
        "complexes": "物业小区",
        "stations": "服务站点",
        "management": "小区管理方式",
        "station_kind": "站点类型",
        "station_status": "站点状态",
        "name": "名称",
        "code": "代码",
        "kind": "类型",
        "status": "状态",
        "opened_on": "运行日期",
        "radius": "服务半径(米)",
        "tianditu_vec": "天地图",
        "tianditu_note": "天地图注记",
        "amap": "高德地图",
    },
    "en": {
        "title": "{district} — grid management overview",
        "title_empty": "Grid management overview",
        "synthetic": "Synthetic demo data · 合成数据",
        "district": "District boundary",
        "streets": "Streets (subdistricts)",
        "communities": "Communities",
        "community_labels": "Community names",
        "station_labels": "Station names",
        "complexes": "Residential complexes",
        "stations": "Service stations",
        "management": "Complex management",
        "station_kind": "Station kind",
        "station_status": "Station status",
        "name": "Name",
        "code": "Code",
        "kind": "Kind",
        "status": "Status",
        "opened_on": "Opened",
        "radius": "Service radius (m)",
        "tianditu_vec": "Tianditu",
        "tianditu_note": "Tianditu labels",
        "amap": "Amap",
    },
}


# English names of vocabulary values where the identifier alone reads poorly
EN_TERMS: dict[str, str] = {
    "professional": "Professional management",
    "self": "Self-managed",
    "none": "No manager (三无)",
    "unknown": "Unknown",
    "service_centre": "Party–masses service centre",
    "service_station": "Party–masses service station",
    "service_post": "Service post",
    "red_heart_station": "Red heart station",
    "police_room": "Police room",
    "building": "Under construction",
}


# The grid map (a planner's view: households per grid, validation problems).
GRID_TEXT: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "网格划分图",
        "grids": "网格",
        "grid_labels": "网格编号与户数",
        "buildings": "楼栋",
        "problems": "校验问题",
        "households": "户数",
        "household_classes": "网格户数",
        "under": "少于{min}户",
        "in_range": "{min}–{max}户",
        "over": "多于{max}户",
        "error": "错误",
        "warning": "提示",
        "rule": "规则",
        "message": "说明",
        "code": "网格编号",
        "version": "版本",
        "unit": "户",
        "split": "分段楼栋",
        "parts": "楼栋分段",
        "summary": "{n}个网格，{ok}个户数达标，{p}个问题",
    },
    "en": {
        "title": "Grid map",
        "grids": "Grids",
        "grid_labels": "Grid codes and households",
        "buildings": "Buildings",
        "problems": "Validation problems",
        "households": "Households",
        "household_classes": "Households per grid",
        "under": "under {min}",
        "in_range": "{min}–{max}",
        "over": "over {max}",
        "error": "Error",
        "warning": "Warning",
        "rule": "Rule",
        "message": "Message",
        "code": "Grid code",
        "version": "Version",
        "unit": "hh",
        "split": "Split buildings",
        "parts": "Building parts",
        "summary": "{n} grids, {ok} within the household window, {p} problem(s)",
    },
}

#: The validation rules as a planner reads them (English: the identifier, spaced).
PROBLEM_RULES_ZH: dict[str, str] = {
    "invalid_geometry": "几何无效",
    "duplicate_code": "编号重复",
    "households_out_of_range": "户数超出范围",
    "non_contiguous": "网格不连续",
    "overlap": "网格重叠",
    "gap": "未覆盖空隙",
    "outside_community": "超出社区边界",
    "building_unassigned": "楼栋未入网格",
    "building_in_several": "楼栋跨多个网格",
    "building_outside_grid": "楼栋不在所记网格内",
    "building_parts_mismatch": "楼栋分段与户数不符",
    "complex_split": "小区被拆分",
    "sliver": "狭长或过小网格",
}

# The incident heat map.
HEAT_TEXT: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "事件热力图",
        "all": "全部事件",
        "all_categories": "全部类别",
        "category": "类别",
        "period": "时段",
        "whole_period": "全部时间",
        "count": "{n}件",
        "none": "该条件下没有事件",
        "density": "事件密度",
        "low": "少",
        "high": "多",
        "classes": "按大类",
        "communities": "社区",
    },
    "en": {
        "title": "Incident heat map",
        "all": "All incidents",
        "all_categories": "All categories",
        "category": "Category",
        "period": "Period",
        "whole_period": "All time",
        "count": "{n} cases",
        "none": "No incidents match",
        "density": "Incident density",
        "low": "few",
        "high": "many",
        "classes": "By class",
        "communities": "Communities",
    },
}

# The patrol map.
PATROL_TEXT: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "网格巡查地图",
        "grid": "网格",
        "visited": "本周已走访楼栋",
        "unvisited": "本周未走访楼栋",
        "route": "计划路线",
        "day": "第{n}天 {date}",
        "checkins": "签到点",
        "flagged": "异常签到（不计走访）",
        "summary": "{week} 当周 · 已走访 {v}/{n} 栋 · 计划 {km} 公里",
        "building": "楼栋",
        "households": "户数",
        "length": "里程(米)",
        "time": "时间",
        "flags": "异常",
    },
    "en": {
        "title": "Grid patrol map",
        "grid": "Grid",
        "visited": "Buildings visited this week",
        "unvisited": "Buildings not visited this week",
        "route": "Planned route",
        "day": "Day {n} {date}",
        "checkins": "Check-ins",
        "flagged": "Flagged check-ins (no visit)",
        "summary": "Week of {week} · visited {v}/{n} buildings · {km} km planned",
        "building": "Building",
        "households": "Households",
        "length": "Length (m)",
        "time": "Time",
        "flags": "Flags",
    },
}


def phrase(language: str, key: str) -> str:
    """A string of the overview table (:data:`TEXT`) in ``language``."""
    return TEXT[language][key]


def term(value: str, language: str = "zh-CN") -> str:
    """A vocabulary value as the user reads it: Chinese from :data:`vocab.ZH`, or English."""
    if language == "zh-CN":
        return vocab.ZH.get(value, value)
    return EN_TERMS.get(value, value.replace("_", " ").capitalize())


def rule_name(rule: str, language: str) -> str:
    """A validation rule as a planner reads it."""
    if language == "zh-CN":
        return PROBLEM_RULES_ZH.get(rule, rule)
    return rule.replace("_", " ")
