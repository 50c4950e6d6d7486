"""The eleven level-4 residence procedures, each in a module of its own.

Each procedure module (``permanent_residence_registration``, ``stay_notification``, …) holds that procedure's
whole pure definition: its Vietnamese name and TTHC code, legal basis, lifecycle steps, submission model,
eligibility rules, deadline case, notes for the officer, the facts it needs, its result documents and their texts,
and the record changes its commit makes (a ``RecordPlan``). ``catalogue`` collects them; everything above
``domain`` reads a procedure through ``catalogue.PROCEDURES``, never through a table of its own.

Shared pieces live beside them: ``spec`` (the definition type), ``plan`` (the record changes a commit can make),
``common`` (rules and detail models every procedure uses) and ``deletion`` (what the two deletions share).
Deadlines, fees, validity periods and thresholds are versioned rule data (``domain.rulesets``).

The two vocabularies every layer names, ``Procedure`` and ``DocumentKind``, are in ``domain.kinds``, below the rule
sets and the boundary models that the procedure modules import.
"""
