"""Codes, scope and the household window (gisgrid.codes): the one home of these rules."""

from __future__ import annotations

import doctest

import pytest

from gisgrid import codes
from gisgrid.codes import area_level, check_community_code, division_level, grid_code, in_scope, scope_prefix
from gisgrid.errors import InvalidInputError


def test_doctests() -> None:
    result = doctest.testmod(codes)
    assert result.attempted > 0 and result.failed == 0


def test_scope_by_code_not_by_geometry() -> None:
    # a community sees its own grids and nothing of its neighbour, whatever their outlines do
    assert in_scope("370403002001", "370403002001001")
    assert not in_scope("370403002001", "370403002002001")
    # a town (digits 7-9 >= 100) scopes like a street
    assert area_level("370403101000") == "street"
    assert division_level("370403101000") == ("town", "370403000000")
    assert in_scope("370403101000", "370403101004")
    assert not in_scope("370403101000", "370403102004")
    assert scope_prefix("370403000000") == "370403"


@pytest.mark.parametrize("bad", ["37040300200", "3704030020011", "37040300200a", 370403002001, None])
def test_bad_codes_name_the_field(bad: object) -> None:
    with pytest.raises(InvalidInputError) as err:
        check_community_code(bad, field="community")
    assert err.value.field == "community"


def test_grid_codes() -> None:
    assert grid_code("370403002001", 1) == "370403002001001"
    with pytest.raises(InvalidInputError):
        grid_code("370403002001", 1000)
    assert codes.MIN_HOUSEHOLDS < codes.MAX_HOUSEHOLDS
