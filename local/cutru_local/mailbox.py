"""The local mail server: a real SMTP server (aiosmtpd) that files every message it accepts into a Maildir.

It stands for the ministry's mail relay in the local stack, the tests and the chaos campaign: cutru's e-mail
channel (``activities.channels.SmtpMailer``) talks SMTP to it, and what citizens would receive is in the Maildir,
one file per Message-ID. SMTP cannot promise a message once: a server that files a message and dies before its
250 reaches the sender gets it again at the sender's retry. cutru's outbox sends every message under a Message-ID
that is its idempotency key (dossier, step, channel), and this server, like a mail store that honours it, files a
repeated Message-ID once (it says so on stderr); the campaign counts what is filed by Message-ID.

    python -m cutru_local.mailbox --port 8025 --maildir .cutru/mailbox [--host 127.0.0.1]

It prints ``mail server on smtp://HOST:PORT`` on stderr once it accepts connections.
"""

from __future__ import annotations

import argparse
import mailbox
import signal
import sys
import threading
from collections import Counter
from email.message import Message
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


def _message_id(message: Message) -> str:
    """The Message-ID, unfolded (a long one arrives on a continuation line)."""
    return "".join(str(message["Message-ID"]).split())


class OncePerMessageId(Mailbox):
    """aiosmtpd's Maildir handler, filing each Message-ID once (those already in the Maildir count, across restarts)."""

    def __init__(self, maildir: Path) -> None:
        super().__init__(maildir)
        self._filed = set(message_ids(maildir))

    def handle_message(self, message: Message) -> None:
        key = _message_id(message)
        if key in self._filed:
            print(f"repeat of {key} accepted, not filed again", file=sys.stderr, flush=True)
            return
        super().handle_message(message)
        self._filed.add(key)


def controller(maildir: Path, port: int, host: str = "127.0.0.1") -> Controller:
    """The server, not yet started (``start()``, ``stop()``); messages go to ``maildir``."""
    maildir.parent.mkdir(parents=True, exist_ok=True)
    mailbox.Maildir(maildir, create=True)  # its tmp, new and cur directories
    return Controller(OncePerMessageId(maildir), hostname=host, port=port)


def message_ids(maildir: Path) -> Counter[str]:
    """How many times each Message-ID was filed."""
    if not maildir.exists():
        return Counter()
    return Counter(_message_id(message) for message in mailbox.Maildir(maildir, create=False))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", type=Path, default=Path(".cutru/mailbox"))
    args = parser.parse_args(argv)
    server = controller(args.maildir, args.port, args.host)
    server.start()
    print(f"mail server on smtp://{args.host}:{args.port}", file=sys.stderr, flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
