"""Incidents (事件): the rules of case handling, pure — no database, no HTTP, no clock.

========================== =======================================================================
:mod:`.states`             actions, roles and the transition tables as data; ``IncidentState``,
                           ``Actor``, ``Whistle``, ``Transition``, ``Policy``
:mod:`.machine`            the state machine: ``transition``, ``report``, ``replay``,
                           ``allowed_actions``, ``legal_actions``
:mod:`.workcal`            ``WorkCalendar``: office hours, public holidays, make-up working days
:mod:`.deadlines`          deadline rules as data, ``deadline_for``, ``is_overdue``, ``tick``
:mod:`.kpi`                ``compute_kpis``, ``rollup``
:mod:`.reference`          ``Reference``: where a point lies and who would handle a case there
:mod:`.intake`             a report's checks, route, level, assignee and deadline (``decide``)
========================== =======================================================================

The database layer (:mod:`layers.incidents`) loads rows into these values and writes back what they
decide. Definitions and tables: ``docs/incidents.md``.
"""
