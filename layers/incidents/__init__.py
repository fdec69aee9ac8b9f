"""Incidents in PostGIS: the pure rules of :mod:`gisgrid.incidents`, read from and written to the database.

================== ==================================================================================
:mod:`.intake`     take a report: the core decides, one statement checks, writes and answers
                   (``intake``, ``intake_async``, ``INTAKE_SQL``)
:mod:`.batcher`    ``IntakeBatcher``: the API's reports arriving together written in one statement
:mod:`.lifecycle`  actions, merge, reading a case and its scope, the scheduled tick
:mod:`.bulk`       ``assign_bulk``: grid ids for many historical points at once
================== ==================================================================================

Where a report lies and who handles it there come from reference data held in memory
(:mod:`layers.placement`).
"""
