"""The application layer: one function per user job, called by both the CLI and the service.

Each job lives in its own module (``jobs/collect.py``, ``jobs/analyze.py``…); this is the only
layer below the CLI and the service that reads :class:`~tubescope.config.Settings`.
"""
