"""gisgrid.osm: reading OSM PBF and XML into buildings, complexes, the walking network and stations."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import pyrosm
import pytest
import shapely

from gisgrid.errors import InvalidInputError
from gisgrid.osm import OsmExtract, check_geometries, checked, read_osm, station_kind

TEST_PBF = pyrosm.get_data("test_pbf")
HELSINKI_PBF = pyrosm.get_data("helsinki_pbf")
EMPTY_LAYER = r"Could not find any .* for given area"

# ------------------------------------------------------------------------------ a small OSM XML file
# Beijing, around 116.35 E 40.00 N. Coordinates in degrees; 0.0001° ≈ 8.5 m east, 11 m north.
X0, Y0 = 116.3500, 40.0000
NODES: dict[int, tuple[float, float]] = {
    # building way/100: a 20 m × 22 m square inside the complex
    1: (X0 + 0.0002, Y0 + 0.0002), 2: (X0 + 0.0004, Y0 + 0.0002),
    3: (X0 + 0.0004, Y0 + 0.0004), 4: (X0 + 0.0002, Y0 + 0.0004),
    # building way/101: a self-intersecting "bow tie"
    5: (X0 + 0.0010, Y0 + 0.0002), 6: (X0 + 0.0012, Y0 + 0.0004),
    7: (X0 + 0.0012, Y0 + 0.0002), 8: (X0 + 0.0010, Y0 + 0.0004),
    # building way/102 with building:flats (households supplied), outside the complex
    9: (X0 + 0.0030, Y0 + 0.0030), 10: (X0 + 0.0032, Y0 + 0.0030),
    15: (X0 + 0.0032, Y0 + 0.0032), 16: (X0 + 0.0030, Y0 + 0.0032),
    # residential landuse way/200 around building 100 (name only as a tag)
    11: (X0, Y0), 12: (X0 + 0.0008, Y0), 13: (X0 + 0.0008, Y0 + 0.0008), 14: (X0, Y0 + 0.0008),
    # footways: way/400 (21-22-23) and way/401 (23-24) connected; way/402 (31-32) an island
    21: (X0 - 0.0010, Y0 - 0.0010), 22: (X0, Y0 - 0.0010), 23: (X0 + 0.0010, Y0 - 0.0010),
    24: (X0 + 0.0010, Y0 - 0.0020),
    31: (X0 + 0.0050, Y0 + 0.0050), 32: (X0 + 0.0060, Y0 + 0.0050),
}
POINT_NODES = {
    # a police post and a red heart station (recognised by its name only)
    300: ((X0 + 0.0006, Y0 + 0.0006), {"amenity": "police", "name": "学清路警务室"}),
    301: ((X0 + 0.0001, Y0 + 0.0006), {"name": "阳光小区红心驿站"}),
}
WAYS: dict[int, tuple[list[int], dict[str, str]]] = {
    100: ([1, 2, 3, 4, 1], {"building": "residential", "building:levels": "6", "name:zh": "阳光小区1号楼"}),
    101: ([5, 6, 7, 8, 5], {"building": "yes"}),
    102: ([9, 10, 15, 16, 9], {"building": "apartments", "building:flats": "24", "name": "Block 7"}),
    200: ([11, 12, 13, 14, 11], {"landuse": "residential", "name": "阳光小区"}),
    400: ([21, 22, 23], {"highway": "footway", "name": "学清路"}),
    401: ([23, 24], {"highway": "footway"}),
    402: ([31, 32], {"highway": "footway"}),
}
TIMESTAMP = "2024-05-06T08:00:00Z"


def sample_osm_xml(ways: dict[int, tuple[list[int], dict[str, str]]] | None = None) -> str:
    """The sample as OSM XML (API 0.6 style: nodes, then ways, each with version and timestamp)."""
    ways = WAYS if ways is None else ways
    meta = f'version="1" timestamp="{TIMESTAMP}" changeset="1" uid="1" user="test" visible="true"'
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="gisgrid tests">']
    points: dict[int, tuple[tuple[float, float], dict[str, str]]] = {
        i: (xy, {}) for i, xy in NODES.items()
    }
    points.update(POINT_NODES)
    for nid in sorted(points):
        (lon, lat), tags = points[nid]
        if tags:
            lines.append(f' <node id="{nid}" {meta} lat="{lat:.7f}" lon="{lon:.7f}">')
            lines += [f'  <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
            lines.append(" </node>")
        else:
            lines.append(f' <node id="{nid}" {meta} lat="{lat:.7f}" lon="{lon:.7f}"/>')
    for wid in sorted(ways):
        refs, tags = ways[wid]
        lines.append(f' <way id="{wid}" {meta}>')
        lines += [f'  <nd ref="{r}"/>' for r in refs]
        lines += [f'  <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append(" </way>")
    lines.append("</osm>")
    return "\n".join(lines) + "\n"


def write_sample_osm(directory: Path, name: str = "sample.osm", **kwargs: Any) -> Path:
    path = directory / name
    path.write_text(sample_osm_xml(**kwargs), encoding="utf-8")
    return path


def geodesic_lengths(edges: gpd.GeoDataFrame) -> np.ndarray:
    coords = shapely.get_coordinates(edges.geometry.values).reshape(-1, 2, 2)  # two-point segments
    start, end = coords[:, 0], coords[:, 1]
    _, _, dist = pyproj.Geod(ellps="WGS84").inv(start[:, 0], start[:, 1], end[:, 0], end[:, 1])
    return np.asarray(dist)


def pyrosm_reference(path: str) -> dict[str, Any]:
    """What pyrosm itself reads from the file, computed independently of gisgrid.osm."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=EMPTY_LAYER, category=UserWarning)
        osm = pyrosm.OSM(path)
        buildings = osm.get_buildings()
        landuse = osm.get_landuse()
        _, edges = osm.get_network("walking", nodes=True)
    polygonal = ["Polygon", "MultiPolygon"]
    residential = landuse[(landuse["landuse"] == "residential") & landuse.geom_type.isin(polygonal)]
    return {
        "buildings": int(buildings.geom_type.isin(polygonal).sum()),
        "residential_landuse": residential,
        "edges": int((edges["u"] != edges["v"]).sum()),
        "nodes": len(set(edges["u"]) | set(edges["v"])),
    }


@pytest.fixture(scope="module")
def test_pbf() -> OsmExtract:
    return read_osm(TEST_PBF)


@pytest.fixture(scope="module")
def helsinki() -> OsmExtract:
    return read_osm(HELSINKI_PBF)


@pytest.fixture
def sample(tmp_path: Path) -> OsmExtract:
    return read_osm(write_sample_osm(tmp_path))


# ------------------------------------------------------------------------------ PBF
def test_counts_match_what_pyrosm_reads(test_pbf: OsmExtract) -> None:
    ref = pyrosm_reference(TEST_PBF)
    assert len(test_pbf.buildings) == ref["buildings"] == 2208
    # test_pbf has no residential=* polygons besides landuse, so the complexes are the residential landuse
    assert len(test_pbf.complexes) == len(ref["residential_landuse"]) == 25
    assert len(test_pbf.street_edges) == ref["edges"]
    assert len(test_pbf.street_nodes) == ref["nodes"]


def test_frames_are_wgs84_with_the_documented_columns(test_pbf: OsmExtract) -> None:
    for name in ("buildings", "complexes", "street_nodes", "street_edges", "stations"):
        gdf = getattr(test_pbf, name)
        assert gdf.crs.to_epsg() == 4326, name
    assert set(test_pbf.buildings.geom_type) == {"MultiPolygon"}
    assert set(test_pbf.complexes.geom_type) == {"MultiPolygon"}
    assert set(test_pbf.street_nodes.geom_type) == {"Point"}
    assert set(test_pbf.street_edges.geom_type) == {"LineString"}
    assert test_pbf.buildings["source_ref"].str.fullmatch(r"(way|relation)/\d+").all()
    assert test_pbf.buildings["source_ref"].is_unique
    assert test_pbf.street_nodes["source_ref"].str.fullmatch(r"node/\d+").all()
    assert test_pbf.street_edges["source_ref"].str.fullmatch(r"way/\d+/\d+").all()
    assert test_pbf.street_edges["source_ref"].is_unique


def test_edges_are_noded_segments_with_metric_lengths(helsinki: OsmExtract) -> None:
    edges = helsinki.street_edges
    assert (shapely.get_num_coordinates(edges.geometry.values) == 2).all()  # nothing simplified away
    assert (edges["source_node_ref"] != edges["target_node_ref"]).all()  # no self-loops
    geodesic = geodesic_lengths(edges)
    assert np.all(np.abs(edges["length_m"].to_numpy() - geodesic) <= 0.01 * geodesic + 1e-6)
    # every end is a node; every node is an end
    ends = set(edges["source_node_ref"]) | set(edges["target_node_ref"])
    assert ends == set(helsinki.street_nodes["source_ref"])


def test_every_component_is_kept_and_numbered_by_size(helsinki: OsmExtract) -> None:
    sizes = helsinki.component_sizes()
    assert len(sizes) > 1  # islands are kept (retain_all)
    assert sizes == sorted(sizes, reverse=True)
    assert sum(sizes) == len(helsinki.street_nodes)
    summary = helsinki.summary()
    assert summary["street_components"] == {"count": len(sizes), "sizes": sizes}
    # both ends of an edge are in the same component
    comp = dict(zip(helsinki.street_nodes["source_ref"], helsinki.street_nodes["component"], strict=True))
    e = helsinki.street_edges
    assert all(comp[a] == comp[b] for a, b in zip(e["source_node_ref"], e["target_node_ref"], strict=True))


def test_household_methods_cover_every_building(helsinki: OsmExtract) -> None:
    methods = helsinki.summary()["households_methods"]
    assert sum(methods.values()) == len(helsinki.buildings)
    assert methods["levels"] > 0 and methods["height"] > 0 and methods["default"] > 0
    b = helsinki.buildings
    assert (b["households_estimated"] == (b["households_method"] != "supplied")).all()
    mapped = b["levels"].notna()
    assert (b.loc[mapped, "levels"].between(1, 200)).all()
    assert (b.loc[b["households_method"] == "levels", "levels"].notna()).all()


def test_helsinki_stations(helsinki: OsmExtract) -> None:
    st = helsinki.stations
    assert len(st) == 5
    assert set(st["kind"]) <= {"service_station", "service_post", "police_room"}
    assert (st["status"] == "open").all() and st["opened_on"].notna().all()
    assert set(st.geom_type) == {"Point"}


# ------------------------------------------------------------------------------ XML
def test_xml_sample_is_read_through_the_same_path(sample: OsmExtract) -> None:
    b = sample.buildings.set_index("source_ref")
    assert set(b.index) == {"way/100", "way/101", "way/102"}
    assert b.loc["way/100", "name"] == "阳光小区1号楼"  # only name:zh
    assert b.loc["way/100", "levels"] == 6
    assert b.loc["way/100", "building_type"] == "residential_slab"
    assert b.loc["way/100", "households_method"] == "levels"
    assert b.loc["way/101", "households_method"] == "default"
    assert pd_isna(b.loc["way/101", "levels"])  # unknown floors are not stored as a default
    assert b.loc["way/102", "households"] == 24 and b.loc["way/102", "households_method"] == "supplied"

    c = sample.complexes
    assert c["source_ref"].tolist() == ["way/200"]
    assert c["name"].tolist() == ["阳光小区"] and c["named"].tolist() == [True]

    st = sample.stations.set_index("source_ref")
    assert st.loc["node/300", "kind"] == "police_room"
    assert st.loc["node/300", "name"] == "学清路警务室"
    assert st.loc["node/300", "status"] == "open"
    assert st.loc["node/300", "opened_on"] == dt.date(2024, 5, 6)  # the OSM timestamp's date
    assert st.loc["node/301", "kind"] == "red_heart_station"

    e = sample.street_edges.set_index("source_ref")
    assert sorted(e.index) == ["way/400/0", "way/400/1", "way/401/0", "way/402/0"]
    assert e.loc["way/400/0", "name"] == "学清路" and e.loc["way/400/0", "highway"] == "footway"
    assert sample.component_sizes() == [4, 2]


def pd_isna(value: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_xml_and_pbf_give_the_same_extract(tmp_path: Path) -> None:
    import osmium

    xml = write_sample_osm(tmp_path)
    pbf = tmp_path / "sample.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(xml)):
            writer.add(obj)
    a, b = read_osm(xml), read_osm(pbf)
    for name in ("buildings", "complexes", "street_nodes", "street_edges", "stations"):
        left, right = getattr(a, name), getattr(b, name)
        assert left.drop(columns="geometry").equals(right.drop(columns="geometry")), name
        assert left.geometry.geom_equals_exact(right.geometry, tolerance=1e-9).all(), name


def test_bow_tie_is_rejected_with_the_reason_or_repaired(sample: OsmExtract) -> None:
    kept, problems = check_geometries(sample.buildings)
    assert "way/101" not in set(kept["source_ref"])
    [p] = problems
    assert (p.feature, p.field, p.rule, p.action) == ("way/101", "geometry", "valid geometry", "rejected")
    assert p.message.startswith("Self-intersection")

    fixed, by_layer = checked(sample, repair=True)
    [p] = by_layer["buildings"]
    assert p.action == "repaired" and "make_valid" in p.message
    row = fixed.buildings.set_index("source_ref").loc["way/101"]
    assert row.geometry.is_valid and row.geometry.geom_type == "MultiPolygon"
    assert row.geometry.area > 0 and row["households"] >= 0


def test_collapsed_polygon_cannot_be_repaired() -> None:
    line_like = shapely.MultiPolygon([shapely.Polygon([(0, 0), (1, 1), (2, 2), (0, 0)])])
    gdf = gpd.GeoDataFrame({"source_ref": ["way/1"]}, geometry=[line_like], crs=4326)
    kept, [p] = check_geometries(gdf, repair=True)
    assert len(kept) == 0 and p.action == "rejected" and "not a polygon" in p.message


def test_unusable_tag_values_are_warned_and_ignored(tmp_path: Path) -> None:
    ways = dict(WAYS)
    tags = {"building": "residential", "building:levels": "lots", "building:flats": "2.5"}
    ways[100] = ([1, 2, 3, 4, 1], tags)
    extract = read_osm(write_sample_osm(tmp_path, ways=ways))
    warned = {(p.feature, p.field) for p in extract.problems if p.action == "warned"}
    assert {("way/100", "building:levels"), ("way/100", "building:flats")} <= warned
    row = extract.buildings.set_index("source_ref").loc["way/100"]
    assert row["households_method"] == "default"


def test_station_kinds() -> None:
    assert station_kind("学清路红心驿站", "community_centre") == "red_heart_station"
    assert station_kind("学院路街道党群服务中心", None) == "service_centre"
    assert station_kind("石板房社区党群服务站", None) == "service_station"
    assert station_kind(None, "community_centre") == "service_station"
    assert station_kind(None, "police") == "police_room"
    assert station_kind("某某警务室", None) == "police_room"
    assert station_kind(None, "social_facility") == "service_post"
    assert station_kind("中国农业大学东区社区卫生服务中心", "clinic") is None
    assert station_kind("兰州拉面", "restaurant") is None


# ------------------------------------------------------------------------------ broken input
@pytest.mark.parametrize(
    ("name", "content", "rule"),
    [
        ("data.geojson", b'{"type": "FeatureCollection", "features": []}', "a .osm.pbf or .osm file"),
        ("empty.osm.pbf", b"", "a non-empty OSM file"),
        ("empty.osm", b"", "a non-empty OSM file"),
        ("page.osm", b"<html><body>not OSM</body></html>", "valid OSM XML"),
        ("cut.osm", b'<?xml version="1.0"?><osm version="0.6"><node id="1" lat="40', "valid OSM XML"),
        ("nothing.osm", b'<?xml version="1.0"?><osm version="0.6"></osm>',
         "an OSM file with features to import"),
    ],
)
def test_broken_files_name_the_field_and_rule(tmp_path: Path, name: str, content: bytes, rule: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidInputError) as info:
        read_osm(path)
    assert info.value.field == "file"
    assert info.value.rule == rule


def test_truncated_pbf_is_refused(tmp_path: Path) -> None:
    data = Path(HELSINKI_PBF).read_bytes()
    path = tmp_path / "cut.osm.pbf"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidInputError) as info:
        read_osm(path)
    assert info.value.field == "file" and info.value.rule == "a complete, valid OSM file"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError) as info:
        read_osm(tmp_path / "nope.osm.pbf")
    assert info.value.field == "file" and info.value.rule == "an existing file"
