"""Automatic grid partition of a community (网格自动划分): buildings → grids of 300–500 households.

:func:`plan_grids` cuts one community into ``k`` unit grids (网格) whose households lie in
``[min_households, max_households]``, whose polygons tile the community exactly, and which are
contiguous, compact and keep residential complexes (小区) whole where their households allow.

How it works, one module per step
---------------------------------
1. **Units** (:mod:`.units`). Every building is a unit at its representative point; a building over the
   maximum is split by entrance into runs of consecutive entrances, else by floor range
   (:attr:`GridPlan.pieces`); one that cannot be split is a grid of its own.
2. **Tessellation and adjacency** (:mod:`.tessellation`). Community boundary, streets, barriers, the reach
   of open land and the units' Voronoi edges are noded once and polygonised into cells that end at
   streets and barriers and, with the water pieces, tile the community exactly; cells sharing a border are
   neighbours, weighted by its length (× :data:`WEAK_LINK` across a major road or barrier,
   × :data:`STREET_LINK` along a minor street); banks of water are joined only at bridges. Built in a
   local metric frame (:mod:`.inputs`).
3. **k** (:mod:`.plan`). From ``[⌈H/max⌉, ⌊H/min⌋]``, ``H / k`` nearest the middle of the window first.
4. **Recursive weighted bisection** (:mod:`.bisection`). ``⌊k/2⌋ : ⌈k/2⌉`` straight sweeps in eight
   directions (offset by the seed), only at cuts that keep both sides feasible, cheapest by street-weighted
   cut length + complexes cut + distance from the proportional share, both sides contiguous.
5. **Repair** (:mod:`.repair`). Detached pieces rejoin a neighbour; a grid out of range is merged with
   one or two neighbours and the union re-bisected (a deterministic ReCom step); chained move pairs; a
   split complex that fits is made whole by re-bisecting the grids it spans or carving it out as a grid.
6. **Local search** (:mod:`.local_search`). Boundary units, whole complexes and pieces of street blocks
   move between grids while that lowers households outside the window, then complexes split, then raises
   Polsby–Popper less the boundary off streets.
7. **Numbering** (:mod:`.numbering`) west→east, north→south, and the result (:mod:`.plan`); problems name
   buildings and say what would fix them (:mod:`.findings`).

The search state shared by steps 4–6 is :mod:`.graph`; how far steps 5–6 may go is :mod:`.budget`.

Why this and not a peer: GerryChain's ``recursive_tree_part`` cuts random spanning trees — balanced but
ragged, and blind to complexes; spopt's max-p has a floor but no ceiling. A geometric sweep produces
straight, short cuts, and the local search then polishes shape while enforcing the window and the
complexes (see ``docs/partition.md`` and ``benchmarks/bench_partition.py`` for the figures).

Deterministic: for a given input (buildings in the same order) and ``seed`` the plan is the same, byte
for byte, on any machine and under any load. Directions, visiting order and ties depend only on the seed
and the input order, and the search is bounded by counted work (:mod:`.budget`), never by the clock.
"""

from gisgrid.grids.partition.inputs import DEFAULT_MAJOR_HIGHWAYS, NON_STREET_HIGHWAYS
from gisgrid.grids.partition.metrics import polsby_popper
from gisgrid.grids.partition.numbering import number_grids
from gisgrid.grids.partition.plan import GridPlan, building_adjacency, plan_grids
from gisgrid.grids.partition.tessellation import STREET_LINK, WEAK_LINK

__all__ = [
    "DEFAULT_MAJOR_HIGHWAYS",
    "NON_STREET_HIGHWAYS",
    "STREET_LINK",
    "WEAK_LINK",
    "GridPlan",
    "building_adjacency",
    "number_grids",
    "plan_grids",
    "polsby_popper",
]
