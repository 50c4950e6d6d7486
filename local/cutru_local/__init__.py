"""The local development stack (Temporal dev server, embedded PostgreSQL), the demo and the synthetic population.

A distribution of its own (``cutru-local``): never part of the runtime install."""
