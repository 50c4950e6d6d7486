"""``python worker.py``: the worker process, the image's entry point; the same as ``cutru worker``.

The process itself is ``cutru/service/worker.py``; the names below are what tests and tools build workers from.
"""

from cutru.service.worker import build_worker, check, database_pool, main, run

__all__ = ["build_worker", "check", "database_pool", "main", "run"]

if __name__ == "__main__":
    main()
