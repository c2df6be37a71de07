"""Report pages come from the cache tiers until a run lands; the dashboard shares the entry."""

from __future__ import annotations

from tests.service.conftest import Service


def _memory_hits(service: Service) -> int:
    stats = {s.tier: s for s in service.app.state.tubescope.cache.stats()}
    return stats["memory"].hits


def test_a_report_page_is_rendered_once_until_its_channel_gets_a_run(service: Service) -> None:
    channel_id = service.channel_ids[1]
    path = f"/v1/channels/{channel_id}/report"
    with service.client() as client:
        first = client.get(path)
        assert first.status_code == 200 and "<html" in first.text.lower()
        before = _memory_hits(service)
        assert client.get(path).text == first.text
        assert _memory_hits(service) == before + 1

        client.cookies.set("tubescope_token", service.tokens["read"])
        page = client.get(f"/channels/{channel_id}/report")  # the dashboard's report: the same entry
        assert page.status_code == 200 and page.text == first.text and _memory_hits(service) == before + 2

        service.app.state.tubescope.data_changed([channel_id])
        assert client.get(path).status_code == 200
        assert _memory_hits(service) == before + 2  # rendered again, not served from memory
