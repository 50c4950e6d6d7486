"""Clients of the service: the Python client for backend services, the officer's and auditor's tools, the
JSON Schemas of the contract."""


def exit_now(code: int) -> None:
    """Exit a command-line tool without running interpreter teardown.

    Short scripts that used a Temporal client can abort at interpreter exit (``PyGILState_Release``,
    sdk-python #300) and turn a success into SIGABRT; everything is done and flushed by then.
    """
    import os
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
