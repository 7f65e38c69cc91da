"""The edge agent: reads the elevator, detects faults and entrapments, and uploads frames."""
