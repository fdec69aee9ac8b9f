"""Bulk writing with COPY: geometries as hex EWKB, frames as CSV — shared by the demo loader and importers."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine

from layers.models.base import SRID


@contextmanager
def in_transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """A connection in a transaction: an engine's is begun and committed here; a connection's open one is
    used and left for the caller to commit; a connection without one gets one begun and committed here."""
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            yield conn
    elif bind.in_transaction():
        yield bind
    else:
        with bind.begin():
            yield bind


@contextmanager
def raw_cursor(conn: Connection) -> Iterator[Any]:
    """The DBAPI cursor under ``conn``'s transaction: COPY needs psycopg2's ``copy_expert``."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cur = raw.cursor()
    try:
        yield cur
    finally:
        cur.close()


def ewkb(geoms: Any) -> np.ndarray:
    """Hex EWKB with the SRID, which PostGIS reads straight from COPY's text into a geometry column."""
    arr = np.asarray(geoms, dtype=object)
    if not len(arr):
        return np.zeros(0, dtype=object)
    return shapely.to_wkb(shapely.set_srid(arr, SRID), hex=True, include_srid=True)


def copy_csv(
    cur: Any,
    table: str,
    df: pd.DataFrame,
    columns: Sequence[str],
    *,
    chunk: int | None = None,
    on_chunk: Callable[[int], Any] | None = None,
) -> int:
    """COPY ``df[columns]`` into ``table`` as CSV (an empty unquoted field is NULL), ``chunk`` rows at a time.

    ``on_chunk`` is called with the number of rows after each chunk (a progress bar's ``update``).
    """
    size = chunk or max(len(df), 1)
    names = list(columns)
    for start in range(0, len(df), size):
        part = df.iloc[start : start + size]
        buf = io.StringIO()
        part.loc[:, names].to_csv(buf, index=False, header=False)
        buf.seek(0)
        cur.copy_expert(f"COPY {table} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)", buf)
        if on_chunk is not None:
            on_chunk(len(part))
    return len(df)
