"""``make bench``: cutru's dossier throughput measured side by side with the bare Temporal engine's floor.

- ``bench.run``: the driver (``python -m bench.run``) — its own stack, the workloads, the report.
- ``bench.floor``: the floor workflow (no-op activities and one update) and its worker process.
- ``bench.stack``: the temporary stack (dev server, database, worker processes) and process accounting.
- ``bench.population``: the bench applicants and their residences, loaded with COPY, and their submissions.
- ``bench.stats``: percentiles, history profiles, the report model and its text form (unit-tested).
"""
