"""The hardware simulator: an elevator, its controller's Modbus registers and its sensors' GPIO."""
