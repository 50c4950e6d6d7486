"""Service processes beside the worker: the codec server (and the HTTP API)."""
