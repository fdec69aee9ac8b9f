"""The HTTP API: a thin FastAPI layer over :mod:`layers`.

Start it with ``uvicorn api.main:create_app --factory``.
"""
