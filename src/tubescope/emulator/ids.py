"""Reversible, random-looking identifiers for the simulated world.

Every id encodes where its object lives (channel index, video index, comment number) under a
keyed 64-bit Feistel permutation, so any id can be resolved in O(1) without generating the rest
of the world, and ids of different seeds do not collide. A short check field makes a typo or an
id from another seed decode to ``None`` instead of to a wrong object.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache

_MASK64 = (1 << 64) - 1
_MASK32 = (1 << 32) - 1
_ROUNDS = 4
_INDEX_BITS = 22
_INDEX_MASK = (1 << _INDEX_BITS) - 1
_CHECK_BITS = 16

TAG_VIDEO = 1
TAG_CHANNEL = 2
TAG_THREAD = 3
TAG_REPLY = 4


def splitmix64(value: int) -> int:
    """A strong 64-bit integer mixer (Steele et al.); the world's only hash of integers."""
    z = (value + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def unit_hash(*parts: int) -> float:
    """A deterministic number in [0, 1) from integers (noise keyed by video and day, say)."""
    acc = 0x5EED
    for part in parts:
        acc = splitmix64(acc ^ (part & _MASK64))
    return (acc >> 11) / float(1 << 53)


@cache
def _round_key(seed: int, round_no: int) -> int:
    return splitmix64((seed & _MASK64) ^ (0xA5A5_0000 + round_no))


def _feistel(block: int, seed: int, *, inverse: bool = False) -> int:
    left, right = block >> 32, block & _MASK32
    rounds = range(_ROUNDS - 1, -1, -1) if inverse else range(_ROUNDS)
    if inverse:
        left, right = right, left
    for r in rounds:
        left, right = right, left ^ (splitmix64(right ^ _round_key(seed, r)) & _MASK32)
    if inverse:
        left, right = right, left
    return (left << 32) | right


def _check(seed: int, tag: int, a: int, b: int) -> int:
    return splitmix64(splitmix64(seed ^ (tag << 56)) ^ (a << 24) ^ b) & ((1 << _CHECK_BITS) - 1)


def _pack(seed: int, tag: int, a: int, b: int) -> bytes:
    if not (0 <= a <= _INDEX_MASK and 0 <= b <= _INDEX_MASK and 0 <= tag < 16):
        raise ValueError(f"index out of range for an id: {a}, {b}")
    payload = (tag << 60) | (a << 38) | (b << 16) | _check(seed, tag, a, b)
    # Tag bits are 4: 4 + 22 + 22 + 16 = 64.
    return _feistel(payload, seed).to_bytes(8, "big")


def _unpack(seed: int, raw: bytes, tag: int) -> tuple[int, int] | None:
    if len(raw) != 8:
        return None
    payload = _feistel(int.from_bytes(raw, "big"), seed, inverse=True)
    if payload >> 60 != tag:
        return None
    a = (payload >> 38) & _INDEX_MASK
    b = (payload >> 16) & _INDEX_MASK
    if payload & ((1 << _CHECK_BITS) - 1) != _check(seed, tag, a, b):
        return None
    return a, b


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        return None


def video_id(seed: int, channel_index: int, video_index: int) -> str:
    """An 11-character video id (64 bits, like YouTube's)."""
    return _b64(_pack(seed, TAG_VIDEO, channel_index, video_index))


def decode_video_id(seed: int, text: str) -> tuple[int, int] | None:
    """(channel index, video index) of a video id of this seed, else None."""
    if len(text) != 11:
        return None
    raw = _unb64(text)
    return None if raw is None else _unpack(seed, raw, TAG_VIDEO)


def channel_id(seed: int, channel_index: int) -> str:
    """``UC`` + 22 characters (128 bits: an encrypted index block and a keyed filler block)."""
    head = _pack(seed, TAG_CHANNEL, channel_index, 0)
    tail = splitmix64(int.from_bytes(head, "big") ^ seed).to_bytes(8, "big")
    return "UC" + _b64(head + tail)


def decode_channel_id(seed: int, text: str) -> int | None:
    """The channel index encoded in ``text``, or None when it is not a channel id of this world."""
    if len(text) != 24 or not text.startswith("UC"):
        return None
    raw = _unb64(text[2:])
    if raw is None or len(raw) != 16:
        return None
    found = _unpack(seed, raw[:8], TAG_CHANNEL)
    if found is None or channel_id(seed, found[0]) != text:
        return None
    return found[0]


_THREAD_SUFFIX = "4AaABAg"


def thread_id(seed: int, channel_index: int, video_index: int, thread_no: int) -> str:
    """A top-level comment (thread) id: ``Ug`` + 22 characters + YouTube's usual tail."""
    head = _pack(seed, TAG_VIDEO, channel_index, video_index)
    tail = _pack(_subkey(seed, head), TAG_THREAD, thread_no, 0)
    return "Ug" + _b64(head + tail) + _THREAD_SUFFIX


def _subkey(seed: int, context: bytes) -> int:
    """A per-parent key, so the same comment number looks different under every video/thread."""
    return splitmix64(seed ^ int.from_bytes(context[:8].ljust(8, b"\0"), "big"))


def decode_thread_id(seed: int, text: str) -> tuple[int, int, int] | None:
    """The (channel, video, thread) indices encoded in a comment thread id, or None."""
    if not (text.startswith("Ug") and text.endswith(_THREAD_SUFFIX)) or len(text) != 31:
        return None
    raw = _unb64(text[2:24])
    if raw is None or len(raw) != 16:
        return None
    video = _unpack(seed, raw[:8], TAG_VIDEO)
    thread = _unpack(_subkey(seed, raw[:8]), raw[8:], TAG_THREAD)
    if video is None or thread is None:
        return None
    return video[0], video[1], thread[0]


def reply_id(seed: int, parent: str, reply_no: int) -> str:
    """The id of reply number ``reply_no`` under the comment ``parent``."""
    return parent + "." + _b64(_pack(_parent_key(seed, parent), TAG_REPLY, reply_no, 0))


def _parent_key(seed: int, parent: str) -> int:
    digest = hashlib.blake2b(parent.encode(), digest_size=8).digest()
    return splitmix64(seed ^ int.from_bytes(digest, "big"))


def decode_reply_id(seed: int, text: str) -> tuple[str, int] | None:
    """The parent comment id and reply number encoded in a reply id, or None."""
    parent, _, tail = text.partition(".")
    raw = _unb64(tail) if tail else None
    if raw is None:
        return None
    found = _unpack(_parent_key(seed, parent), raw, TAG_REPLY)
    return None if found is None else (parent, found[0])
