"""Watch mode: watch lists, the collection schedule, WebSub push for new uploads, and alerts.

Sits beside :mod:`tubescope.pipeline` (it may use the pipeline and the warehouse) and is driven by
:mod:`tubescope.jobs`; see :mod:`tubescope.watch.websub` and :mod:`tubescope.watch.plan`.
"""
