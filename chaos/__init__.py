"""Reliability campaign: a mixed dossier load on a private stack under a dozen kinds of fault (``chaos.faults``).

``python -m chaos.run`` (``make chaos``) starts its own file-backed Temporal dev server, its own embedded PostgreSQL
and two worker processes in a temporary directory, submits dossiers of every procedure that has a workflow, plays the
officers and citizens, injects faults at random (seeded) moments, then checks in Temporal and in the database that no
dossier was lost, doubled or left stuck, that the audit table, documents, attachments and households agree, and
that every payload was encrypted, and prints a table. ``tests/integration/test_chaos.py`` runs the same
campaign with small numbers.

Modules: ``stack`` (the private processes), ``population`` (data and submissions for each procedure), ``actors``
(submitting citizens, officers, payments), ``faults`` (the fault schedule), ``network`` (the database link the
faults drop and slow), ``worker`` (the worker with the disk and gateway switches), ``verify`` (the end-of-run checks),
``campaign`` (the whole run and its report), ``run`` (the command line).
"""
