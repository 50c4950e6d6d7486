"""What the service processes share: configuration, payload encryption, logging, metrics, Temporal connection and
the database migrations."""
