"""cutru infrastructure: configuration, local stack, database, clients and logging.

The domain rules live in ``domain``; orchestration in ``workflows``; side effects in ``activities``.
"""


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
