"""structlog JSON logs, for cutru's own events and for the standard library's records (the Temporal SDK's,
asyncpg's, asyncio's) alike. Personal ID numbers are masked by a processor, so a careless call cannot leak one."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from structlog.typing import Processor
from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

_PERSONAL_ID = re.compile(r"(?<!\d)(\d{3})\d{7}(\d{2})(?!\d)")


class _MaskedJson:
    """The event as a JSON line with every personal ID number masked: one pass over the rendered line, whatever the
    event holds (strings, numbers, nested values), rather than a pass over each value."""

    def __init__(self) -> None:
        self._render = structlog.processors.JSONRenderer(ensure_ascii=False)

    def __call__(self, logger: Any, name: str, event_dict: MutableMapping[str, Any]) -> str:
        line = self._render(logger, name, event_dict)
        assert isinstance(line, str)  # the renderer's json.dumps gives text
        return _PERSONAL_ID.sub(r"\1*******\2", line)


class _JsonHandler(logging.StreamHandler[Any]):
    """The handler configure_logging installs on the root logger; a later call replaces it."""


def _rendering() -> list[Processor]:
    """The tail every event goes through, whichever logger wrote it; masking after the traceback is rendered."""
    return [
        structlog.processors.format_exc_info,
        _MaskedJson(),
    ]


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr, one event per line, ready for a log stack.

    cutru's events go from structlog straight to stderr (no detour through ``logging``, which the worker would pay
    for on every activity); the standard library's records are rendered by structlog's ``ProcessorFormatter`` with
    the same timestamp, level, masking and renderer, plus the logger's name and the record's ``extra`` fields (the
    SDK puts the workflow and activity there).
    """
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            stamp,
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *_rendering()],
    )
    handler = _JsonHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for previous in [h for h in root.handlers if isinstance(h, _JsonHandler)]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            stamp,
            *_rendering(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def core_logging() -> LoggingConfig:
    """The SDK core's own lines (a failing workflow task, a poller's error), forwarded to the standard library's
    ``temporalio.core`` logger, so that they are JSON on stderr like the rest rather than coloured text on stdout
    (where they would break ``cutru -o json``). The levels are the SDK's defaults."""
    return LoggingConfig(filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                         forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")))


def forward_core_logs() -> None:
    """Make the default Temporal runtime forward the core's logs; call it before the process's first client."""
    Runtime.set_default(Runtime(telemetry=TelemetryConfig(logging=core_logging())), error_if_already_set=False)


def get_logger(**bound: Any) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger().bind(**bound)
    return logger
