"""Codes, scope, the household window and the time zone: the rules every layer shares, stated once.

**Codes.** A statistical division code (统计用区划代码) has 12 digits: 6 for the county (GB/T 2260,
e.g. 薛城区 370403), 3 for the street office or town (digits 7–9: 001–099 street, 100–199 town,
200–399 township) and 3 for the community or village (digits 10–12). A unit grid code (GB/T 30428.1
practice, e.g. Beijing DB11) has 15 digits: the community's 12 plus a 3-digit sequence numbered west →
east, then north → south inside the community. The zero suffix gives a code's level: ``370403000000`` is
a district, ``370403002000`` a street, ``370403002001`` a community, ``370403002001003`` a grid.

**Scope.** An account answers for one area (its ``scope_code``; ``None`` = everywhere). A district scope
covers the codes with the same first 6 digits, a street scope the same 9, a community scope all 12 (and
that community's grids), a grid scope only that grid. Scope is decided by code — never by geometric
intersection: neighbouring communities' grids overlap an outline by 0.01–0.8 m² of floating-point noise,
and an intersection test showed a community account 8 grids of its neighbours.

**The household window.** A unit grid holds 300–500 households: the local practice of the source
reports (some places use 150–300), so it is a default every caller may override.

**Time.** China has one time zone, UTC+8, with no daylight saving since 1991.
"""

from __future__ import annotations

import re
from typing import Final, Literal
from zoneinfo import ZoneInfo

from gisgrid.errors import InvalidInputError

__all__ = [
    "CHINA_TZ",
    "CHINA_TZ_NAME",
    "MAX_HOUSEHOLDS",
    "MIN_HOUSEHOLDS",
    "SIGNIFICANT_DIGITS",
    "AreaLevel",
    "area_level",
    "check_community_code",
    "division_level",
    "grid_code",
    "in_scope",
    "scope_prefix",
]

MIN_HOUSEHOLDS: Final = 300
MAX_HOUSEHOLDS: Final = 500

CHINA_TZ_NAME: Final = "Asia/Shanghai"
CHINA_TZ: Final = ZoneInfo(CHINA_TZ_NAME)

AreaLevel = Literal["district", "street", "community", "grid"]
# how many leading digits a code of each level decides
SIGNIFICANT_DIGITS: Final[dict[str, int]] = {"district": 6, "street": 9, "community": 12, "grid": 15}

_CODE = re.compile(r"^[0-9]{12}([0-9]{3})?$")


def area_level(code: str, *, field: str = "scope_code") -> AreaLevel:
    """The level of a 12-digit statistical code (or a 15-digit grid code) from its zero suffix.

    >>> area_level("370403000000"), area_level("370403002000"), area_level("370403002001")
    ('district', 'street', 'community')
    >>> area_level("370403002001003")
    'grid'
    """
    if not isinstance(code, str) or not _CODE.match(code):
        raise InvalidInputError(
            f"area code {code!r} must be 12 digits (or 15 for a grid)",
            field=field,
            feature=code,
            rule="12-digit statistical code or 15-digit grid code",
        )
    if len(code) == 15:
        return "grid"
    if code[6:] == "000000":
        return "district"
    if code[9:] == "000":
        return "street"
    return "community"


def division_level(code: str) -> tuple[str, str | None]:
    """The administrative level (``town`` apart from ``street``) and the parent code of a 12-digit code.

    >>> division_level("370403001002"), division_level("370403101000")
    (('community', '370403001000'), ('town', '370403000000'))
    >>> division_level("370403000000")
    ('district', None)
    """
    if code[9:] != "000":
        return "community", code[:9] + "000"
    if code[6:9] != "000":
        return ("street" if int(code[6:9]) < 100 else "town"), code[:6] + "000000"
    return "district", None


def scope_prefix(scope_code: str, *, field: str = "scope_code") -> str:
    """The leading digits every code inside ``scope_code`` shares.

    >>> scope_prefix("370403002000"), scope_prefix("370403002001")
    ('370403002', '370403002001')
    """
    return scope_code[: SIGNIFICANT_DIGITS[area_level(scope_code, field=field)]]


def in_scope(scope_code: str | None, area_code: str | None) -> bool:
    """Whether an account whose scope is ``scope_code`` may see or act on something at ``area_code``.

    ``None`` scope means everywhere. An area coarser than the scope (a street-level case for a community
    account) or missing (``None``) is outside any non-``None`` scope.

    >>> in_scope("370403002000", "370403002001"), in_scope("370403002001", "370403002000")
    (True, False)
    >>> in_scope("370403002001", "370403002001004"), in_scope("370403002001", "370403002002004")
    (True, False)
    """
    if scope_code is None:
        return True
    need = SIGNIFICANT_DIGITS[area_level(scope_code)]
    if area_code is None:
        return False
    have = SIGNIFICANT_DIGITS[area_level(area_code, field="area_code")]
    return have >= need and area_code[:need] == scope_code[:need]


def check_community_code(code: object, *, field: str = "community_code") -> str:
    """``code`` if it is a 12-digit community code, else :class:`InvalidInputError` naming ``field``."""
    if not (isinstance(code, str) and len(code) == 12 and code.isdigit()):
        raise InvalidInputError(
            f"{field} {code!r} is not a 12-digit statistical code", field=field, feature=code, rule="12 digits"
        )
    return code


def grid_code(community_code: str, seq: int) -> str:
    """The 15-digit code of grid number ``seq`` (1–999) of a community.

    >>> grid_code("370403002001", 7)
    '370403002001007'
    """
    check_community_code(community_code)
    if not 1 <= seq <= 999:
        raise InvalidInputError(
            f"grid sequence {seq} is outside 1–999", field="seq", feature=seq, rule="3-digit sequence"
        )
    return f"{community_code}{seq:03d}"
