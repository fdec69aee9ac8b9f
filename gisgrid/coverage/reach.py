"""Walking thresholds per station kind, and who reaches whom within them over the street network.

A household is *covered* by a station when the walk from the station to the building's door — along
the street network, plus the short way from each place to its street (the snap offset) — is at most
the station kind's threshold. Straight-line circles overstate reach wherever a railway, a river or a
wall of gated complexes forces a detour, and that is exactly where the gaps hide.

The default thresholds are :data:`gisgrid.coverage.thresholds.DEFAULT_THRESHOLDS_M` (a red heart station
serves "the last 100 metres", a community's service station 500 m, a street's service centre 1,000 m);
a caller may name one (``threshold_m``) or pass its own table (the service reads ``GISGRID_COVERAGE_*``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.sparse import csr_array

from gisgrid import vocab
from gisgrid.coverage.thresholds import DEFAULT_THRESHOLDS_M
from gisgrid.errors import InvalidInputError
from gisgrid.network import Snap, StreetNetwork, place_distances

__all__ = ["DEFAULT_WALK_M", "MAX_WALK_M", "covered_mask", "reach", "walk_threshold"]

DEFAULT_WALK_M: Mapping[str, float] = DEFAULT_THRESHOLDS_M
MAX_WALK_M = 20_000.0  # the station table's own bound on a service radius

# a source chunk's dense distance block stays under this many cells (8 bytes each: ~32 MB)
_CELLS_PER_CHUNK = 4_000_000


def walk_threshold(
    kind: str, threshold_m: float | None = None, thresholds: Mapping[str, float] | None = None
) -> float:
    """The walking threshold for ``kind``: ``threshold_m`` when given, else the table's (default
    :data:`DEFAULT_WALK_M`). A kind without one must be given a threshold."""
    if kind not in vocab.STATION_KINDS:
        raise InvalidInputError(
            f"unknown station kind {kind!r}; choose one of {', '.join(vocab.STATION_KINDS)}",
            field="kind",
            feature=kind,
            rule="a station kind",
        )
    if threshold_m is None:
        table = DEFAULT_WALK_M if thresholds is None else thresholds
        if kind not in table:
            raise InvalidInputError(
                f"no walking threshold is set for {kind}; give one in metres",
                field="threshold_m",
                feature=kind,
                rule="a threshold for kinds without a default",
            )
        threshold_m = table[kind]
    value = float(threshold_m)
    if not (0 < value <= MAX_WALK_M):
        raise InvalidInputError(
            f"a walking threshold must be more than 0 and at most {MAX_WALK_M:,.0f} m, not {value}",
            field="threshold_m",
            feature=value,
            rule=f"0 < threshold_m <= {MAX_WALK_M:.0f}",
        )
    return value


def reach(net: StreetNetwork, sources: Snap, targets: Snap, limit: float | np.ndarray) -> csr_array:
    """Which targets each source reaches: a boolean ``(sources × targets)`` CSR, True where the walk is
    at most that source's ``limit`` (one value, or one per source).

    Searched from the sources in chunks, so the dense block of distances never outgrows a few tens of
    megabytes however many buildings there are.
    """
    n_s, n_t = len(sources), len(targets)
    limits = np.broadcast_to(np.asarray(limit, dtype=float), (n_s,))
    if n_s == 0 or n_t == 0:
        return csr_array((n_s, n_t), dtype=bool)
    chunk = max(1, min(n_s, _CELLS_PER_CHUNK // max(n_t, net.n_nodes, 1)))
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for start in range(0, n_s, chunk):
        part = np.arange(start, min(start + chunk, n_s))
        d = place_distances(net, sources.take(part), targets, limit=float(limits[part].max()))
        r, c = np.nonzero(d <= limits[part, None])
        rows.append(r + start)
        cols.append(c)
    r, c = np.concatenate(rows), np.concatenate(cols)
    # nonzero returns row-major order, chunks ascend: (r, c) is already sorted as CSR wants it
    indptr = np.zeros(n_s + 1, dtype=np.int64)
    np.add.at(indptr, r + 1, 1)
    return csr_array((np.ones(len(c), dtype=bool), c.astype(np.int64), np.cumsum(indptr)), shape=(n_s, n_t))


def covered_mask(net: StreetNetwork, sources: Snap, targets: Snap, limit: float | np.ndarray) -> np.ndarray:
    """True for each target some source reaches within its limit."""
    if len(sources) == 0:
        return np.zeros(len(targets), dtype=bool)
    hits = reach(net, sources, targets, limit)
    return np.bincount(hits.indices, minlength=len(targets)) > 0
