"""The local mail server files a Message-ID once, also after a restart: a sender's retry after a lost 250 is not a
second message in the citizen's mailbox."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

from cutru_local.mailbox import controller, message_ids

from tests.cli import closed_port


def _send(port: int, message_id: str, subject: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "cutru@bocongan.gov.vn", "dan@example.vn", subject
    message["Message-ID"] = message_id
    message.set_content("Hồ sơ của bạn đã được tiếp nhận.")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message)


def test_a_repeated_message_id_is_filed_once_across_a_restart(tmp_path: Path) -> None:
    maildir = tmp_path / "mailbox"
    for round_ in range(2):  # the second round is a restarted server over the same Maildir
        port = closed_port()
        server = controller(maildir, port)
        server.start()
        try:
            _send(port, "<HS-1.accepted.email@cutru>", f"lần {round_}")
            _send(port, f"<HS-{round_ + 2}.accepted.email@cutru>", "khác")
        finally:
            server.stop()
    assert message_ids(maildir) == {"<HS-1.accepted.email@cutru>": 1, "<HS-2.accepted.email@cutru>": 1,
                                    "<HS-3.accepted.email@cutru>": 1}
