"""Closed vocabularies of the domain — one English identifier per Chinese term (docs/glossary.md).

The database enforces them with CHECK constraints built from these tuples, the API validates
against them and the UI translates them with :data:`ZH`.
"""

from __future__ import annotations

AREA_LEVELS = ("district", "street", "town", "community")
GRID_STATUSES = ("draft", "active", "retired")
SOURCES = ("synthetic", "osm", "import", "manual")

BUILDING_TYPES = ("residential_slab", "residential_tower", "villa", "mixed", "commercial", "public", "other")
HOUSEHOLD_METHODS = ("supplied", "levels", "height", "default")

MANAGEMENT_KINDS = ("professional", "self", "none", "unknown")  # none = 三无小区
PARTY_ORG_MODES = ("independent", "joint", "affiliated", "none")
CREDIT_LEVELS = ("red", "normal", "black")

BARRIER_KINDS = ("river", "water", "railway", "wall", "other")  # what grid edges follow besides streets
BUILDING_PART_KINDS = ("entrance", "floors")  # 按单元 / 按楼层段

STATION_KINDS = ("service_centre", "service_station", "service_post", "red_heart_station", "police_room")
STATION_STATUSES = ("planned", "building", "open", "closed")

STAFF_ROLES = (
    "grid_chief",
    "grid_worker",
    "building_head",
    "street_head",
    "shop_head",
    "police",
    "community_staff",
    "street_staff",
    "department_staff",
)
ASSIGNMENT_TARGETS = ("grid", "building", "street", "complex", "community", "department")

USER_ROLES = ("admin", "planner", "leader", "dispatcher", "patrol", "department")

INCIDENT_SOURCES = ("patrol", "resident", "hotline", "app", "video", "assigned", "whistle")
INCIDENT_LEVELS = ("grid", "community", "street", "district")
INCIDENT_STATUSES = (
    "reported",
    "registered",
    "rejected",
    "dispatched",
    "accepted",
    "in_progress",
    "resolved",
    "verified",
    "closed",
    "rated",
    "backlog",
)

ZH: dict[str, str] = {
    "district": "区",
    "street": "街道",
    "town": "镇",
    "community": "社区",
    "grid": "网格",
    "draft": "草稿",
    "active": "生效",
    "retired": "已撤销",
    "professional": "专业物业",
    "self": "自管",
    "none": "三无",
    "unknown": "未知",
    "independent": "独立建",
    "joint": "联合建",
    "affiliated": "挂靠建",
    "red": "红名单",
    "normal": "一般",
    "black": "黑名单",
    "river": "河流",
    "water": "水域",
    "railway": "铁路",
    "wall": "围墙",
    "entrance": "单元",
    "floors": "楼层段",
    "service_centre": "党群服务中心",
    "service_station": "党群服务站",
    "service_post": "党群服务驿站",
    "red_heart_station": "红心驿站",
    "police_room": "警务室",
    "planned": "规划中",
    "building": "建设中",
    "open": "已运行",
    "closed": "已关闭",
    "grid_chief": "网格长",
    "grid_worker": "网格员",
    "building_head": "楼长",
    "street_head": "街长",
    "shop_head": "店长",
    "police": "社区民警",
    "reported": "上报",
    "registered": "立案",
    "rejected": "不予立案",
    "dispatched": "派遣",
    "accepted": "受理",
    "in_progress": "处置中",
    "resolved": "处置反馈",
    "verified": "核查",
    "rated": "评价",
    "backlog": "挂账",
}
