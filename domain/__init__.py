"""The residence domain: procedures, rules, models. Pure code: no I/O, safe inside workflows."""
