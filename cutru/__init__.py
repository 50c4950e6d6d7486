"""cutru infrastructure: configuration, local stack, database, clients and logging.

The domain rules live in ``domain``; orchestration in ``workflows``; side effects in ``activities``.
"""
