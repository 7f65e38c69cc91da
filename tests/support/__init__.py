"""Helpers the tests share: real services on free loopback ports, and bounded waits."""
