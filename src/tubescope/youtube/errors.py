"""API failures of the client; defined in :mod:`tubescope.errors` with the rest of the tree."""

from __future__ import annotations

from tubescope.errors import RepeatedPageToken, ResourceUnavailable

__all__ = ["RepeatedPageToken", "ResourceUnavailable"]
