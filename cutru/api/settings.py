"""The API's settings, from the environment only.

    CUTRU_API_HOST              bind address (default 127.0.0.1)
    CUTRU_API_PORT              port (default 8000)
    CUTRU_API_MAX_BODY_BYTES    largest request body accepted (default 1 MiB); a larger one gets 413
    CUTRU_API_MAX_BATCH         most submissions in one batch (default 500)
    CUTRU_API_PAGE_SIZE         items in a page when the caller gives no ``limit`` (default 50)
    CUTRU_API_MAX_PAGE_SIZE     largest ``limit`` accepted (default 500)
    CUTRU_API_RATE_PER_MINUTE   writes a minute per caller (token subject) and API process (default 60000; 0: none)
    CUTRU_API_RATE_BURST        writes a caller may save up and send at once (default 1000)
    CUTRU_API_DOSSIER_RATE_PER_MINUTE   writes a minute to one dossier per API process (default 60; 0: none)
    CUTRU_API_DOSSIER_RATE_BURST        writes to one dossier saved up (default 20)
    CUTRU_API_VERIFY_RATE_PER_MINUTE    document verifications a minute per client address (default 30; 0: none)
    CUTRU_API_VERIFY_RATE_BURST         verifications a client address may send at once (default 10)
    CUTRU_DESK_URL              the web desk's public address (scheme://host[:port]) when a proxy stands in front;
                                default: the address each request came to
    CUTRU_DESK_CLIENT_ID        the desk's OIDC client (default cutru-desk: public, authorization code + PKCE)
    CUTRU_DESK_CLIENT_SECRET    its secret, when the provider registers it as a confidential client
    CUTRU_DESK_IDLE_MINUTES     a desk session ends after this long without a request (default 30)
    CUTRU_DESK_SESSION_HOURS    and this long after sign-in in any case (default 10: a working day)

plus the attachment settings ``cutru.platform.storage`` reads (store, size limit, malware scanner), everything
``cutru.platform.config.load_settings`` reads (Temporal, DATABASE_URL, the task queue), the OIDC
settings ``cutru.platform.oidc.oidc_settings_from_env`` reads, the payload keys (CUTRU_PAYLOAD_KEYS or
CUTRU_PAYLOAD_KEY_FILE) and the decision keys that sign officers' decisions (CUTRU_DECISION_KEYS or
CUTRU_DECISION_KEY_FILE). The API refuses to start without an OIDC issuer, payload keys or decision keys: it is the
front door, and an open, unencrypted or unsigned front door is worse than none.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cutru.platform.codec import ENV_KEY_FILE, ENV_KEYS, KeyRing
from cutru.platform.config import ConfigError, Settings, load_settings
from cutru.platform.oidc import OidcSettings, oidc_settings_from_env
from cutru.platform.signing import DecisionKeyRing
from cutru.platform.storage import AttachmentSettings, attachment_settings_from_env

MIB = 1024 * 1024

_ENV = {
    "host": "CUTRU_API_HOST",
    "port": "CUTRU_API_PORT",
    "max_body_bytes": "CUTRU_API_MAX_BODY_BYTES",
    "max_batch": "CUTRU_API_MAX_BATCH",
    "page_size": "CUTRU_API_PAGE_SIZE",
    "max_page_size": "CUTRU_API_MAX_PAGE_SIZE",
    "rate_per_minute": "CUTRU_API_RATE_PER_MINUTE",
    "rate_burst": "CUTRU_API_RATE_BURST",
    "dossier_rate_per_minute": "CUTRU_API_DOSSIER_RATE_PER_MINUTE",
    "dossier_rate_burst": "CUTRU_API_DOSSIER_RATE_BURST",
    "verify_rate_per_minute": "CUTRU_API_VERIFY_RATE_PER_MINUTE",
    "verify_rate_burst": "CUTRU_API_VERIFY_RATE_BURST",
    "desk_url": "CUTRU_DESK_URL",
    "desk_client_id": "CUTRU_DESK_CLIENT_ID",
    "desk_client_secret": "CUTRU_DESK_CLIENT_SECRET",
    "desk_idle_minutes": "CUTRU_DESK_IDLE_MINUTES",
    "desk_session_hours": "CUTRU_DESK_SESSION_HOURS",
}


class ApiSettings(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_body_bytes: int = Field(default=MIB, ge=1024)
    max_batch: int = Field(default=500, ge=1, le=10_000)
    page_size: int = Field(default=50, ge=1)
    max_page_size: int = Field(default=500, ge=1)
    # Rate limits on writes (cutru/api/ratelimit.py), per API process. The caller's is generous: a portal backend
    # submits for a whole province, and the benchmark sends hundreds a second from one client.
    rate_per_minute: float = Field(default=60_000, ge=0)
    rate_burst: int = Field(default=1_000, ge=1)
    dossier_rate_per_minute: float = Field(default=60, ge=0)
    dossier_rate_burst: int = Field(default=20, ge=1)
    # The public verification, per client address: a person checks a document or two, a relying party's desk a
    # few a minute; walking the 2^50 codes at this pace is hopeless (docs/verification.md).
    verify_rate_per_minute: float = Field(default=30, ge=0)
    verify_rate_burst: int = Field(default=10, ge=1)
    # The web desk (cutru/api/desk): its OIDC client and how long a session lives.
    desk_url: str | None = Field(default=None, pattern=r"^https?://[^/?#]+$")
    desk_client_id: str = "cutru-desk"
    desk_client_secret: str | None = None
    desk_idle_minutes: float = Field(default=30, gt=0)
    desk_session_hours: float = Field(default=10, gt=0)
    core: Settings = Field(default_factory=Settings)
    attachments: AttachmentSettings = Field(default_factory=AttachmentSettings)
    # None only where nothing is verified: generating the OpenAPI document, or tests that inject a verifier.
    oidc: OidcSettings | None = None
    # None: DossierClient reads CUTRU_DECISION_KEYS itself (tests); load_api_settings always sets it.
    decision_keys: DecisionKeyRing | None = None


def load_api_settings() -> ApiSettings:
    """The environment's settings, or ConfigError (a one-line message naming the variable)."""
    oidc = oidc_settings_from_env()
    if oidc is None:
        raise ConfigError("the API needs an OpenID Connect issuer: set CUTRU_OIDC_ISSUER (and its audience)")
    if KeyRing.from_env() is None:
        raise ConfigError(f"the API needs payload keys: set {ENV_KEYS} or {ENV_KEY_FILE} "
                          "(`cutru codec generate-key` makes one)")
    decision_keys = DecisionKeyRing.from_env()  # DecisionKeyError, a ValueError, when missing or unusable
    values: dict[str, object] = {name: os.environ[var] for name, var in _ENV.items() if os.environ.get(var)}
    try:
        settings = ApiSettings.model_validate({**values, "core": load_settings(), "oidc": oidc,
                                                  "decision_keys": decision_keys,
                                                  "attachments": attachment_settings_from_env()})
    except ValidationError as error:
        raise ConfigError("invalid API settings: " + "; ".join(
            f"{_ENV.get(str(e['loc'][0]), str(e['loc'][0]))}: {e['msg']}" for e in error.errors())) from error
    if settings.page_size > settings.max_page_size:
        raise ConfigError("CUTRU_API_PAGE_SIZE is larger than CUTRU_API_MAX_PAGE_SIZE")
    return settings
