"""`elev-agent check`: commissioning in the machine room, live in a plain terminal.

    elev-agent check [--config FILE] [--modbus-tcp HOST:PORT | --modbus-rtu DEVICE] [--gpio-sim HOST:PORT]
                     [--broker URL] [--device-id ID] [--seconds N] [--skip CHECK ...] [--json] [--debug]

An installer has just wired the gateway and wants to know, before leaving the site, whether what
the agent will see is true. This command reads the controller and the sensors through the agent's
own hardware edge (`edge_agent.hw`: the same `ModbusBus`, `DeviceReader`, gpiozero inputs) and
fusion, shows every signal refreshing in place, and judges each piece of wiring from what the lift
does while it is watched: the door contact must follow the door state the controller reports, the
door zone must be made at each landing the car stops at, and so on. It ends as soon as every check
has passed, or after `--seconds`, with a summary table and `check: pass` (exit 0) or
`check: fail (N problems)` (exit 1). Exit 2: bad command line or configuration.

The screen is read standing in a noisy machine room on a small terminal: every line fits 80
columns, the verdicts are coloured words (PASS, FAIL, WAIT, NOT TESTED; plain when NO_COLOR is set
or the output is not a terminal), and a check still waiting says what it waits for. One dead
controller is one problem: the checks that need its answers are "not tested" and not counted again.
`--json` prints JSON lines instead (progress, then one final object) for a phone app.

The judging (`Watch`) is pure: samples in, verdicts out, so the criteria are tested without a lift.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import enum
import logging
import os
import shutil
import signal
import ssl
import sys
import textwrap
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from edge_agent.config import (
    STATUS_FILE,
    AgentConfig,
    AgentError,
    ConfigError,
    Overrides,
    load,
    load_file,
    require_floors,
)
from edge_agent.fusion import FusionError, fuse
from edge_agent.hw import cancellation_point
from protocols.gpio_lines import GPIO_LINES
from protocols.registers import CarState, RunStatus, decode_system_state, landing_to_floor
from protocols.signals import Door

log = logging.getLogger("edge_agent.check")

CHECKS = (
    "modbus",
    "door_contact",
    "door_zone",
    "safety_circuit",
    "door_lock",
    "presence",
    "alarm_button",
    "mains",
    "broker",
    "clock",
)
# Judged by comparing a sensor with what the controller says: a silent controller leaves them untested.
NEEDS_CONTROLLER = frozenset({"door_contact", "door_zone", "safety_circuit", "door_lock"})

# Criteria (a healthy lift in normal traffic passes all of them within about a minute).
MIN_POLL_SUCCESS = 0.90  # complete poll cycles / poll cycles attempted
MAX_ERROR_RATE = 0.05  # failed Modbus requests / requests
DOOR_SETTLE_S = 0.6  # samples this close to a change of the contact or the controller's door are not compared
DOOR_AGREEMENT = 0.98  # of the compared samples
DOOR_MIN_SAMPLES = 20
ZONE_MIN_FRACTION = 0.5  # a stop counts as "zone made" when the zone was made in at least half its samples
ZONE_MIN_FLOORS = 2  # one landing proves little: the vane and sensors are seen at two floors or more
MAINS_MIN_FRACTION = 0.99
CIRCUIT_MADE_WHILE_RUNNING = 0.98  # safety chain / door lock: a NICE3000+ cannot run with either open
CIRCUIT_MIN_RUNNING = 10  # samples with the car running before a circuit is judged
LOCK_MIN_OPEN = 5  # samples with the door standing open before the lock is judged
LOCK_OPEN_FRACTION = 0.5  # the lock circuit must read open in at least this share of them
MIN_WATCH_S = 10.0  # never end earlier, even when everything already passed
WIDTH = 80  # the narrowest terminal the screen must fit


class Verdict(enum.StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    WAIT = "WAIT"  # still watching; the reason says for what
    NOT_TESTED = "NOT TESTED"  # counts as a problem, unless another failed check prevented it
    NOT_FITTED = "not fitted"
    SKIPPED = "skipped"

    @property
    def ok(self) -> bool:
        return self in (Verdict.PASS, Verdict.NOT_FITTED, Verdict.SKIPPED)


@dataclass(frozen=True, slots=True)
class Result:
    check: str
    verdict: Verdict
    reason: str
    blocked_by: str | None = None  # the failed check that made this one impossible to judge

    @property
    def problem(self) -> bool:
        """Counted in `check: fail (N problems)`: a check prevented by another is that other's problem."""
        if self.verdict is Verdict.FAIL:
            return True
        return self.verdict is Verdict.NOT_TESTED and self.blocked_by is None

    def as_json(self) -> dict[str, object]:
        return {
            "check": self.check,
            "verdict": self.verdict.name.lower(),
            "reason": self.reason,
            "blocked_by": self.blocked_by,
        }


def problems(results: Sequence[Result]) -> int:
    return sum(1 for r in results if r.problem)


@dataclass(frozen=True, slots=True)
class Sample:
    """One poll: the controller's words (None: no complete answer) and the sensor levels (None: unknown)."""

    t_s: float
    regs: Mapping[str, int] | None
    levels: Mapping[str, bool] | None


@dataclass(slots=True)
class Stop:
    landing: int
    samples: int = 0
    zone_made: int = 0


@dataclass
class Watch:
    """Everything seen during the check, and the verdicts it supports. Pure: no IO, no clock."""

    cfg: AgentConfig
    skip: frozenset[str] = frozenset()
    samples: list[Sample] = field(default_factory=list)
    stops: list[Stop] = field(default_factory=list)
    implausible: int = 0
    broker: Result | None = None
    clock: Result | None = None
    error_rate: float = 0.0  # set by the command from the bus counters (the Watch does not own the bus)
    exceptions: int = 0
    _stop: Stop | None = None

    def add(self, s: Sample) -> None:
        self.samples.append(s)
        if s.regs is None:
            return
        state = decode_system_state(s.regs["system_state"])
        at_landing = state.car_state in (CarState.OPENING, CarState.OPEN_HOLD, CarState.CLOSING)
        if not at_landing:
            self._stop = None
            return
        if self._stop is None:
            self._stop = Stop(s.regs["landing"])
            self.stops.append(self._stop)
        zone = self.zone(s)
        if zone is not None:
            self._stop.samples += 1
            self._stop.zone_made += int(zone)

    def zone(self, s: Sample) -> bool | None:
        """The door zone as the agent will see it (fusion's rule), None when it cannot be judged."""
        if s.regs is None or s.levels is None:
            return None
        if "leveling_up" not in s.levels and "leveling_down" not in s.levels:
            return None
        try:
            return fuse(0, s.regs, s.levels, self.cfg.elevator.lowest_floor).door_zone
        except FusionError:
            return None

    # --- verdicts --------------------------------------------------------------------------------

    def controller_dead(self) -> bool:
        """Polled, and not one complete answer: everything judged against the controller is moot."""
        return bool(self.samples) and all(s.regs is None for s in self.samples)

    def results(self, final: bool) -> list[Result]:
        out = []
        dead = self.controller_dead() and "modbus" not in self.skip
        for name in CHECKS:
            if name in self.skip:
                out.append(Result(name, Verdict.SKIPPED, f"skipped (--skip {name})"))
                continue
            r: Result = getattr(self, f"_{name}")()
            if dead and name in NEEDS_CONTROLLER and r.verdict in (Verdict.WAIT, Verdict.NOT_TESTED):
                r = Result(name, Verdict.NOT_TESTED, "needs the controller's answers (see modbus)", "modbus")
            elif final and r.verdict is Verdict.WAIT:
                r = Result(name, Verdict.NOT_TESTED, r.reason)
            out.append(r)
        return out

    def _modbus(self) -> Result:
        m = self.cfg.modbus
        where = f"{m.tcp_host}:{m.tcp_port}" if m.tcp_host else f"{m.rtu_device} at {m.baud} {m.parity}"
        polls = len(self.samples)
        good = sum(1 for s in self.samples if s.regs is not None)
        if polls == 0:
            return Result("modbus", Verdict.WAIT, "asking the controller")
        if good == 0:
            if m.tcp_host:
                hint = "check the address and port, and that the controller's Modbus TCP is enabled"
            else:
                hint = (
                    f"check A/B wiring (swap them if unsure), {m.baud} baud {m.parity}{m.stopbits}, "
                    f"unit id {m.unit_id}, termination and bias"
                )
            return Result(
                "modbus", Verdict.FAIL, f"no answer from unit {m.unit_id} on {where} in {polls} polls: {hint}"
            )
        text = f"unit {m.unit_id} on {where}: {good}/{polls} polls complete, {self.error_rate:.1%} of requests failed"
        if self.implausible:
            text += f", {self.implausible} answers with impossible values"
        if good / polls < MIN_POLL_SUCCESS or self.error_rate > MAX_ERROR_RATE:
            why = "too many failed requests: check termination (120 ohm at both ends), bias, shielding and baud"
            if self.exceptions:
                why = "the controller refuses some monitoring registers (exception answers): is it a NICE3000+?"
            return Result("modbus", Verdict.FAIL, f"{text}; {why}")
        if polls < 20:
            return Result("modbus", Verdict.WAIT, text)
        return Result("modbus", Verdict.PASS, text)

    def _line_missing(self, line: str) -> Result | None:
        """A verdict when `line` cannot be judged at all (not fitted, no levels yet)."""
        if line in self.cfg.gpio.absent:
            return Result(line, Verdict.NOT_FITTED, f"not fitted ([gpio] absent lists {line})")
        known = [s.levels for s in self.samples if s.levels is not None]
        if not known:
            where = "the GPIO simulator stream is not connected" if self.cfg.gpio.pin_factory == "sim" else "none read"
            return Result(line, Verdict.WAIT, f"no sensor levels yet ({where})")
        if line not in known[-1]:
            return Result(line, Verdict.NOT_FITTED, "not fitted (the sensor stream does not carry it)")
        return None

    def _door_contact(self) -> Result:
        missing = self._line_missing("door_closed")
        if missing is not None:
            return Result("door_contact", missing.verdict, missing.reason)
        pin = self.cfg.gpio.pins["door_closed"]
        rows: list[tuple[float, bool, bool]] = []
        for s in self.samples:
            if s.regs is None or s.levels is None or "door_closed" not in s.levels:
                continue
            car = decode_system_state(s.regs["system_state"])
            if car.door is None:
                continue
            rows.append((s.t_s, s.levels["door_closed"], car.door is Door.CLOSED))
        changes: list[float] = []
        controller_moves = 0
        for prev, cur in zip(rows, rows[1:], strict=False):
            if prev[1] != cur[1] or prev[2] != cur[2]:
                changes.append(cur[0])
            controller_moves += int(prev[2] != cur[2])
        compared = agree = 0
        for t, contact, ctrl in rows:
            i = bisect.bisect_left(changes, t - DOOR_SETTLE_S)
            if i < len(changes) and changes[i] <= t + DOOR_SETTLE_S:
                continue
            compared += 1
            agree += int(contact == ctrl)
        contact_values = {r[1] for r in rows}
        if compared < DOOR_MIN_SAMPLES or controller_moves < 2:
            return Result(
                "door_contact",
                Verdict.WAIT,
                f"call the car so its door opens and closes once: {compared} samples compared, "
                f"the controller's door changed {controller_moves} times",
            )
        share = agree / compared
        text = f"contact (BCM {pin}) agrees with the controller's door state in {share:.1%} of {compared} samples"
        if share >= DOOR_AGREEMENT and len(contact_values) == 2:
            return Result("door_contact", Verdict.PASS, text)
        if len(contact_values) == 1:
            level = "made (closed)" if True in contact_values else "open"
            why = (
                f"the contact stayed {level} while the controller opened and closed the door: "
                f"not wired, or on another pin than BCM {pin}"
            )
        elif share < 0.1:
            why = "it reads the opposite: wired to the NO instead of the NC contact, or set [gpio] inverted"
        else:
            why = "it does not follow the door: check the contact's position and its cable"
        return Result("door_contact", Verdict.FAIL, f"{text}; {why}")

    def _door_zone(self) -> Result:
        missing = self._line_missing("leveling_up")
        if missing is not None and self._line_missing("leveling_down") is not None:
            return Result("door_zone", missing.verdict, missing.reason)
        judged = [st for st in self.stops if st.samples >= 3]
        if not judged:
            return Result("door_zone", Verdict.WAIT, "move the car to a few floors: no stop at a landing yet")
        low = self.cfg.elevator.lowest_floor
        by_floor: dict[int, list[bool]] = {}
        for st in judged:
            by_floor.setdefault(landing_to_floor(st.landing, low), []).append(
                st.zone_made >= ZONE_MIN_FRACTION * st.samples
            )
        bad = sorted(f for f, seen in by_floor.items() if not all(seen))
        floors = ", ".join(str(f) for f in sorted(by_floor))
        if bad:
            pins = f"BCM {self.cfg.gpio.pins['leveling_up']}/{self.cfg.gpio.pins['leveling_down']}"
            return Result(
                "door_zone",
                Verdict.FAIL,
                f"door zone NOT made while the car stood at floor(s) {', '.join(map(str, bad))}: "
                f"check the leveling sensors ({pins}) and the vane at those landings",
            )
        if len(by_floor) < ZONE_MIN_FLOORS:
            return Result(
                "door_zone",
                Verdict.WAIT,
                f"move the car to another floor: door zone made at floor {floors} only ({len(judged)} stop(s))",
            )
        return Result("door_zone", Verdict.PASS, f"door zone made at every stop: {len(judged)} stops, floors {floors}")

    def _circuit_rows(self, line: str) -> list[tuple[CarState | None, bool]]:
        """(the controller's car state, the sense's level) for every sample that has both."""
        rows = []
        for s in self.samples:
            if s.regs is None or s.levels is None or line not in s.levels:
                continue
            rows.append((decode_system_state(s.regs["system_state"]).car_state, s.levels[line]))
        return rows

    def _safety_circuit(self) -> Result:
        missing = self._line_missing("safety_circuit")
        if missing is not None:
            return Result("safety_circuit", missing.verdict, missing.reason)
        pin = self.cfg.gpio.pins["safety_circuit"]
        rows = self._circuit_rows("safety_circuit")
        running = [level for car, level in rows if car in (CarState.RUNNING, CarState.STOPPING)]
        if len(running) < CIRCUIT_MIN_RUNNING:
            standing_open = rows and not any(level for _, level in rows)
            why = " (reads OPEN so far: pit stop or inspection switch?)" if standing_open else ""
            return Result(
                "safety_circuit",
                Verdict.WAIT,
                f"move the car to another floor: the chain is judged while the car runs{why}",
            )
        made = sum(running) / len(running)
        if made >= CIRCUIT_MADE_WHILE_RUNNING:
            return Result(
                "safety_circuit", Verdict.PASS, f"made (1) in {made:.1%} of {len(running)} samples with the car running"
            )
        return Result(
            "safety_circuit",
            Verdict.FAIL,
            f"reads OPEN in {1 - made:.1%} of {len(running)} samples while the car ran (it cannot run with the "
            f"chain open): not wired, on another pin than BCM {pin}, or set [gpio] inverted",
        )

    def _door_lock(self) -> Result:
        missing = self._line_missing("door_lock")
        if missing is not None:
            return Result("door_lock", missing.verdict, missing.reason)
        pin = self.cfg.gpio.pins["door_lock"]
        rows = self._circuit_rows("door_lock")
        running = [level for car, level in rows if car in (CarState.RUNNING, CarState.STOPPING)]
        standing_open = [level for car, level in rows if car is CarState.OPEN_HOLD]
        if len(running) >= CIRCUIT_MIN_RUNNING:
            locked = sum(running) / len(running)
            if locked < CIRCUIT_MADE_WHILE_RUNNING:
                return Result(
                    "door_lock",
                    Verdict.FAIL,
                    f"reads UNLOCKED in {1 - locked:.1%} of {len(running)} samples while the car ran: not wired, "
                    f"on another pin than BCM {pin}, or set [gpio] inverted",
                )
        if len(running) < CIRCUIT_MIN_RUNNING or len(standing_open) < LOCK_MIN_OPEN:
            return Result("door_lock", Verdict.WAIT, "move the car to another floor and let its door open there")
        unlocked = standing_open.count(False) / len(standing_open)
        if unlocked < LOCK_OPEN_FRACTION:
            return Result(
                "door_lock",
                Verdict.FAIL,
                f"stays LOCKED while the door stands open ({len(standing_open)} samples): on the wrong circuit "
                f"(the safety chain?) or BCM {pin} stuck",
            )
        return Result(
            "door_lock",
            Verdict.PASS,
            f"locked while the car ran ({len(running)} samples), open with the door open ({len(standing_open)})",
        )

    def _values(self, line: str) -> list[bool]:
        return [s.levels[line] for s in self.samples if s.levels is not None and line in s.levels]

    def _presence(self) -> Result:
        missing = self._line_missing("presence")
        if missing is not None:
            return Result("presence", missing.verdict, missing.reason)
        seen = set(self._values("presence"))
        if seen == {True, False}:
            return Result("presence", Verdict.PASS, "alive: seen both empty (0) and occupied (1)")
        pin = self.cfg.gpio.pins["presence"]
        level = "occupied (1)" if True in seen else "empty (0)"
        return Result(
            "presence",
            Verdict.WAIT,
            f"step into the car and out again: read only {level} so far (sensor on BCM {pin}); "
            "--skip presence if it cannot be tested",
        )

    def _alarm_button(self) -> Result:
        missing = self._line_missing("alarm_button")
        if missing is not None:
            return Result("alarm_button", missing.verdict, missing.reason)
        values = self._values("alarm_button")
        pin = self.cfg.gpio.pins["alarm_button"]
        if values and all(values) and len(values) >= 50:
            return Result(
                "alarm_button",
                Verdict.FAIL,
                f"reads pressed all the time (BCM {pin}): wired to the wrong contact, or set [gpio] inverted",
            )
        presses = sum(1 for a, b in zip(values, values[1:], strict=False) if b and not a)
        if values and values[0]:
            presses += 1
        if presses and not values[-1]:
            return Result("alarm_button", Verdict.PASS, f"wired: {presses} press(es) seen and released")
        return Result(
            "alarm_button",
            Verdict.WAIT,
            "press the alarm button in the car (hold it 1 s); --skip alarm_button if nobody can",
        )

    def _mains(self) -> Result:
        missing = self._line_missing("mains")
        if missing is not None:
            return Result("mains", missing.verdict, missing.reason)
        values = self._values("mains")
        pin = self.cfg.gpio.pins["mains"]
        on = sum(values) / len(values) if values else 0.0
        if not any(values):
            return Result(
                "mains",
                Verdict.FAIL,
                f"reads NO mains (BCM {pin}) while the lift has power: check the 230 V opto input, "
                'or set [gpio] inverted = ["mains"]',
            )
        if on < MAINS_MIN_FRACTION:
            return Result(
                "mains", Verdict.FAIL, f"mains present in only {on:.1%} of samples: a loose or flickering input"
            )
        if len(values) < 20:
            return Result("mains", Verdict.WAIT, "reading the mains sense")
        return Result("mains", Verdict.PASS, f"mains present in {on:.1%} of samples")

    def _broker(self) -> Result:
        return self.broker or Result("broker", Verdict.WAIT, "connecting")

    def _clock(self) -> Result:
        return self.clock or Result("clock", Verdict.WAIT, "asking the kernel")


# --- the IO around it ------------------------------------------------------------------------------


def running_agent(cfg: AgentConfig) -> dict[str, object] | None:
    """The status of an agent running from this configuration's data_dir, None when none runs."""
    import json

    from edge_agent.status_cmd import STALE_S, liveness

    try:
        status = json.loads((cfg.data_dir / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(status, dict):
        return None
    running, _ = liveness(status, max(STALE_S, 3 * cfg.timing.status_file_s))
    return status if running else None


def broker_from_agent(status: Mapping[str, object]) -> Result:
    """The broker verdict from the running agent's own connection (check does not log in beside it)."""
    link = status.get("link")
    link = link if isinstance(link, dict) else {}
    pid = status.get("pid")
    where = link.get("broker", "?")
    if link.get("online"):
        return Result("broker", Verdict.PASS, f"the running agent (pid {pid}) is connected to {where}")
    error = link.get("last_error") or "no error recorded"
    return Result(
        "broker",
        Verdict.FAIL,
        f"the running agent (pid {pid}) is NOT connected to {where}: {error}; check the broker address, "
        "network and the login `elev-collector devices add` printed",
    )


async def check_broker(cfg: AgentConfig) -> Result:
    """Connect with the gateway's own credentials, client id and TLS settings, then disconnect.

    The agent's own client id (`elev-agent-ID`): the broker pins each device login to it (see
    collector/broker/dynsec.py), so any other id would be refused however right the password is. No
    will, no subscription, no publish: the collector sees nothing. A running agent on this gateway
    would be kicked off by the same id, so `run_check` asks that agent instead of connecting.
    """
    import aiomqtt

    from edge_agent.uplink import tls_context

    b = cfg.broker
    where = f"{'mqtts' if b.tls else 'mqtt'}://{b.host}:{b.port}"
    who = f" as {b.username}" if b.username else " without a login"
    try:
        client = aiomqtt.Client(
            b.host,
            b.port,
            username=b.username,
            password=b.password,
            identifier=cfg.client_id,
            keepalive=b.keepalive_s,
            timeout=10.0,
            tls_context=tls_context(b.ca_file) if b.tls else None,
        )
        async with client:
            pass
    except ssl.SSLError as exc:
        return Result("broker", Verdict.FAIL, f"{where}: TLS failed ({exc.reason}): set [broker] ca_file to the CA")
    except aiomqtt.MqttError as exc:
        text = str(exc)
        low = text.lower()
        if any(k in low for k in ("not authori", "bad user name", "password", "identifier", "code:13")):
            why = (
                "the broker refused the login: copy the username and password `elev-collector devices add` "
                f"printed; the broker admits this device only as client id elev-agent-{cfg.device_id}"
                + (
                    f", not {cfg.client_id} ([broker] client_id)"
                    if cfg.client_id != f"elev-agent-{cfg.device_id}"
                    else ""
                )
            )
        elif "certificate" in low or "ssl" in low or "tls" in low:
            why = "the broker's certificate cannot be verified: set [broker] ca_file to the CA the operator gave"
        elif "refused" in low or "errno 111" in low:
            why = "nothing listens there: check the address and port, and that the collector's broker runs"
        elif "timed out" in low or "timeout" in low:
            why = "no answer: check the network (4G/LAN), firewall and the port"
        else:
            why = "check the broker address, network and credentials"
        return Result("broker", Verdict.FAIL, f"{where}: {text}; {why}")
    except OSError as exc:
        return Result("broker", Verdict.FAIL, f"{where}: {exc}; check the network and the broker address")
    tls = ", TLS verified" if b.tls else ", no TLS (plain mqtt://)"
    return Result("broker", Verdict.PASS, f"logged in to {where}{who}{tls}, then disconnected")


async def check_clock(cfg: AgentConfig) -> Result:
    from edge_agent.agent import ClockSync

    forced = cfg.timing.clock_synced
    synced = await ClockSync("auto").refresh()  # always ask the system: a forced setting proves nothing
    if synced:
        return Result("clock", Verdict.PASS, "the system clock is NTP-synchronized")
    why = "the system clock is NOT NTP-synchronized: the gateway needs NTP (UDP 123) or `timedatectl set-ntp true`"
    if forced == "yes":
        why += ' ([agent] clock_synced = "yes" in the configuration hides this from the agent)'
    return Result("clock", Verdict.FAIL, why)


_COLOURS = {
    Verdict.PASS: "\x1b[1;32m",  # bold green
    Verdict.FAIL: "\x1b[1;37;41m",  # bold white on red: seen from across the room
    Verdict.WAIT: "\x1b[1;33m",  # bold yellow
    Verdict.NOT_TESTED: "\x1b[1;35m",  # bold magenta
    Verdict.NOT_FITTED: "\x1b[2m",  # dim
    Verdict.SKIPPED: "\x1b[2m",
}


def use_colour(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Colour only for a person at a terminal that can show it (https://no-color.org)."""
    if environ.get("NO_COLOR"):
        return False
    if environ.get("TERM", "") == "dumb":
        return False
    return stream.isatty()


def label(v: Verdict, colour: bool, width: int = 10) -> str:
    """The verdict word padded to `width` visible columns, coloured when asked."""
    text = v.value.ljust(width)
    if not colour:
        return text
    return f"{_COLOURS[v]}{v.value}\x1b[0m" + " " * (width - len(v.value))


def wrap_row(prefix: str, text: str, visible_prefix: int) -> list[str]:
    """`prefix` then `text` wrapped into WIDTH columns, continuation lines under the text."""
    lines = textwrap.wrap(text, WIDTH - visible_prefix, break_on_hyphens=False) or [""]
    return [prefix + lines[0]] + [" " * visible_prefix + rest for rest in lines[1:]]


def _level(cfg: AgentConfig, name: str, levels: Mapping[str, bool] | None) -> str:
    if name in cfg.gpio.absent or (levels is not None and name not in levels):
        value = "-"  # not fitted
    elif levels is None:
        value = "?"
    else:
        value = "1" if levels[name] else "0"
    inv = "i" if name in cfg.gpio.inverted else ""
    return f"{name:14s} {value:1s} BCM {cfg.gpio.pins[name]:<2d}{inv:1s}"


def signal_lines(cfg: AgentConfig, last: Sample | None, counters: Mapping[str, int]) -> list[str]:
    """The controller's words and the sensors' levels of the last poll, in 80 columns."""
    m = cfg.modbus
    link = f"tcp {m.tcp_host}:{m.tcp_port}" if m.tcp_host else f"rtu {m.rtu_device} {m.baud} {m.parity}{m.stopbits}"
    failed = counters.get("requests", 0) - counters.get("ok", 0)
    out = wrap_row(
        "controller ",
        f"{link} unit {m.unit_id}: {counters.get('requests', 0)} requests, {failed} failed "
        f"({counters.get('timeouts', 0)} timeouts, {counters.get('bad_frames', 0)} bad frames, "
        f"{counters.get('exceptions', 0)} exceptions, {counters.get('disconnects', 0)} no connection)",
        11,
    )
    regs = last.regs if last is not None else None
    if regs is None:
        out.append("  no complete answer in the last poll")
    else:
        st = decode_system_state(regs["system_state"])
        car = st.car_state.name.lower().replace("_", " ") if st.car_state is not None else "?"
        try:
            status = RunStatus(regs["run_status"]).name.lower()
        except ValueError:
            status = f"? ({regs['run_status']})"
        floor = landing_to_floor(regs["landing"], cfg.elevator.lowest_floor)
        out += [
            f"  floor {floor} (landing {regs['landing']})  car {car}  run status {status}  mode {st.mode.value}",
            f"  speed {regs['speed_mm_s']}/{regs['rated_speed_mm_s']} mm/s  position "
            f"{regs['car_position_dm'] / 10:.1f} m  load {regs['car_load_permille'] / 10:.1f} %  fault {regs['fault']}",
        ]
    levels = last.levels if last is not None else None
    cells = [_level(cfg, name, levels) for name in GPIO_LINES]
    out.append("sensors (1 made, 0 open, - not fitted, ? unknown)")
    out += [("  " + "   ".join(cells[i : i + 2])).rstrip() for i in range(0, len(cells), 2)]
    return out


def verdict_lines(results: Sequence[Result], colour: bool, one_line: bool = False) -> list[str]:
    """One row per check; `one_line` cuts each reason to the row (what to do comes first in it)."""
    out = []
    for r in results:
        prefix = f"{label(r.verdict, colour)} {r.check:14s} "
        if one_line:
            room = WIDTH - 26
            out.append(prefix + (r.reason if len(r.reason) <= room else r.reason[: room - 3] + "..."))
        else:
            out += wrap_row(prefix, r.reason, 26)
    return out


def render(
    cfg: AgentConfig,
    watch: Watch,
    elapsed_s: float,
    seconds: float,
    counters: Mapping[str, int],
    colour: bool = False,
    rows: int | None = None,
) -> str:
    """The live screen: what to do now, the signals of the last poll, then the verdicts so far.

    With `rows` (a terminal's height) the verdicts shrink to one line each when the whole screen
    would not fit, so the top (what to do now) never scrolls away; the summary at the end has the
    full reasons.
    """
    results = watch.results(final=False)
    out = [f"elev-agent check  {cfg.device_id}  {elapsed_s:5.1f} of {seconds:g} s  (Ctrl-C ends early)"]
    alarm = next(r for r in results if r.check == "alarm_button")
    if alarm.verdict is Verdict.WAIT:
        out.append(">>> press the alarm button in the car now (hold it 1 s) <<<")
    out += signal_lines(cfg, watch.samples[-1] if watch.samples else None, counters)
    full = verdict_lines(results, colour)
    fits = rows is None or len(out) + len(full) < rows
    out += full if fits else verdict_lines(results, colour, one_line=True)
    return "\n".join(out)


def end_line(results: Sequence[Result]) -> str:
    n = problems(results)
    if n == 0:
        return "check: pass"
    return f"check: fail ({n} problem{'s' if n != 1 else ''})"


def summary(results: Sequence[Result], colour: bool = False) -> str:
    out = ["", f"{'check':14s} {'verdict':10s} reason", f"{'-' * 14} {'-' * 10} {'-' * 54}"]
    for r in results:
        out += wrap_row(f"{r.check:14s} {label(r.verdict, colour)} ", r.reason, 26)
    blocked = [r for r in results if r.verdict is Verdict.NOT_TESTED and r.blocked_by]
    for cause in sorted({r.blocked_by for r in blocked if r.blocked_by}):
        names = ", ".join(r.check for r in blocked if r.blocked_by == cause)
        out += [""] + wrap_row(
            "",
            f"not counted: {names} could not be tested because {cause} failed (one problem); "
            "fix it and run the check again",
            0,
        )
    out += ["", end_line(results)]
    return "\n".join(out)


def json_line(watch: Watch, elapsed_s: float, final: bool) -> str:
    """One JSON object (one line) for an app: every verdict, the last levels, and at the end the result."""
    import json

    results = watch.results(final=final)
    last = watch.samples[-1] if watch.samples else None
    doc: dict[str, object] = {
        "device_id": watch.cfg.device_id,
        "elapsed_s": round(elapsed_s, 1),
        "final": final,
        "checks": [r.as_json() for r in results],
        "registers": dict(last.regs) if last is not None and last.regs is not None else None,
        "levels": dict(last.levels) if last is not None and last.levels is not None else None,
    }
    if final:
        doc["result"] = "pass" if problems(results) == 0 else "fail"
        doc["problems"] = problems(results)
    return json.dumps(doc, separators=(",", ":"))


async def run_check(
    cfg: AgentConfig,
    seconds: float,
    skip: frozenset[str],
    out: TextIO,
    tty: bool,
    colour: bool = False,
    as_json: bool = False,
) -> int:
    from edge_agent.hw.device import DeviceReader
    from edge_agent.hw.gpio import GpiozeroInputs, SimGpioFeed, mock_factory, native_factory
    from edge_agent.hw.modbus import ModbusBus
    from protocols.registers import NICE3000_MONITOR

    watch = Watch(cfg, skip)
    factory = mock_factory() if cfg.gpio.pin_factory == "sim" else native_factory()
    inputs = GpiozeroInputs(cfg.gpio, factory)
    bus = ModbusBus(cfg.modbus)
    reader = DeviceReader(bus, NICE3000_MONITOR, cfg.modbus.unit_id, cfg.modbus.backoff_max_s)
    period_s = cfg.timing.poll_period_ms / 1000
    started = time.monotonic()
    redraw_s = 1.0 if as_json else 0.5 if tty else 5.0
    next_draw = started
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True

    with contextlib.suppress(NotImplementedError, RuntimeError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, interrupt)

    async def broker_task() -> None:
        if "broker" in skip:
            return
        agent = running_agent(cfg)
        watch.broker = broker_from_agent(agent) if agent is not None else await check_broker(cfg)

    async def clock_task() -> None:
        watch.clock = await check_clock(cfg) if "clock" not in skip else None

    def count() -> Mapping[str, int]:
        c = bus.counters
        watch.error_rate = (c.requests - c.ok) / c.requests if c.requests else 0.0
        watch.exceptions = c.exceptions
        return c.as_dict()

    def draw(elapsed: float) -> None:
        counters = count()
        if as_json:
            out.write(json_line(watch, elapsed, final=False) + "\n")
        elif tty:
            rows = shutil.get_terminal_size((WIDTH, 24)).lines
            out.write("\x1b[H\x1b[2J" + render(cfg, watch, elapsed, seconds, counters, colour, rows) + "\n")
        else:
            out.write(render(cfg, watch, elapsed, seconds, counters, colour) + "\n\n")
        out.flush()

    try:
        async with asyncio.TaskGroup() as tg:
            feed_task = None
            if cfg.gpio.pin_factory == "sim":
                assert cfg.gpio.sim_host is not None
                feed_task = tg.create_task(SimGpioFeed(inputs, cfg.gpio.sim_host, cfg.gpio.sim_port).run(), name="gpio")
            side = [tg.create_task(broker_task(), name="broker"), tg.create_task(clock_task(), name="clock")]
            next_poll = started
            while True:
                cancellation_point()
                regs = await reader.read()
                now = time.monotonic()
                levels = dict(inputs.levels()) if inputs.ready else None
                if regs is not None:
                    try:
                        fuse(0, regs, levels or {}, cfg.elevator.lowest_floor)
                    except FusionError as exc:
                        watch.implausible += 1
                        log.debug("impossible answer: %s", exc)
                        regs = None
                watch.add(Sample(now - started, regs, levels))
                elapsed = now - started
                if now >= next_draw:
                    draw(elapsed)
                    next_draw = now + redraw_s
                sides_done = all(t.done() for t in side)
                if elapsed >= seconds or interrupted:
                    break
                settled = sides_done and elapsed >= min(MIN_WATCH_S, seconds)
                if settled and all(r.verdict.ok for r in watch.results(final=False)):
                    break
                next_poll += period_s
                await asyncio.sleep(max(next_poll - time.monotonic(), 0))
            for t in side:
                if not t.done():
                    t.cancel()
            if feed_task is not None:
                feed_task.cancel()
    finally:
        await bus.close()
        inputs.close()
    elapsed = time.monotonic() - started
    count()
    results = watch.results(final=True)
    if as_json:
        out.write(json_line(watch, elapsed, final=True) + "\n")
    else:
        if tty:  # the end replaces the live screen: the verdicts, nothing to scroll back for
            out.write("\x1b[H\x1b[2J")
        out.write(f"elev-agent check  {cfg.device_id}  watched {elapsed:.1f} s\n")
        out.write(summary(results, colour) + "\n")
    out.flush()
    return 0 if problems(results) == 0 else 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="elev-agent check",
        description="Commissioning: show the live signals of the controller and the sensors, judge the wiring "
        "and the configuration, end with 'check: pass' (exit 0) or 'check: fail (N problems)' (exit 1).",
    )
    p.add_argument("--config", metavar="FILE", help="the gateway's TOML configuration; flags override it")
    link = p.add_mutually_exclusive_group()
    link.add_argument("--modbus-tcp", metavar="HOST:PORT", help="controller over Modbus TCP")
    link.add_argument("--modbus-rtu", metavar="DEVICE", help="controller over Modbus RTU (e.g. /dev/ttyUSB0)")
    p.add_argument("--gpio-sim", metavar="HOST:PORT", help="take the sensor levels from elev-sim --gpio-serve")
    p.add_argument("--broker", metavar="URL", help="mqtt://[user:password@]host:port or mqtts://...")
    p.add_argument("--device-id", help="this elevator's id")
    p.add_argument(
        "--floors", metavar="LOW..HIGH", help="the building's floors, e.g. --floors=-1..12 ([elevator] in FILE)"
    )
    p.add_argument(
        "--seconds", type=float, default=60.0, metavar="N", help="watch at most N s (default 60; ends early on pass)"
    )
    p.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=CHECKS,
        metavar="CHECK",
        help=f"do not judge CHECK (repeatable): {', '.join(CHECKS)}",
    )
    p.add_argument(
        "--json", action="store_true", help="JSON lines instead of the screen: progress each second, then the result"
    )
    p.add_argument("--debug", action="store_true", help="verbose logs and tracebacks")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("pymodbus").setLevel(logging.DEBUG if args.debug else logging.CRITICAL)
    if not 1 <= args.seconds <= 3600:
        print(f"elev-agent check: --seconds {args.seconds:g} is out of range 1..3600", file=sys.stderr)
        return 2
    try:
        # A data_dir in the file says where a running agent's status is (then check asks it about the
        # broker instead of kicking it off); without one the directory is never used.
        data_dir = None if args.config and load_file(args.config).get("data_dir") else "."
        cfg = load(
            args.config,
            Overrides(
                device_id=args.device_id,
                broker_url=args.broker,
                modbus_tcp=args.modbus_tcp,
                modbus_rtu=args.modbus_rtu,
                data_dir=data_dir,  # check keeps no data
                gpio_sim=args.gpio_sim,
                floors=args.floors,
            ),
        )
        require_floors(cfg)
    except ConfigError as exc:
        if args.debug:
            raise
        print(f"elev-agent check: {exc}", file=sys.stderr)
        return 2
    tty = sys.stdout.isatty()
    colour = use_colour(sys.stdout, os.environ)
    try:
        return asyncio.run(
            run_check(cfg, args.seconds, frozenset(args.skip), sys.stdout, tty, colour=colour, as_json=args.json)
        )
    except KeyboardInterrupt:
        print("\nelev-agent check: interrupted", file=sys.stderr)
        return 1
    except (AgentError, OSError, ExceptionGroup) as exc:
        if args.debug:
            raise
        leaves = exc.exceptions if isinstance(exc, ExceptionGroup) else [exc]
        for e in leaves:
            print(
                f"elev-agent check: {e if isinstance(e, AgentError) else f'{type(e).__name__}: {e}'}", file=sys.stderr
            )
        return 1
