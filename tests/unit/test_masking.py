"""The client-frame mask check, fed real frame bytes split at every possible point."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from sbws.wire.masking import MaskScanner


def frame(payload: bytes, masked: bool = True, opcode: int = 0x1) -> bytes:
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([(0x80 if masked else 0) | n])
    elif n < 65536:
        head += bytes([(0x80 if masked else 0) | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([(0x80 if masked else 0) | 127]) + n.to_bytes(8, "big")
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


STREAM = frame(b"hello") + frame(b"x" * 300) + frame(b"", opcode=0x9) + frame(b"y" * 70_000) + frame(b"end")


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:])]


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=40))
def test_masked_frames_pass_however_the_bytes_arrive(cuts):
    scanner = MaskScanner()
    assert all(scanner.feed(c) for c in chunks(STREAM, cuts))


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM) + 20), max_size=40))
def test_the_first_unmasked_frame_is_caught_wherever_it_is_split(cuts):
    data = STREAM + frame(b"sneaky", masked=False) + frame(b"after")
    scanner = MaskScanner()
    results = [scanner.feed(c) for c in chunks(data, cuts)]
    assert results[-1] is False and scanner.feed(frame(b"more")) is False
    assert all(results[: results.index(False)])
