"""What each kind of layer holds: its fields and their rules, its key and geometry, the column aliases.

docs/formats.md lists the same for people.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gisgrid import vocab

__all__ = [
    "BUILTIN_ALIASES",
    "GENERATED_ID_KINDS",
    "IGNORE",
    "KEEPS_ATTRIBUTES",
    "KINDS", "SCHEMAS", "FieldSpec", "LayerSchema", "split_source_id"]

KINDS = ("areas", "buildings", "complexes", "stations", "staff", "incidents", "streets", "barriers")
#: Kinds whose table keeps the columns gisgrid has no field for (``attributes`` JSONB).
KEEPS_ATTRIBUTES = ("buildings", "complexes", "stations")
#: Kinds whose features get generated ids when the file has none (or all the same).
GENERATED_ID_KINDS = ("buildings", "complexes", "stations", "incidents", "streets", "barriers")
IGNORE = "-"  # a mapping target that drops the column


@dataclass(frozen=True)
class FieldSpec:
    """One importable field: its type and the rule it must keep.

    ``type`` is one of ``str``, ``int``, ``float``, ``bool``, ``date``, ``datetime``. ``read_only``
    fields are written by ``gisgrid export`` and accepted (and ignored) on import, so exported files
    import again unchanged.
    """

    name: str
    type: str = "str"
    required: bool = False
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    pattern_rule: str | None = None
    read_only: bool = False


@dataclass(frozen=True)
class LayerSchema:
    kind: str
    key: str  # the column that identifies a feature (upsert key)
    geometry: str | None  # "polygon", "point", "line", "line_or_polygon" or None (no geometry; ignored)
    fields: tuple[FieldSpec, ...]
    aliases: Mapping[str, str] = field(default_factory=dict)

    def spec(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def attributes(self) -> tuple[str, ...]:
        """The fields stored on the row besides the key; read-only context is not stored."""
        return tuple(f.name for f in self.fields if f.name != self.key and not f.read_only)


def _code12(name: str, *, required: bool = False) -> FieldSpec:
    return FieldSpec(
        name, required=required, pattern=r"^[0-9]{12}$", pattern_rule="a 12-digit statistical division code"
    )


def _context(*names: str) -> tuple[FieldSpec, ...]:
    """Columns ``gisgrid export`` adds for people (the community, the grid …), ignored on import."""
    return tuple(FieldSpec(name, read_only=True) for name in names)


_ID = FieldSpec("id", required=True)
_NAME = FieldSpec("name", required=True)

SCHEMAS: dict[str, LayerSchema] = {
    "areas": LayerSchema(
        "areas",
        key="code",
        geometry="polygon",
        fields=(
            _code12("code", required=True),
            _NAME,
            FieldSpec("level", choices=vocab.AREA_LEVELS),
            _code12("parent_code"),
        ),
    ),
    "buildings": LayerSchema(
        "buildings",
        key="id",
        geometry="polygon",
        fields=(
            _ID,
            FieldSpec("name"),
            FieldSpec("building_type", choices=vocab.BUILDING_TYPES),
            FieldSpec("levels", "int", minimum=1, maximum=200),
            FieldSpec("units", "int", minimum=1, maximum=1000),
            FieldSpec("households", "int", minimum=0, maximum=100_000),
            FieldSpec("height", "float", minimum=0, maximum=1000),  # 0 is read as unknown
            FieldSpec("households_method", choices=vocab.HOUSEHOLD_METHODS),
            FieldSpec("households_estimated", "bool", read_only=True),
            *_context("complex_ref", "community_code", "grid_code"),
        ),
        aliases={"kind": "building_type", "type": "building_type"},
    ),
    "complexes": LayerSchema(
        "complexes",
        key="id",
        geometry="polygon",
        fields=(
            _ID,
            _NAME,
            FieldSpec("property_company"),
            FieldSpec("management", choices=vocab.MANAGEMENT_KINDS),
            FieldSpec("owners_committee_since", "date"),
            FieldSpec("party_org", choices=vocab.PARTY_ORG_MODES),
            FieldSpec("red_property", "bool"),
            FieldSpec("built_year", "int", minimum=1800, maximum=2100),
            *_context("community_code"),
        ),
    ),
    "stations": LayerSchema(
        "stations",
        key="id",
        geometry="point",
        fields=(
            _ID,
            _NAME,
            FieldSpec("kind", required=True, choices=vocab.STATION_KINDS),
            FieldSpec("status", choices=vocab.STATION_STATUSES),
            FieldSpec("planned_on", "date"),
            FieldSpec("building_since", "date"),
            FieldSpec("opened_on", "date"),
            FieldSpec("closed_on", "date"),
            FieldSpec("service_radius_m", "float", minimum=1, maximum=20_000),
            *_context("community_code", "complex_ref"),
        ),
        aliases={"type": "kind"},
    ),
    "staff": LayerSchema(
        "staff",
        key="id",
        geometry=None,
        fields=(
            FieldSpec("id"),
            _NAME,
            FieldSpec("role", required=True, choices=vocab.STAFF_ROLES),
            FieldSpec("phone"),
            _code12("community_code"),
            FieldSpec("active", "bool"),
        ),
    ),
    "incidents": LayerSchema(
        "incidents",
        key="id",
        geometry="point",
        fields=(
            _ID,
            FieldSpec(
                "category_code", required=True, pattern=r"^[0-9]{5}$", pattern_rule="a 5-digit category code"
            ),
            FieldSpec("source", required=True, choices=vocab.INCIDENT_SOURCES),
            FieldSpec("reported_at", "datetime"),
            FieldSpec("description"),
            FieldSpec("reporter_contact"),
            *_context("status", "level", "grid_code", "community_code", "closed_at", "satisfaction"),
        ),
        aliases={"category": "category_code", "类别": "category_code", "类别编码": "category_code"},
    ),
    "streets": LayerSchema(
        "streets",
        key="id",
        geometry="line",
        fields=(_ID, FieldSpec("name"), FieldSpec("highway")),
        aliases={"道路名称": "name", "路名": "name", "道路等级": "highway", "等级": "highway"},
    ),
    "barriers": LayerSchema(
        "barriers",
        key="id",
        geometry="line_or_polygon",
        fields=(_ID, FieldSpec("kind", choices=vocab.BARRIER_KINDS), FieldSpec("name")),
        aliases={"type": "kind"},
    ),
}

#: Column names recognised without any mapping (case-insensitive for Latin names).
BUILTIN_ALIASES: dict[str, str] = {
    "编号": "id",
    "标识": "id",
    "fid": "id",
    "户数": "households",
    "住户数": "households",
    "楼层": "levels",
    "层数": "levels",
    "building:levels": "levels",
    "名称": "name",
    "小区名称": "name",
    "楼栋名称": "name",
    "站点名称": "name",
    "姓名": "name",
    "编码": "code",
    "代码": "code",
    "区划代码": "code",
    "统计用区划代码": "code",
    "级别": "level",
    "上级代码": "parent_code",
    "上级编码": "parent_code",
    "类型": "kind",
    "建筑类型": "building_type",
    "状态": "status",
    "单元数": "units",
    "高度": "height",
    "物业公司": "property_company",
    "管理方式": "management",
    "党组织": "party_org",
    "红色物业": "red_property",
    "业委会成立日期": "owners_committee_since",
    "建成年份": "built_year",
    "规划日期": "planned_on",
    "开工日期": "building_since",
    "建设日期": "building_since",
    "启用日期": "opened_on",
    "运行日期": "opened_on",
    "关闭日期": "closed_on",
    "服务半径": "service_radius_m",
    "角色": "role",
    "岗位": "role",
    "电话": "phone",
    "联系电话": "phone",
    "手机": "phone",
    "社区代码": "community_code",
    "社区编码": "community_code",
    "在岗": "active",
    "类别": "category_code",
    "来源": "source",
    "上报时间": "reported_at",
    "描述": "description",
    "问题描述": "description",
    "联系方式": "reporter_contact",
}


def split_source_id(value: str) -> tuple[str, str]:
    """The (source, source_ref) a feature id stands for.

    Ids written by ``gisgrid export`` for rows that did not come from an import carry their source
    (``osm:way/123``, ``synthetic:b17``); every other id is an import id.

    Examples
    --------
    >>> split_source_id("B-17"), split_source_id("osm:way/5")
    (('import', 'B-17'), ('osm', 'way/5'))
    """
    head, sep, tail = value.partition(":")
    if sep and head in vocab.SOURCES and tail:
        return head, tail
    return "import", value
