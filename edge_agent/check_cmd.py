"""`elev-agent check`: commissioning in the machine room, live in a plain terminal.

    elev-agent check [--config FILE] [--modbus-tcp HOST:PORT | --modbus-rtu DEVICE] [--gpio-sim HOST:PORT]
                     [--broker URL] [--device-id ID] [--seconds N] [--skip CHECK ...] [--debug]

An installer has just wired the gateway and wants to know, before leaving the site, whether what
the agent will see is true. This command reads the controller and the sensors through the agent's
own hardware edge (`edge_agent.hw`: the same `ModbusBus`, `DeviceReader`, gpiozero inputs) and
fusion, shows every signal refreshing in place, and judges each piece of wiring from what the lift
does while it is watched: the door contact must follow the door state the controller reports, the
door zone must be made at each landing the car stops at, and so on. It ends as soon as every check
has passed, or after `--seconds`, with a summary table and `check: pass` (exit 0) or
`check: fail (N problems)` (exit 1). Exit 2: bad command line or configuration.

The judging (`Watch`) is pure: samples in, verdicts out, so the criteria are tested without a lift.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import enum
import logging
import signal
import ssl
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from edge_agent.config import AgentConfig, AgentError, ConfigError, Overrides, load, require_floors
from edge_agent.fusion import FusionError, fuse
from edge_agent.hw import cancellation_point
from protocols.gpio_lines import GPIO_LINES
from protocols.registers import CarState, RunStatus, decode_system_state, landing_to_floor
from protocols.signals import Door

log = logging.getLogger("edge_agent.check")

CHECKS = ("modbus", "door_contact", "door_zone", "presence", "alarm_button", "mains", "broker", "clock")

# Criteria (a healthy lift in normal traffic passes all of them within about a minute).
MIN_POLL_SUCCESS = 0.90  # complete poll cycles / poll cycles attempted
MAX_ERROR_RATE = 0.05  # failed Modbus requests / requests
DOOR_SETTLE_S = 0.6  # samples this close to a change of the contact or the controller's door are not compared
DOOR_AGREEMENT = 0.98  # of the compared samples
DOOR_MIN_SAMPLES = 20
ZONE_MIN_FRACTION = 0.5  # a stop counts as "zone made" when the zone was made in at least half its samples
MAINS_MIN_FRACTION = 0.99
MIN_WATCH_S = 10.0  # never end earlier, even when everything already passed


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "FAIL"
    WAIT = "..."  # still watching
    NOT_TESTED = "not tested"  # counts as a problem
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

    def results(self, final: bool) -> list[Result]:
        out = []
        for name in CHECKS:
            if name in self.skip:
                out.append(Result(name, Verdict.SKIPPED, f"skipped (--skip {name})"))
                continue
            r: Result = getattr(self, f"_{name}")()
            if final and r.verdict is Verdict.WAIT:
                r = Result(name, Verdict.NOT_TESTED, r.reason)
            out.append(r)
        return out

    def _modbus(self) -> Result:
        m = self.cfg.modbus
        where = f"{m.tcp_host}:{m.tcp_port}" if m.tcp_host else f"{m.rtu_device} at {m.baud} {m.parity}"
        polls = len(self.samples)
        good = sum(1 for s in self.samples if s.regs is not None)
        if polls == 0:
            return Result("modbus", Verdict.WAIT, "no poll yet")
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
                f"{compared} samples compared, the controller's door changed {controller_moves} times "
                "(need the door to open and close once: call the car)",
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
            return Result("door_zone", Verdict.WAIT, "no stop at a landing yet: call the car to a few floors")
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
        return Result("door_zone", Verdict.PASS, f"door zone made at every stop: {len(judged)} stops, floors {floors}")

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
            f"read only {level} so far: step into the car and out, or check the sensor (BCM {pin}); "
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
            "press the car alarm button (hold it 1 s); --skip alarm_button if nobody can",
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
            return Result("mains", Verdict.WAIT, "watching")
        return Result("mains", Verdict.PASS, f"mains present in {on:.1%} of samples")

    def _broker(self) -> Result:
        return self.broker or Result("broker", Verdict.WAIT, "connecting")

    def _clock(self) -> Result:
        return self.clock or Result("clock", Verdict.WAIT, "asking the kernel")


# --- the IO around it ------------------------------------------------------------------------------


async def check_broker(cfg: AgentConfig) -> Result:
    """Connect with the gateway's own credentials and TLS settings, then disconnect (no will, no publish).

    A different client id than the agent's, so a running agent service is not kicked off the broker.
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
            identifier=f"{cfg.client_id}-check",
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
        if any(k in low for k in ("not authori", "bad user name", "password", "code:134", "code:135")):
            why = "the broker refused the login: copy the username and password `elev-collector devices add` printed"
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
    return Result("broker", Verdict.PASS, f"connected to {where}{who}{tls}, then disconnected")


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


def _line(cfg: AgentConfig, name: str, levels: Mapping[str, bool] | None) -> str:
    pin = cfg.gpio.pins[name]
    if name in cfg.gpio.absent:
        value = "not fitted"
    elif levels is None:
        value = "?"
    elif name not in levels:
        value = "not fitted"
    else:
        value = "1" if levels[name] else "0"
    inv = " (inverted)" if name in cfg.gpio.inverted else ""
    return f"  {name:15s} {value:10s} BCM {pin}{inv}"


def render(cfg: AgentConfig, watch: Watch, elapsed_s: float, seconds: float, counters: Mapping[str, int]) -> str:
    """The live screen: the signals of the last poll, then the verdicts so far."""
    last = watch.samples[-1] if watch.samples else None
    m = cfg.modbus
    link = f"tcp {m.tcp_host}:{m.tcp_port}" if m.tcp_host else f"rtu {m.rtu_device} {m.baud} {m.parity}{m.stopbits}"
    out = [
        f"elev-agent check  {cfg.device_id}   {elapsed_s:5.1f} s of {seconds:g} s   (Ctrl-C ends early)",
        "",
        f"controller  {link}  unit {m.unit_id}   requests {counters.get('requests', 0)}  ok {counters.get('ok', 0)}"
        f"  timeouts {counters.get('timeouts', 0)}  bad frames {counters.get('bad_frames', 0)}"
        f"  exceptions {counters.get('exceptions', 0)}  no connection {counters.get('disconnects', 0)}",
    ]
    regs = last.regs if last is not None else None
    if regs is None:
        out.append("  (no complete answer in the last poll)")
    else:
        st = decode_system_state(regs["system_state"])
        car = st.car_state.name.lower().replace("_", " ") if st.car_state is not None else "?"
        try:
            status = RunStatus(regs["run_status"]).name.lower()
        except ValueError:
            status = f"? ({regs['run_status']})"
        floor = landing_to_floor(regs["landing"], cfg.elevator.lowest_floor)
        out += [
            f"  speed {regs['speed_mm_s']} mm/s (rated {regs['rated_speed_mm_s']})   landing {regs['landing']}"
            f" = floor {floor}   position {regs['car_position_dm'] / 10:.1f} m"
            f"   load {regs['car_load_permille'] / 10:.1f} %",
            f"  mode {st.mode.value}   car {car}   run status {status}   fault {regs['fault']}",
        ]
    out += ["", "sensors (GPIO)"]
    levels = last.levels if last is not None else None
    out += [_line(cfg, name, levels) for name in GPIO_LINES]
    results = watch.results(final=False)
    alarm = next(r for r in results if r.check == "alarm_button")
    out.append("")
    if alarm.verdict is Verdict.WAIT:
        out.append(">>> press the car alarm button now (hold it 1 s) <<<")
    out += ["verdicts"]
    out += [f"  {r.verdict.value:10s} {r.check:13s} {r.reason}" for r in results]
    return "\n".join(out)


def summary(results: Sequence[Result]) -> str:
    problems = sum(1 for r in results if not r.verdict.ok)
    out = ["", f"{'check':13s} {'verdict':10s} reason", f"{'-' * 13} {'-' * 10} {'-' * 40}"]
    out += [f"{r.check:13s} {r.verdict.value:10s} {r.reason}" for r in results]
    out.append("")
    out.append("check: pass" if problems == 0 else f"check: fail ({problems} problem{'s' if problems != 1 else ''})")
    return "\n".join(out)


async def run_check(cfg: AgentConfig, seconds: float, skip: frozenset[str], out: TextIO, tty: bool) -> int:
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
    redraw_s = 0.5 if tty else 5.0
    next_draw = started
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True

    with contextlib.suppress(NotImplementedError, RuntimeError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, interrupt)

    async def broker_task() -> None:
        watch.broker = await check_broker(cfg) if "broker" not in skip else None

    async def clock_task() -> None:
        watch.clock = await check_clock(cfg) if "clock" not in skip else None

    def draw(elapsed: float) -> None:
        c = bus.counters
        watch.error_rate = (c.requests - c.ok) / c.requests if c.requests else 0.0
        watch.exceptions = c.exceptions
        screen = render(cfg, watch, elapsed, seconds, c.as_dict())
        if tty:
            out.write("\x1b[H\x1b[2J" + screen + "\n")
        else:
            out.write(screen + "\n\n")
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
    draw(time.monotonic() - started)
    results = watch.results(final=True)
    out.write(summary(results) + "\n")
    out.flush()
    return 0 if all(r.verdict.ok for r in results) else 1


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
        cfg = load(
            args.config,
            Overrides(
                device_id=args.device_id,
                broker_url=args.broker,
                modbus_tcp=args.modbus_tcp,
                modbus_rtu=args.modbus_rtu,
                data_dir=".",  # check keeps no data; the directory is never used
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
    try:
        return asyncio.run(run_check(cfg, args.seconds, frozenset(args.skip), sys.stdout, tty))
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
