"""What the agent reports between events (see `policy`)."""
