"""What is served: the HTTP API, the city interface and the operator console."""
