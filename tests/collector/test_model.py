"""Pure ingest logic: placing records on the wall clock, ack ranges."""

from __future__ import annotations

from collector.model import Clocks, StreamClock, seq_ranges
from protocols import frames
from tests.collector.publisher import status


def test_seq_ranges() -> None:
    assert seq_ranges([3, 1, 2, 7, 9, 8, 8]) == ((1, 3), (7, 9))
    assert seq_ranges([]) == ()


def test_synced_records_keep_their_wall_time() -> None:
    r = status(1, 5000, synced=True, wall0_ms=1_000_000)
    assert StreamClock().place([r], received_ms=2_000_000) == [(1_005_000, "device")]


def test_unsynced_record_placed_from_a_synced_one_of_the_stream() -> None:
    clock = StreamClock()
    clock.place([status(1, 5000, synced=True, wall0_ms=1_000_000)], received_ms=1_005_100)
    unsynced = status(2, 7000, synced=False, wall0_ms=0)
    assert clock.place([unsynced], received_ms=1_007_050) == [(1_007_000, "synced_ref")]


def test_unsynced_stream_placed_from_the_quickest_reception() -> None:
    clock = StreamClock()
    # true offset 1_000_000; the first frame took 300 ms to arrive, the second 20 ms
    assert clock.place([status(1, 5000, synced=False, wall0_ms=0)], 1_005_300) == [(1_005_300, "receive_ref")]
    clock.place([status(2, 6000, synced=False, wall0_ms=0)], 1_006_020)
    # a buffered record delivered late is placed by the best reference, not by its arrival
    old = status(3, 7000, synced=False, wall0_ms=0)
    assert clock.place([old], 1_060_000) == [(1_007_020, "receive_ref")]


def test_reboot_without_new_epoch_drops_the_reference() -> None:
    clock = StreamClock()
    clock.place([status(10, 500_000, synced=False, wall0_ms=0)], 1_500_000)
    (placed,) = clock.place([status(11, 1000, synced=False, wall0_ms=0)], 1_600_000)
    assert placed == (1_600_000, "receive_ref")


def test_clocks_rows_carry_identity_and_body() -> None:
    rec = status(4, 1234, floor=7)
    (row,) = Clocks().rows("lift-9", frames.UplinkFrame(99, (rec,)), 5)
    assert (row.device_id, row.epoch, row.seq, row.kind.value, row.body["floor"]) == ("lift-9", 99, 4, "status", 7)
    assert row.body["door"] == "closed"
