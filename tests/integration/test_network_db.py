"""layers.network: the demo-sized street network read from PostGIS, cached, and re-read after a change."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.errors import GeometryError
from layers.network import load_network, network_version, street_network


def _lattice(db: Session, n: int = 5) -> None:
    """n×n nodes 0.001° apart (≈90 m east–west, 111 m north–south near 34.8° N), streets between them."""
    for j in range(n):
        for i in range(n):
            db.execute(text("INSERT INTO street_node (id, geom) VALUES (:id, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
                       {"id": j * n + i + 1, "x": 117.26 + i * 0.001, "y": 34.80 + j * 0.001})
    eid = 0
    for j in range(n):
        for i in range(n):
            k = j * n + i + 1
            for other in ([k + 1] if i + 1 < n else []) + ([k + n] if j + 1 < n else []):
                eid += 1
                db.execute(text(
                    "INSERT INTO street_edge (id, source_node, target_node, length_m, geom) "
                    "SELECT :id, a.id, b.id, ST_Length(ST_MakeLine(a.geom, b.geom)::geography), "
                    "ST_MakeLine(a.geom, b.geom) FROM street_node a, street_node b WHERE a.id = :a AND b.id = :b"
                ), {"id": eid, "a": k, "b": other})


def test_load_and_cache(db: Session) -> None:
    with pytest.raises(GeometryError) as err:
        load_network(db)
    assert err.value.field == "street_edge"
    _lattice(db)
    net = street_network(db)
    assert net.n_nodes == 25 and net.n_edges == 40
    assert net.component.max() == 0
    # stored lengths are geodesic metres; the metric CRS measures the straight lines within 0.1 %
    assert np.allclose(net.edge_length, [ln.length for ln in net.edge_lines], rtol=1e-3)
    assert street_network(db) is net  # unchanged tables: the same object
    before = network_version(db)
    db.execute(text("DELETE FROM street_edge WHERE id = 1"))
    assert network_version(db) != before
    again = street_network(db)
    assert again is not net and again.n_edges == 39
