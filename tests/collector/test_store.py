"""The store interface, run against SQLite and PostgreSQL alike (`db_url` is parametrized)."""

from __future__ import annotations

from collector.model import Clocks, RecordRow
from collector.store import Store
from protocols import frames
from protocols.events import Action
from tests.collector.publisher import event, heartbeat, status, statuses

NOW_MS = 1_764_400_000_000


def rows(device: str, epoch: int, records: list[frames.Record], received_ms: int = NOW_MS) -> list[RecordRow]:
    return Clocks().rows(device, frames.UplinkFrame(epoch, tuple(records)), received_ms)


async def test_registry_add_list_remove(store: Store) -> None:
    assert await store.add_device("lift-1", "lift-1", NOW_MS)
    assert not await store.add_device("lift-1", "lift-1", NOW_MS)  # already registered
    assert await store.add_device("lift-2", "lift-2", NOW_MS)
    assert [d.device_id for d in await store.devices()] == ["lift-1", "lift-2"]
    assert await store.device_ids() == {"lift-1", "lift-2"}
    assert await store.remove_device("lift-1")
    assert not await store.remove_device("lift-1")
    assert await store.device_ids() == {"lift-2"}


async def test_duplicates_refused_by_the_key_and_reported_for_ack(store: Store) -> None:
    await store.add_device("lift-1", "lift-1", NOW_MS)
    batch = rows("lift-1", 7, statuses(50))
    first = await store.commit(batch)
    assert (first.new, first.duplicates) == (50, 0)
    again = await store.commit(batch[10:20] + batch[10:12])  # re-sent, and a key twice in one batch
    assert (again.new, again.duplicates) == (0, 12)
    assert sorted(again.stored[("lift-1", 7)]) == sorted(list(range(11, 21)) + [11, 12])
    assert await store.count_records() == 50
    # the same seq in another epoch is another record
    other = await store.commit(rows("lift-1", 8, statuses(5)))
    assert other.new == 5
    assert await store.count_records("lift-1") == 55


async def test_gaps_and_reordering_are_visible(store: Store) -> None:
    await store.add_device("lift-1", "lift-1", NOW_MS)
    recs = statuses(10)
    await store.commit(rows("lift-1", 1, recs[:3] + recs[6:8]))  # 1-3, 7-8: 4-6 missing
    (s,) = await store.streams("lift-1")
    assert (s["max_seq"], s["stored"], s["missing"], s["contiguous_seq"]) == (8, 5, 3, 3)
    assert (await store.stats())["records_missing"] == 3
    late = await store.commit(rows("lift-1", 1, recs[3:6]))
    assert late.out_of_order == 3
    (s,) = await store.streams("lift-1")
    assert (s["missing"], s["contiguous_seq"]) == (0, 8)
    stats = await store.stats()
    assert (stats["records_missing"], stats["streams_with_gaps"]) == (0, 0)


async def test_stream_missing_its_first_record_has_contiguous_zero(store: Store) -> None:
    await store.add_device("lift-1", "lift-1", NOW_MS)
    await store.commit(rows("lift-1", 1, statuses(3, start_seq=2)))
    (s,) = await store.streams()
    assert (s["missing"], s["contiguous_seq"]) == (1, 0)


async def test_raise_and_clear_make_one_alarm_record(store: Store) -> None:
    await store.add_device("lift-1", "lift-1", NOW_MS)
    raise_ = event(1, 1000, "entrapment", Action.RAISE, floor=3)
    res = await store.commit(rows("lift-1", 1, [raise_]))
    assert res.alarms_raised == 1
    (a,) = await store.alarms(active=True)
    assert (a.device_id, a.type, a.cleared_ms, a.floor) == ("lift-1", "entrapment", None, 3)
    assert a.raised_ms == raise_.wall_ms
    clear = event(2, 5000, "entrapment", Action.CLEAR, floor=3)
    res = await store.commit(rows("lift-1", 1, [clear]))
    assert res.alarms_cleared == 1
    assert await store.alarms(active=True) == []
    (b,) = await store.alarms()
    assert (b.id, b.raised_ms, b.cleared_ms) == (a.id, a.raised_ms, clear.wall_ms)
    # a second raise opens a second record; the history keeps all four events
    await store.commit(rows("lift-1", 1, [event(3, 9000, "entrapment", Action.RAISE)]))
    assert len(await store.alarms()) == 2
    assert len(await store.alarms(active=True)) == 1
    assert [e["action"] for e in await store.events("lift-1")] == ["raise", "clear", "raise"]


async def test_clear_stored_before_its_raise_still_makes_one_closed_alarm(store: Store) -> None:
    await store.add_device("lift-1", "lift-1", NOW_MS)
    res = await store.commit(rows("lift-1", 1, [event(6, 6000, "controller_fault", Action.CLEAR)]))
    assert res.orphan_clears == 1
    await store.commit(rows("lift-1", 1, [event(5, 5000, "controller_fault", Action.RAISE)]))
    (a,) = await store.alarms()
    assert a.cleared_ms is not None and a.fault_code == 4100
    assert await store.alarms(active=True) == []


async def test_raise_and_clear_in_one_batch(store: Store) -> None:
    await store.add_device("lift-1", "lift-1", NOW_MS)
    recs = [event(2, 2000, "alarm_button", Action.CLEAR), event(1, 1000, "alarm_button", Action.RAISE)]
    await store.commit(rows("lift-1", 1, recs))  # the store orders a batch by key
    (a,) = await store.alarms()
    assert a.cleared_ms == recs[0].wall_ms


async def test_latest_status_keeps_the_newest(store: Store) -> None:
    await store.add_device("lift-1", "lift-1", NOW_MS)
    await store.commit(rows("lift-1", 1, [status(2, 2000, floor=5)]))
    await store.commit(rows("lift-1", 1, [status(1, 1000, floor=4)]))  # older, arrives late
    (e,) = await store.elevators()
    assert e["state"]["floor"] == 5 and e["online"] is True and e["last_seen_ms"] == NOW_MS


async def test_offline_alarm_after_silence_cleared_by_a_heartbeat(store: Store) -> None:
    await store.add_device("lift-1", "lift-1", NOW_MS)
    await store.add_device("lift-2", "lift-2", NOW_MS)
    await store.commit(rows("lift-1", 1, [heartbeat(1, 1000)], received_ms=NOW_MS))
    await store.commit(rows("lift-2", 1, [heartbeat(1, 1000)], received_ms=NOW_MS + 150_000))
    assert await store.raise_offline(NOW_MS + 170_000, 180_000, NOW_MS) == []
    assert await store.raise_offline(NOW_MS + 181_000, 180_000, NOW_MS) == ["lift-1"]
    assert await store.raise_offline(NOW_MS + 182_000, 180_000, NOW_MS) == []  # one alarm, not one per check
    (a,) = await store.alarms(active=True)
    assert (a.type, a.raised_ms) == ("device_offline", NOW_MS + 180_000)
    online = {e["device_id"]: e["online"] for e in await store.elevators()}
    assert online == {"lift-1": False, "lift-2": True}
    await store.commit(rows("lift-1", 1, [heartbeat(2, 200_000)], received_ms=NOW_MS + 200_000))
    (a,) = await store.alarms()
    assert a.cleared_ms == NOW_MS + 200_000
    assert (await store.stats())["devices_online"] == 2


async def test_presence_frames_set_online(store: Store) -> None:
    await store.add_device("lift-1", "lift-1", NOW_MS)
    await store.presence("lift-1", True, NOW_MS)
    assert (await store.elevators())[0]["online"] is True
    await store.presence("lift-1", False, NOW_MS + 1000)  # the last will
    assert (await store.elevators())[0]["online"] is False
    assert (await store.stats())["devices_online"] == 0


async def test_events_since(store: Store) -> None:
    await store.add_device("lift-1", "lift-1", NOW_MS)
    recs = [event(i, i * 1000, "inspection", Action.RAISE if i % 2 else Action.CLEAR) for i in range(1, 5)]
    batch = rows("lift-1", 1, recs)
    await store.commit(batch)
    since = batch[2].time_ms
    got = await store.events("lift-1", since_ms=since)
    assert [e["seq"] for e in got] == [3, 4]


async def test_alarms_do_not_depend_on_arrival_order(store: Store) -> None:
    """R1 C1 R2 C2 committed in every one of the 24 orders gives the same two closed alarms."""
    import itertools

    evs = [
        event(5, 5000, "alarm_button", Action.RAISE),
        event(25, 25000, "alarm_button", Action.CLEAR),
        event(45, 45000, "alarm_button", Action.RAISE),
        event(65, 65000, "alarm_button", Action.CLEAR),
    ]
    expected = [(evs[0].wall_ms, evs[1].wall_ms), (evs[2].wall_ms, evs[3].wall_ms)]
    for i, order in enumerate(itertools.permutations(evs)):
        device = f"perm-{i}"
        await store.add_device(device, device, NOW_MS)
        for ev in order:
            await store.commit(rows(device, 1, [ev]))
        got = sorted((a.raised_ms, a.cleared_ms) for a in await store.alarms(device_id=device))
        assert got == expected, [e.seq for e in order]


async def test_a_repeated_raise_closes_the_previous_alarm(store: Store) -> None:
    await store.add_device("lift-1", "lift-1", NOW_MS)
    r1, r2 = event(1, 1000, "door_open_too_long", Action.RAISE), event(2, 2000, "door_open_too_long", Action.RAISE)
    await store.commit(rows("lift-1", 1, [r2]))
    await store.commit(rows("lift-1", 1, [r1]))
    first, second = sorted(await store.alarms(), key=lambda a: a.raised_ms)
    assert first.cleared_ms == r2.wall_ms and second.cleared_ms is None


async def test_a_new_stream_never_closes_an_active_alarm_by_raising(store: Store) -> None:
    """A new epoch appearing says nothing about the condition: only a clear closes the old alarm."""
    await store.add_device("lift-1", "lift-1", NOW_MS)
    await store.commit(rows("lift-1", 1, [event(9, 1000, "entrapment", Action.RAISE)]))
    newer = event(1, 9000, "entrapment", Action.RAISE)
    await store.commit(rows("lift-1", 2, [newer]))  # the gateway's outbox was recreated
    old, new = sorted(await store.alarms(), key=lambda a: a.raised_ms)
    assert old.cleared_ms is None and new.cleared_ms is None, "passengers may still be inside"
    clear = event(2, 12000, "entrapment", Action.CLEAR)
    await store.commit(rows("lift-1", 2, [clear]))
    old, new = sorted(await store.alarms(), key=lambda a: a.raised_ms)
    assert old.cleared_ms == clear.wall_ms and new.cleared_ms == clear.wall_ms


async def test_bulk_registration(store: Store) -> None:
    await store.add_device("lift-1", "lift-1", NOW_MS)
    assert await store.add_devices([f"lift-{i}" for i in range(1000)], NOW_MS) == 999
    assert len(await store.device_ids()) == 1000


async def test_event_time_is_when_the_rule_was_met(store: Store) -> None:
    """An event record made 2 s after its rule was met (t_ms < mono_ms) is dated at t_ms."""
    from protocols.events import Event

    await store.add_device("lift-1", "lift-1", NOW_MS)
    wall = 1_700_000_005_000
    rec = frames.Record(frames.RecordKind.EVENT, 1, 5000, wall, True, Event(3000, "entrapment", Action.RAISE, 2))
    await store.commit(rows("lift-1", 1, [rec]))
    (a,) = await store.alarms()
    assert a.raised_ms == wall - 2000
    (e,) = await store.events("lift-1")
    assert e["time_ms"] == wall - 2000


def _trip(seq: int, mono_ms: int, from_floor: int, to_floor: int) -> frames.Record:
    body = frames.Trip(mono_ms - 8000, mono_ms, from_floor, to_floor, 1000, frames.StopQuality.LEVEL)
    return frames.Record(frames.RecordKind.TRIP, seq, mono_ms, NOW_MS - 100_000 + mono_ms, True, body)


def _door(seq: int, mono_ms: int, floor: int) -> frames.Record:
    body = frames.DoorCycle(mono_ms - 6000, mono_ms, floor, 3000, 1)
    return frames.Record(frames.RecordKind.DOOR_CYCLE, seq, mono_ms, NOW_MS - 100_000 + mono_ms, True, body)


def _shown(elevators: list[dict[str, object]]) -> tuple[object, ...]:
    (e,) = elevators
    state = e["state"]
    assert isinstance(state, dict)
    return state["floor"], state["door"], state["running"], state["mode"], e["state_ms"]


async def test_latest_state_follows_trips_and_door_cycles_between_status_records(store: Store) -> None:
    """The agent's budget policy sends trips and door cycles, and status only when the shown state
    changes: the elevator list must still show where the car is (it showed the floor of the last
    status record, stale for as long as the car ran normally)."""
    await store.add_device("lift-1", "lift-1", NOW_MS)
    t = NOW_MS - 100_000
    first = status(1, 1000, floor=1, wall0_ms=t)
    await store.commit(rows("lift-1", 1, [first]))
    assert _shown(await store.elevators()) == (1, "closed", False, "normal", t + 1000)
    await store.commit(rows("lift-1", 1, [_trip(2, 20_000, 1, 5), _door(3, 30_000, 5)]))
    assert _shown(await store.elevators()) == (5, "closed", False, "normal", t + 30_000)
    await store.commit(rows("lift-1", 1, [_trip(4, 45_000, 5, 2)]))
    assert _shown(await store.elevators()) == (2, "closed", False, "normal", t + 45_000)
    # a fact older than the kept state (a re-sent, late batch) does not move the car back
    await store.commit(rows("lift-1", 1, [_trip(9, 40_000, 2, 7)]))
    assert _shown(await store.elevators()) == (2, "closed", False, "normal", t + 45_000)
    # a status record replaces the state whole; a trip after it in the same batch folds in
    later = status(5, 50_000, floor=2, wall0_ms=t)
    await store.commit(rows("lift-1", 1, [_trip(6, 60_000, 2, 3), later]))
    assert _shown(await store.elevators()) == (3, "closed", False, "normal", t + 60_000)


async def test_trip_before_any_status_makes_no_state(store: Store) -> None:
    await store.add_device("lift-1", "lift-1", NOW_MS)
    await store.commit(rows("lift-1", 1, [_trip(1, 20_000, 1, 5)]))
    (e,) = await store.elevators()
    assert e["state"] is None
