"""Whatever a YouTube string holds, the page shows it as text and runs none of it."""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from tubescope.report.html import render_html
from tubescope.report.model import OutlierRow

from .conftest import NOW, build_model

_BASE = dataclasses.replace(
    build_model(), growth=(), percentile_bands=None, formats=(), heatmap=None, correlation=None, ab_tests=(),
    peers=None,
)  # fmt: skip
_NASTY = st.sampled_from(["<", ">", "&", '"', "'", "</script>", "<!--", "]]>", "{{", "{%", "\\u003c", "\x00"])


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cells: list[str] = []
        self.tags: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_title = ("class", "video-title") in attrs

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.cells.append(data)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(_NASTY, st.text(max_size=8)), min_size=1, max_size=6).map("".join))
def test_any_title_round_trips_as_text(title: str) -> None:
    title = title.replace("\x00", "").replace("\r", "")  # HTML parsers normalise these; YouTube strips them
    row = OutlierRow("vid00000009", title, NOW, "long", 1000, 100.0, 5.0)
    page = render_html(dataclasses.replace(_BASE, outliers=(row,)))
    parsed = _Collector()
    parsed.feed(page)
    assert parsed.cells and parsed.cells[0].rstrip() == title.rstrip()
    assert parsed.tags.count("script") == 2  # window.PlotlyConfig and plotly.js: nothing from the title
