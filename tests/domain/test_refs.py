from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tubescope.domain.refs import RefKind, parse_channel_ref
from tubescope.errors import InvalidChannelRef

CID = "UC_x5XG1OV2P6uZZ5FSM9Ttw"


@pytest.mark.parametrize(
    ("raw", "kind", "value"),
    [
        (CID, RefKind.CHANNEL_ID, CID),
        (f"  {CID} ", RefKind.CHANNEL_ID, CID),
        ("@GoogleDevelopers", RefKind.HANDLE, "@GoogleDevelopers"),
        ("https://www.youtube.com/@mkbhd", RefKind.HANDLE, "@mkbhd"),
        ("youtube.com/@mkbhd/videos", RefKind.HANDLE, "@mkbhd"),
        ("https://m.youtube.com/channel/" + CID, RefKind.CHANNEL_ID, CID),
        ("https://www.youtube.com/user/GoogleDevelopers", RefKind.USERNAME, "GoogleDevelopers"),
        ("https://www.youtube.com/c/LinusTechTips", RefKind.CUSTOM_URL, "LinusTechTips"),
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=10", RefKind.VIDEO, "dQw4w9WgXcQ"),
        ("https://youtu.be/dQw4w9WgXcQ", RefKind.VIDEO, "dQw4w9WgXcQ"),
        ("https://www.youtube.com/shorts/abcdefghijk", RefKind.VIDEO, "abcdefghijk"),
    ],
)
def test_every_pasted_form_resolves_to_the_right_kind(raw: str, kind: RefKind, value: str) -> None:
    ref = parse_channel_ref(raw)
    assert (ref.kind, ref.value) == (kind, value)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("UC123", "22"),
        ("@a", "handle"),
        ("https://vimeo.com/123", "not a YouTube"),
        ("https://www.youtube.com/watch?v=short", "v="),
        ("ftp://youtube.com/@abc", "scheme"),
        ("https://www.youtube.com/playlist?list=PL1", "unrecognised"),
        ("hello world", "expected"),
    ],
)
def test_bad_references_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidChannelRef, match=reason):
        parse_channel_ref(raw)


def test_custom_urls_need_search_and_cost_100_units() -> None:
    ref = parse_channel_ref("youtube.com/c/Foo")
    assert ref.needs_search and ref.resolve_cost == 100
    assert parse_channel_ref(CID).resolve_cost == 0
    assert parse_channel_ref("@handle").resolve_cost == 1


@given(st.text(max_size=60))
def test_parser_never_fails_with_anything_but_invalid_channel_ref(raw: str) -> None:
    with contextlib.suppress(InvalidChannelRef):
        parse_channel_ref(raw)


_URLISH = st.text(alphabet="abcUC@./:[]%?#=&-_~ \t\n\x00\x1b09ωé", max_size=40)
_PREFIXES = st.sampled_from(
    ["", "@", "UC", "https://", "http://[", "youtube.com/", "www.youtube.com/c/", "youtu.be/", "a.b", "//"]
)


@given(_PREFIXES, _URLISH)
def test_url_shaped_garbage_is_an_invalid_reference_never_a_crash(prefix: str, tail: str) -> None:
    """Brackets, ports, percent signs and control characters: a typed error or a valid ref."""
    try:
        ref = parse_channel_ref(prefix + tail)
    except InvalidChannelRef as exc:
        assert exc.reason
    else:
        assert ref.value and all(ch.isprintable() for ch in ref.value)


@pytest.mark.parametrize(
    "raw",
    ["a.b[", "https://youtube.com[/@abc", "youtube.com]:x/@abc", "http://[::1/", "@abc\n\x1b]0;pwned\x07"],
)
def test_brackets_and_control_characters_are_invalid_references(raw: str) -> None:
    with pytest.raises(InvalidChannelRef):
        parse_channel_ref(raw)


def test_patterns_do_not_accept_a_trailing_newline() -> None:
    with pytest.raises(InvalidChannelRef):
        parse_channel_ref("https://www.youtube.com/channel/" + CID + "%0A\n/x")
    assert parse_channel_ref("youtube.com/c/Caf%C3%A9").value == "Café"
