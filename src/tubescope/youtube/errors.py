"""Two API failures the client reports that :mod:`tubescope.errors` has no name for yet.

Both derive from :class:`~tubescope.errors.ApiError`, so every handler of API errors still sees them.
"""

from __future__ import annotations

from tubescope.errors import ApiError


class ResourceUnavailable(ApiError):
    """One video, playlist, channel or comment thread is gone, private or closed.

    The caller skips the item, records ``reason`` (``videoNotFound``, ``commentsDisabled``…) and
    carries on with the rest of the crawl.
    """


class RepeatedPageToken(ApiError):
    """The API handed back a page token it had already given: following it would loop forever."""
