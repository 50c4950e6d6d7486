"""PostgreSQL: versioned migrations, the synthetic population seed, and the database helpers."""
