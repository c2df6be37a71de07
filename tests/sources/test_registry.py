from __future__ import annotations

import pytest

from tubescope.errors import ConfigError
from tubescope.sources.registry import available_sources, load_source
from tubescope.sources.youtube_api import YouTubeApiSource


def test_the_youtube_source_is_registered_through_its_entry_point() -> None:
    assert "youtube" in available_sources()
    assert load_source("youtube") is YouTubeApiSource


def test_an_unknown_source_names_the_installed_ones() -> None:
    with pytest.raises(ConfigError, match=r"installed: .*youtube"):
        load_source("myspace")
