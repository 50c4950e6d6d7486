"""The ways a message leaves cutru: e-mail over SMTP, SMS through a brandname gateway's HTTP API.

Each adapter raises ``Undeliverable`` for what no retry can mend (an address the server refuses for good, a number
the gateway says is invalid) and any other error for what a retry may (the server down, a timeout, a 4xx reply).

The SMS gateway's shape is a Vietnamese brandname gateway's, modelled on eSMS.vn's JSON API
(``SendMultipleMessage_V4_post_json``): one POST per message with the account's ``ApiKey``/``SecretKey``, the
registered ``Brandname``, ``SmsType`` 2 (customer care), ``IsUnicode`` 0 and a ``RequestId`` the gateway refuses to
send twice (docs/notifications.md has the exchange; ``cutru_local.sms`` serves it locally).
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

SMS_PATH = "/MainService.svc/json/SendMultipleMessage_V4_post_json/"
# The gateway's CodeResult values cutru acts on.
SMS_SENT = "100"
SMS_DUPLICATE_REQUEST = "124"  # this RequestId was sent already: nothing to send again
SMS_INVALID_PHONE = "118"


class Undeliverable(RuntimeError):
    """The message can never be delivered as addressed: it is marked failed, not retried."""


class ChannelConfigError(ValueError):
    """A channel's variables are half set or invalid (the message names the variable)."""


class SmtpConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    host: str = Field(min_length=1)
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = Field(default="no-reply@dichvucong.gov.vn", pattern=r"^[^@\s]+@[^@\s]+$")
    sender_name: str = "Cổng dịch vụ công — Cư trú"
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    timeout: float = Field(default=10.0, gt=0)

    @property
    def domain(self) -> str:
        return self.sender.rpartition("@")[2]


class SmsConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    url: str = Field(pattern=r"^https?://", description="the gateway's base URL")
    api_key: str = Field(min_length=1)
    secret_key: SecretStr = Field(min_length=1)
    brandname: str = Field(default="CONGAN", min_length=1, max_length=11)
    timeout: float = Field(default=10.0, gt=0)


_Config = TypeVar("_Config", bound=BaseModel)

SMTP_ENV = {"host": "CUTRU_SMTP_HOST", "port": "CUTRU_SMTP_PORT", "sender": "CUTRU_SMTP_FROM",
            "username": "CUTRU_SMTP_USERNAME", "password": "CUTRU_SMTP_PASSWORD", "starttls": "CUTRU_SMTP_STARTTLS"}
SMS_ENV = {"url": "CUTRU_SMS_GATEWAY_URL", "api_key": "CUTRU_SMS_API_KEY", "secret_key": "CUTRU_SMS_SECRET_KEY",
           "brandname": "CUTRU_SMS_BRANDNAME"}


def config_from_env(model: type[_Config], variables: Mapping[str, str], environ: Mapping[str, str]
                    ) -> _Config | None:
    """The channel the variables configure, None when its first variable (the address) is unset."""
    values = {field: environ[var] for field, var in variables.items() if environ.get(var)}
    first = next(iter(variables))
    if first not in values:
        return None
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise ChannelConfigError(f"{variables[first]} is set but the channel is not usable: " + "; ".join(
            f"{variables.get(str(e['loc'][0]), str(e['loc'][0]))}: {e['msg']}" for e in error.errors())) from error


class SmtpMailer:
    """E-mail through an SMTP server (a relay of the ministry's mail system in production, aiosmtpd locally).

    The standard library's client, in a thread: one message per connection is what a dispatcher that sends a few
    messages a second needs, and it needs no further dependency."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    @property
    def domain(self) -> str:
        return self.config.domain

    def message(self, to: str, subject: str, body: str, message_id: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = formataddr((self.config.sender_name, self.config.sender))
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = message_id
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message.set_content(body)
        return message

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        config = self.config
        try:
            with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as smtp:
                if config.starttls:
                    smtp.starttls()
                if config.username and config.password:
                    smtp.login(config.username, config.password.get_secret_value())
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            if all(code >= 500 for code in codes):
                raise Undeliverable(f"the mail server refuses the address: {codes}") from error
            raise


class HttpSmsGateway:
    """SMS through the brandname gateway's HTTP API; ``send`` returns the gateway's message id."""

    def __init__(self, config: SmsConfig, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._http = http or httpx.AsyncClient(timeout=config.timeout)

    async def send(self, request_id: str, phone: str, text: str) -> str:
        body = {"ApiKey": self.config.api_key, "SecretKey": self.config.secret_key.get_secret_value(),
                "Brandname": self.config.brandname, "SmsType": "2", "IsUnicode": "0",
                "Phone": phone, "Content": text, "RequestId": request_id}
        response = await self._http.post(self.config.url.rstrip("/") + SMS_PATH, json=body)
        response.raise_for_status()
        answer: Any = response.json()
        code = str(answer.get("CodeResult")) if isinstance(answer, dict) else ""
        if code in (SMS_SENT, SMS_DUPLICATE_REQUEST):
            return str(answer.get("SMSID") or request_id)
        if code == SMS_INVALID_PHONE:
            raise Undeliverable(f"the SMS gateway says {phone[:4]}… is not a valid number")
        raise RuntimeError(f"the SMS gateway refused the message: CodeResult {code or answer!r}")

    async def aclose(self) -> None:
        await self._http.aclose()
