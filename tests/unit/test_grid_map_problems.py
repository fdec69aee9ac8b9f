"""The grid map's problems: purple errors (not the red of "over 500"), thin dotted warnings with no fill, and
hover texts in the page's language — Chinese on a zh-CN page, for every validation rule."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
from shapely.geometry import box

from gisgrid.grids import validate_grids
from gisgrid.grids.problems import RULES, GridProblem
from gisgrid.maps import GRID_STYLES, PROBLEM_STYLES, build_grid_map, render_html
from gisgrid.maps.problem_text import problem_text

CC = "110105001001"


def _problems() -> list[GridProblem]:
    community = box(116.30, 39.90, 116.33, 39.91)
    grids = gpd.GeoDataFrame(
        {"code": [CC + "001", CC + "002", CC + "002"]},
        geometry=[box(116.30, 39.90, 116.312, 39.91), box(116.311, 39.90, 116.32, 39.91),
                  box(116.3195, 39.90, 116.3196, 39.91)],
        crs=4326,
    )
    buildings = gpd.GeoDataFrame(
        {"households": [200, 300, 700, 50], "complex_id": [7, 7, None, None]},
        geometry=[box(116.301, 39.905, 116.3013, 39.9053), box(116.314, 39.905, 116.3143, 39.9053),
                  box(116.316, 39.905, 116.3163, 39.9053), box(116.325, 39.905, 116.3253, 39.9053)],
        crs=4326,
        index=[11, 12, 13, 14],
    )
    return validate_grids(grids, buildings, community)


def test_every_rule_has_a_chinese_sentence() -> None:
    from gisgrid.maps.problem_text import _ZH

    assert set(_ZH) == set(RULES)


def test_problems_read_in_chinese_on_a_chinese_page() -> None:
    problems = _problems()
    rules = {p.rule for p in problems}
    assert {"households_out_of_range", "overlap", "gap", "building_unassigned", "complex_split", "sliver",
            "duplicate_code"} <= rules
    for p in problems:
        zh = problem_text(p, "zh-CN")
        assert zh and not any(word in zh for word in ("grid ", "households", "lies in", "building ")), zh
        assert problem_text(p, "en") == p.message
    gap = next(p for p in problems if p.rule == "gap")
    assert "平方米不属于任何网格" in problem_text(gap, "zh-CN")
    split = next(p for p in problems if p.rule == "complex_split")
    split.details = {**split.details, "complex_label": "阳光花园 (id 7, source syn-complex-00006)"}
    said = problem_text(split, "zh-CN")
    assert said.startswith("小区阳光花园 (id 7, source syn-complex-00006)（500户）被分到2个网格"), said


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_page_carries_the_texts_of_its_language(language: str) -> None:
    problems = _problems()
    grids = gpd.GeoDataFrame({"code": [CC + "001", CC + "002"], "households": [200, 1000]},
                             geometry=[box(116.30, 39.90, 116.312, 39.91), box(116.311, 39.90, 116.32, 39.91)],
                             crs=4326)
    page = render_html(build_grid_map(grids=grids, problems=problems, language=language))  # type: ignore[arg-type]
    unassigned = next(p for p in problems if p.rule == "building_unassigned")
    def on_page(text: str) -> bool:  # folium writes the GeoJSON with \\u escapes
        return text in page or json.dumps(text)[1:-1] in page

    if language == "zh-CN":
        assert on_page("不在任何网格内") and not on_page(unassigned.message)
    else:
        assert on_page(unassigned.message) and not on_page("不在任何网格内")


def test_error_and_warning_styles_leave_the_household_colours_visible() -> None:
    error, warning = PROBLEM_STYLES["error"], PROBLEM_STYLES["warning"]
    reds = {GRID_STYLES["over"]["color"], GRID_STYLES["over"]["fillColor"]}
    assert error["color"] not in reds and error["fillColor"] not in reds
    assert error["color"] != warning["color"]
    assert warning["fillOpacity"] == 0 and warning["weight"] < GRID_STYLES["in_range"]["weight"]
    dash, gap = (float(x) for x in warning["dashArray"].split())
    assert dash < gap  # dotted: more gap than line


def test_a_warning_area_is_drawn_without_fill() -> None:
    problems = [p for p in _problems() if p.rule == "complex_split"]
    assert problems and all(p.severity == "error" for p in problems)
    problems[0].severity = "warning"
    grids = gpd.GeoDataFrame({"code": [CC + "001"], "households": [400]}, geometry=[box(116.30, 39.90, 116.312, 39.91)],
                             crs=4326)
    page = render_html(build_grid_map(grids=grids, problems=problems))
    assert '"dashArray": "1 4"' in page and '"fillOpacity": 0.0' in page
