"""The retrofit sensors wired to the gateway's GPIO header, by name, with their default pins.

The simulator serves levels under these names and the agent reads them under these names, so the
two agree by construction. A level of 1 means the contact is made / the sensor is active; the
agent's configuration may move a line to another BCM pin or mark it inverted for a given board.
"""

from __future__ import annotations

from typing import Final

# name -> default BCM pin on a Raspberry Pi 40-pin header
GPIO_LINES: Final[dict[str, int]] = {
    "door_closed": 17,  # car door contact: made when the door is fully closed
    "leveling_up": 27,  # leveling sensor above the vane: made inside the door zone
    "leveling_down": 22,  # leveling sensor below the vane: made inside the door zone
    "presence": 23,  # car presence sensor (PIR / radar); may be absent
    "alarm_button": 24,  # car alarm button, parallel contact
    "mains": 25,  # mains sense (opto-isolated 230 V input)
    "safety_circuit": 5,  # safety chain sense (opto-isolated 110 V input)
    "door_lock": 6,  # door-lock circuit sense (opto-isolated 110 V input)
}
