"""The incident category list shipped as editable data (``gisgrid/data/categories.csv``), read in one place.

Categories follow the 5-digit scheme of GB/T 30428.2 practice: a 2-digit class and a 3-digit item (e.g.
``06010`` 暴露垃圾 in class ``06`` 市容环境). Each row has ``code``, ``class_name``, ``name``,
``default_level`` (the lowest level that handles it: grid, community, street or district) and an
optional ``weight`` (relative frequency, used by the synthetic district; 1 when absent). A district edits
the file, not the code.
"""

from __future__ import annotations

import csv
import importlib.resources
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from gisgrid import vocab
from gisgrid.errors import ConfigurationError

__all__ = ["Category", "categories", "category_classes"]


@dataclass(frozen=True)
class Category:
    code: str
    class_name: str
    name: str
    default_level: str
    weight: float = 1.0


@lru_cache(maxsize=1)
def categories() -> Mapping[str, Category]:
    """``code → Category`` in file order, read once from the package data and checked."""
    path = importlib.resources.files("gisgrid") / "data" / "categories.csv"
    out: dict[str, Category] = {}
    with path.open("r", encoding="utf-8") as fh:
        for lineno, row in enumerate(csv.DictReader(fh), start=2):
            code = (row.get("code") or "").strip()
            level = (row.get("default_level") or "grid").strip() or "grid"
            if not (len(code) == 5 and code.isdigit()) or code in out or level not in vocab.INCIDENT_LEVELS:
                raise ConfigurationError(
                    f"categories.csv:{lineno}: code {code!r} must be 5 unique digits and default_level one of "
                    f"{', '.join(vocab.INCIDENT_LEVELS)} (got {level!r})",
                    field="code", feature=lineno, rule="category list row",
                )
            out[code] = Category(code, row["class_name"], row["name"], level, float(row.get("weight") or 1))
    return out


def category_classes() -> dict[str, str]:
    """``2-digit class → class name``."""
    return {c.code[:2]: c.class_name for c in categories().values()}
