"""The street network of the database as a :class:`gisgrid.network.StreetNetwork`, kept per process.

Coverage and patrol planning both walk the same graph. Reading ``street_node``/``street_edge`` and
building the CSR costs far more than a query on it (the point of keeping the CSR form), so the network is
cached per process and per database, and reused while the tables are unchanged. "Unchanged" is checked
with one cheap statement (row counts, the highest ids and the sum of edge lengths of both tables); an
import that adds, removes or moves edges changes at least one of them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import geopandas as gpd
from sqlalchemy import text
from sqlalchemy.orm import Session

from gisgrid.errors import GeometryError
from gisgrid.network import StreetNetwork

__all__ = ["NetworkCache", "load_network", "network_version", "street_network"]

_VERSION_SQL = text(
    "SELECT (SELECT count(*) FROM street_node), (SELECT coalesce(max(id), 0) FROM street_node),"
    " (SELECT count(*) FROM street_edge), (SELECT coalesce(max(id), 0) FROM street_edge),"
    " (SELECT coalesce(round(sum(length_m)::numeric, 3), 0) FROM street_edge)"
)


def network_version(session: Session) -> tuple[object, ...]:
    """A fingerprint of the street tables: equal fingerprints mean the same network."""
    return tuple(session.execute(_VERSION_SQL).one())


def load_network(session: Session) -> StreetNetwork:
    """Read the whole street network (every component) and build its CSR graph."""
    conn = session.connection()
    nodes = gpd.read_postgis(text("SELECT id, geom FROM street_node ORDER BY id"), conn, geom_col="geom", crs=4326)
    edges = gpd.read_postgis(
        text("SELECT id, source_node, target_node, length_m, geom FROM street_edge ORDER BY id"),
        conn, geom_col="geom", crs=4326,
    )
    if nodes.empty or edges.empty:
        raise GeometryError(
            "there is no street network in the database: import one (gisgrid import osm FILE, or the demo)",
            field="street_edge", rule="a street network is needed to measure walking distances",
        )
    return StreetNetwork.from_frames(nodes, edges)


@dataclass
class NetworkCache:
    """The last network read in this process, with the fingerprint it was read at."""

    version: tuple[object, ...] | None = None
    database: str | None = None
    network: StreetNetwork | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def get(self, session: Session) -> StreetNetwork:
        version = network_version(session)
        database = str(session.connection().engine.url)
        with self._lock:
            if self.network is not None and self.version == version and self.database == database:
                return self.network
        network = load_network(session)
        with self._lock:
            self.version, self.database, self.network = version, database, network
        return network


_CACHE = NetworkCache()


def street_network(session: Session) -> StreetNetwork:
    """The database's street network, read once and reused while the tables are unchanged."""
    return _CACHE.get(session)
