"""A validation problem as the grid map's hover says it, in the page's language.

The core writes each :class:`~gisgrid.grids.GridProblem` message in English (for logs, the command line and
the API); a zh-CN page says the same in Chinese from the problem's rule, grid codes and ``details`` (and the
``complex_label`` / ``building_label`` the database layer adds: name and source id).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["problem_text"]


def _n(value: Any, digits: int = 0) -> str:
    try:
        return f"{float(value):,.{digits}f}"
    except (TypeError, ValueError):
        return "?"


def _codes(codes: tuple[str, ...]) -> str:
    return "、".join(codes)


def _label(details: Mapping[str, Any], key: str, fallback: Any) -> str:
    return str(details.get(key) or (f"#{fallback}" if fallback is not None else ""))


def _households(p: Any, d: Mapping[str, Any]) -> str:
    return f"网格{p.grid_code}有{d.get('households', '?')}户，不在{d.get('min', '?')}–{d.get('max', '?')}户的范围内"


def _outside(p: Any, d: Mapping[str, Any]) -> str:
    lies_in = tuple(d.get("lies_in") or ())
    where = f"实际位于网格{_codes(lies_in)}" if lies_in else "实际不在任何网格内"
    return (f"楼栋{_label(d, 'building_label', p.building)}记在网格{d.get('recorded', '?')}，{where}"
            "（楼栋已移动或网格已重画）：请重新导入或重新发布网格")


def _parts(p: Any, d: Mapping[str, Any]) -> str:
    orphans = tuple(str(c) for c in (d.get("orphans") or ()))
    text = (f"楼栋{_label(d, 'building_label', p.building)}的分段共{d.get('parts_households', '?')}户，"
            f"与楼栋的{d.get('households', '?')}户不符")
    if orphans:
        text += f"；分段归属的{_codes(orphans)}不是现有网格"
    return text + "：请重新规划该社区"


def _complex(p: Any, d: Mapping[str, Any]) -> str:
    per_grid = d.get("per_grid") or {}
    shares = "，".join(f"{code} {hh}户" for code, hh in sorted(per_grid.items()))
    text = (f"小区{_label(d, 'complex_label', p.complex)}（{d.get('households', '?')}户）被分到"
            f"{len(p.grid_codes)}个网格" + (f"：{shares}" if shares else ""))
    if p.severity == "warning":
        text += "；户数超过一个网格的上限，只能拆分"
    return text


_ZH: dict[str, Callable[[Any, Mapping[str, Any]], str]] = {
    "invalid_geometry": lambda p, d: f"网格{p.grid_code}的边界图形无效，需重新绘制",
    "duplicate_code": lambda p, d: f"编号{p.grid_code}被{d.get('count', '多')}个网格重复使用",
    "households_out_of_range": _households,
    "non_contiguous": lambda p, d: (f"网格{p.grid_code}分成{d.get('pieces', '多')}块，"
                                    f"其中{_n(d.get('stray_area_m2'))}平方米与主体不相连"),
    "overlap": lambda p, d: f"网格{_codes(p.grid_codes)}重叠{_n(d.get('area_m2'))}平方米",
    "gap": lambda p, d: (f"社区内{_n(d.get('area_m2'))}平方米不属于任何网格"
                         + (f"（邻近{_codes(p.grid_codes)}）" if p.grid_codes else "")),
    "outside_community": lambda p, d: f"网格{p.grid_code}超出社区边界{_n(d.get('area_m2'))}平方米",
    "building_unassigned": lambda p, d: (f"楼栋{_label(d, 'building_label', p.building)}"
                                         f"（{d.get('households', '?')}户）不在任何网格内"),
    "building_in_several": lambda p, d: (f"楼栋{_label(d, 'building_label', p.building)}跨"
                                         f"{len(p.grid_codes)}个网格：{_codes(p.grid_codes)}"),
    "building_outside_grid": _outside,
    "building_parts_mismatch": _parts,
    "complex_split": _complex,
    "sliver": lambda p, d: (f"网格{p.grid_code}过小或过于狭长（{_n(d.get('area_m2'))}平方米，"
                            f"紧凑度{_n(d.get('polsby_popper'), 3)}）"),
}


def problem_text(problem: Any, language: str) -> str:
    """The hover text of ``problem`` (a ``GridProblem``): its message in English, a Chinese sentence in zh-CN."""
    if language != "zh-CN":
        return str(problem.message)
    say = _ZH.get(problem.rule)
    if say is None:
        return str(problem.message)
    return say(problem, problem.details or {})
