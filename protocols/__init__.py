"""What the edge agent, the collector and the simulator must agree on.

Pure code only: frames, signals, the event catalog, register maps and topic names. Nothing here
opens a file, a socket or a serial port, so every module can be used in tests and in replay alike.
"""
