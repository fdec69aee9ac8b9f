"""gisgrid — the domain core: pure functions over GeoDataFrames and graphs.

Nothing in this package touches a database or HTTP; ``layers`` (PostGIS) and ``api`` (FastAPI)
build on it, never the reverse.
"""

__version__ = "0.1.0"
