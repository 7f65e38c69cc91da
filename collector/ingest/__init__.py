"""Where a frame comes in: the MQTT session, decoding and validation, the hand-off to the store."""
