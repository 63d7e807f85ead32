"""Garbage before a MyoWare packet costs exactly the garbage, whatever its length and split."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from emg.devices.myoware import MyowareDecoder, build_data_packet, to_wire

UV_PER_COUNT_UNO = 5000e3 / 1024 / 200


def _packets(n: int, seed: int) -> tuple[list[bytes], np.ndarray]:
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 1024, (4, 10 * n)).astype(np.uint16)
    counts[:, ::7] = 0
    wires = [to_wire(build_data_packet(counts[:, 10 * k : 10 * k + 10], seq=k, t_us=10_000 * k,
                                       adc_bits=10, vref_mv=5000)) for k in range(n)]
    return wires, counts


def _decode(dec: MyowareDecoder, stream: bytes, cuts: list[int]) -> np.ndarray:
    frames = []
    for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(stream)], strict=True):
        frames += dec.feed(stream[a:b])
    if not frames:
        return np.zeros((4, 0))
    return np.concatenate([np.rint(f.samples_uv / UV_PER_COUNT_UNO + 512) for f in frames], axis=1)


def test_long_garbage_without_a_delimiter_does_not_cost_the_packet_behind_it():
    """600 zero-free bytes (longer than any packet, e.g. noise on a floating line) then a packet:
    the packet used to be lost with the garbage (the over-long run was dropped whole)."""
    wires, counts = _packets(2, seed=3)
    junk = np.random.default_rng(1).integers(1, 256, 600, dtype=np.uint8).tobytes()
    for cuts in ([], [300], [550, 601], list(range(0, 600 + len(wires[0]), 97))):
        dec = MyowareDecoder()
        got = _decode(dec, wires[0] + junk + wires[1], [c + len(wires[0]) for c in cuts])
        np.testing.assert_array_equal(got, counts)
        assert dec.bytes_discarded == len(junk)
        assert dec.frames_rejected == 1 and dec.rejected_by_reason == {"length": 1}  # one run, one rejection


@settings(max_examples=150, deadline=None)
@given(
    junk=st.lists(st.binary(min_size=0, max_size=1200), min_size=3, max_size=3),
    cuts=st.lists(st.integers(0, 4000), max_size=6),
    seed=st.integers(0, 1000),
)
def test_property_garbage_costs_exactly_its_bytes(junk, cuts, seed):
    wires, counts = _packets(3, seed)
    stream = b"".join(j + w for j, w in zip(junk, wires, strict=True))
    dec = MyowareDecoder()
    got = _decode(dec, stream, [c for c in cuts if c < len(stream)])
    np.testing.assert_array_equal(got, counts)
    assert dec.bytes_discarded == sum(map(len, junk))
