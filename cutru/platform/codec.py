"""Encryption of personal data in Temporal payloads.

Every workflow and activity argument, result, memo and failure detail leaves the worker as an AES-256-GCM
ciphertext, so the Temporal server, its database and anyone with read access to histories see no names,
ID numbers or addresses. Keys carry an id that is written next to each ciphertext: the first key of a
``KeyRing`` encrypts, all of them decrypt, so a key is rotated by putting a new one in front and keeping the
old ones until no running workflow still references them.

Keys come from the environment (``KeyRing.from_env``)::

    CUTRU_PAYLOAD_KEYS=k2025b:BASE64KEY,k2025a:BASE64KEY   # newest first
    CUTRU_PAYLOAD_KEY_FILE=/run/secrets/cutru-payload-keys  # same entries, one per line, '#' comments

``python -m cutru.platform.codec generate-key [--id ID]`` prints a fresh entry.

Encryption fails closed: ``data_converter`` needs a key ring (``require_keyring`` says how to get one), and its codec
does not pass a payload that arrived unencrypted (``temporal workflow start --input-file``) through to the workflow:
it hands over an empty marker payload (``UNENCRYPTED_ENCODING``), which a dossier refuses as invalid at once and a
signal or update cannot decode (a signal is dropped, an update rejected). ``replay_converter`` reads histories
recorded before encryption became mandatory: replays and read-only tools only.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from cutru.platform.keytool import generate_key_main, key_setting

ENV_KEYS = "CUTRU_PAYLOAD_KEYS"
ENV_KEY_FILE = "CUTRU_PAYLOAD_KEY_FILE"

ENCODING = b"binary/encrypted"
# What an unencrypted incoming payload becomes (the workflows know it: workflows.lifecycle.UNENCRYPTED_ENCODING).
UNENCRYPTED_ENCODING = b"binary/unencrypted-refused"
# Payloads that carry nothing personal and that the SDK makes itself (None): taken as they come.
PASSED_ENCODINGS = frozenset({b"binary/null"})
METADATA_ENCODING = "encoding"
METADATA_KEY_ID = "encryption-key-id"

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the GCM standard nonce; random per payload, so a key may encrypt ~2^32 payloads safely

# Key ids travel in payload metadata and in the ``id:key`` env format, so ':' ',' '#' and spaces are excluded.
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

_HOW_TO = (
    f"Generate a key with `python -m cutru.platform.codec generate-key` and set {ENV_KEYS}=keyid:base64key "
    f"(several comma-separated, the active key first) or {ENV_KEY_FILE}=/path/to/file "
    "(one keyid:base64key per line)."
)


class KeyConfigError(ValueError):
    """The key configuration is unusable. The message says what to fix and never contains key material."""


class PayloadDecryptionError(ValueError):
    """An encrypted payload cannot be decrypted with this key ring."""


@dataclasses.dataclass(frozen=True)
class _Key:
    key_id: str
    # Only the cipher object is kept, not the raw bytes, and it stays out of repr: printing cannot leak a key.
    aead: AESGCM = dataclasses.field(repr=False, compare=False)


def _make_key(key_id: str, secret: bytes, where: str = "") -> _Key:
    prefix = f"{where}: " if where else ""
    if not _KEY_ID.fullmatch(key_id):
        raise KeyConfigError(
            f"{prefix}invalid key id {key_id!r}: use 1-64 characters from letters, digits, '.', '_' and '-', "
            "starting with a letter or digit."
        )
    if len(secret) != KEY_BYTES:
        raise KeyConfigError(
            f"{prefix}key {key_id!r} is {len(secret)} bytes but AES-256 needs {KEY_BYTES} bytes. {_HOW_TO}"
        )
    return _Key(key_id, AESGCM(secret))


def _decode_base64(text: str) -> bytes:
    # Accept both alphabets and missing padding: operators paste keys from different tools.
    normalized = text.strip().replace("-", "+").replace("_", "/")
    normalized += "=" * (-len(normalized) % 4)
    return base64.b64decode(normalized, validate=True)


def _parse_entry(entry: str, where: str) -> _Key:
    key_id, sep, encoded = entry.partition(":")
    key_id = key_id.strip()
    if not sep or not key_id or not encoded.strip():
        # The entry itself is not echoed: a mistyped entry may still be a secret.
        raise KeyConfigError(f"{where}: expected keyid:base64key. {_HOW_TO}")
    try:
        secret = _decode_base64(encoded)
    except (binascii.Error, ValueError):
        raise KeyConfigError(
            f"{where}: key {key_id!r} is not valid base64 (standard or urlsafe). {_HOW_TO}"
        ) from None
    return _make_key(key_id, secret, where)


class KeyRing:
    """AES-256 keys by id. The first key is active (encrypts); every key decrypts. Immutable."""

    __slots__ = ("_keys", "_by_id")
    _keys: tuple[_Key, ...]
    _by_id: dict[str, _Key]

    def __init__(self, keys: Iterable[tuple[str, bytes]]) -> None:
        """Build from ``(key_id, 32-byte key)`` pairs, active key first."""
        self._init(tuple(_make_key(key_id, secret) for key_id, secret in keys))

    def _init(self, keys: tuple[_Key, ...]) -> None:
        if not keys:
            raise KeyConfigError(f"a key ring needs at least one key. {_HOW_TO}")
        by_id: dict[str, _Key] = {}
        for key in keys:
            if key.key_id in by_id:
                raise KeyConfigError(f"key id {key.key_id!r} appears twice; every key needs its own id.")
            by_id[key.key_id] = key
        object.__setattr__(self, "_keys", keys)
        object.__setattr__(self, "_by_id", by_id)

    @classmethod
    def _from_keys(cls, keys: tuple[_Key, ...]) -> KeyRing:
        ring = cls.__new__(cls)
        ring._init(keys)
        return ring

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("KeyRing is immutable; use rotate() to get a new one")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("KeyRing is immutable")

    def __repr__(self) -> str:
        return f"KeyRing(key_ids={self.key_ids!r})"

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._by_id

    @property
    def active_key_id(self) -> str:
        return self._keys[0].key_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(key.key_id for key in self._keys)

    @classmethod
    def generate(cls, key_id: str) -> KeyRing:
        """A ring with one fresh random key (tests, local development)."""
        return cls([(key_id, secrets.token_bytes(KEY_BYTES))])

    def rotate(self, key_id: str, key: bytes | None = None) -> KeyRing:
        """A new ring with ``key`` (random if omitted) in front as the active key; old keys still decrypt."""
        new = _make_key(key_id, key if key is not None else secrets.token_bytes(KEY_BYTES))
        return KeyRing._from_keys((new, *self._keys))

    @classmethod
    def parse(cls, text: str, source: str) -> KeyRing:
        """Entries ``keyid:base64key`` separated by commas or newlines; ``#`` starts a comment.

        ``source`` names where the text came from, for error messages.
        """
        keys: list[_Key] = []
        lines = text.splitlines()
        for line_no, line in enumerate(lines, start=1):
            entries = [entry for entry in line.split("#", 1)[0].split(",") if entry.strip()]
            for entry_no, entry in enumerate(entries, start=1):
                where = f"{source} line {line_no}" if len(lines) > 1 else source
                if len(entries) > 1:
                    where += f" entry {entry_no}"
                keys.append(_parse_entry(entry, where))
        if not keys:
            raise KeyConfigError(f"{source} contains no keys. {_HOW_TO}")
        return cls._from_keys(tuple(keys))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> KeyRing | None:
        """The ring from ``CUTRU_PAYLOAD_KEYS`` or ``CUTRU_PAYLOAD_KEY_FILE``; None when neither is set.

        None means encryption is off; whether that is acceptable is the caller's decision.
        """
        found = key_setting(environ, ENV_KEYS, ENV_KEY_FILE, KeyConfigError)
        return cls.parse(*found) if found is not None else None

    def encrypt(self, plaintext: bytes) -> tuple[str, bytes]:
        """Encrypt with the active key; returns ``(key_id, nonce + ciphertext)``."""
        key = self._keys[0]
        nonce = secrets.token_bytes(NONCE_BYTES)
        return key.key_id, nonce + key.aead.encrypt(nonce, plaintext, None)

    def decrypt(self, key_id: str, blob: bytes) -> bytes:
        """Decrypt ``nonce + ciphertext`` produced by ``encrypt`` with the key named ``key_id``."""
        key = self._by_id.get(key_id)
        if key is None:
            raise PayloadDecryptionError(
                f"payload was encrypted with key id {key_id!r}, which is not in this key ring "
                f"(known ids: {', '.join(self.key_ids)}). Add that key after the active one in "
                f"{ENV_KEYS} or {ENV_KEY_FILE}; keys must stay available until no workflow history uses them."
            )
        if len(blob) < NONCE_BYTES + 16:
            raise PayloadDecryptionError(f"encrypted payload (key id {key_id!r}) is truncated.")
        try:
            return key.aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], None)
        except InvalidTag:
            raise PayloadDecryptionError(
                f"payload failed authentication with key id {key_id!r}: the configured key for that id is "
                "not the one it was encrypted with, or the payload was altered."
            ) from None


class EncryptionCodec(PayloadCodec):
    """Encrypts each whole payload (metadata included) into a new ``binary/encrypted`` payload.

    ``plaintext`` says what decoding does with a payload that is not encrypted: ``refuse`` (the worker, the API,
    every client that writes) replaces it by the empty ``UNENCRYPTED_ENCODING`` marker; ``pass`` (replays of
    histories from before encryption was mandatory, the Web UI's codec server) returns it as it is."""

    def __init__(self, keyring: KeyRing, *, plaintext: Literal["refuse", "pass"] = "refuse") -> None:
        self.keyring = keyring
        self.plaintext = plaintext

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(payload) for payload in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        # Serializing the whole proto also hides the original metadata (encoding, message type).
        key_id, blob = self.keyring.encrypt(payload.SerializeToString())
        return Payload(
            metadata={METADATA_ENCODING: ENCODING, METADATA_KEY_ID: key_id.encode()},
            data=blob,
        )

    def _decrypt(self, payload: Payload) -> Payload:
        encoding = payload.metadata.get(METADATA_ENCODING)
        if encoding != ENCODING:
            if self.plaintext == "pass" or encoding in PASSED_ENCODINGS:
                return payload
            # Not raised: an error here would fail the workflow task again on every attempt.
            return Payload(metadata={METADATA_ENCODING: UNENCRYPTED_ENCODING})
        raw_key_id = payload.metadata.get(METADATA_KEY_ID)
        if raw_key_id is None:
            raise PayloadDecryptionError(f"encrypted payload has no {METADATA_KEY_ID!r} metadata.")
        key_id = raw_key_id.decode("utf-8", errors="replace")
        plaintext = self.keyring.decrypt(key_id, payload.data)
        try:
            return Payload.FromString(plaintext)
        except DecodeError:
            raise PayloadDecryptionError(
                f"payload decrypted with key id {key_id!r} does not contain a Temporal payload."
            ) from None


def require_keyring(environ: Mapping[str, str] = os.environ) -> KeyRing:
    """The payload keys of a process that writes to Temporal (worker, API, clients): refuses to go on without."""
    keyring = KeyRing.from_env(environ)
    if keyring is None:
        raise KeyConfigError(f"{ENV_KEYS} is not set: cutru does not run without payload encryption. {_HOW_TO}")
    return keyring


def data_converter(keyring: KeyRing) -> DataConverter:
    """The project's data converter: pydantic JSON, encrypted; what arrives unencrypted is refused (see above).

    Failure messages and stack traces are moved into the encrypted attributes as well, because an exception
    message can quote a name or an ID number.
    """
    if keyring is None:
        raise KeyConfigError(f"no payload keys: cutru does not run without payload encryption. {_HOW_TO}")
    return _encrypted(EncryptionCodec(keyring))


def replay_converter(keyring: KeyRing | None) -> DataConverter:
    """For replaying and reading histories only: decrypts what is encrypted and takes plaintext as it is, so that
    histories recorded before encryption became mandatory still replay. Never for a worker or a writing client."""
    if keyring is None:
        return legacy_plaintext_converter()
    return _encrypted(EncryptionCodec(keyring, plaintext="pass"))


def replay_converter_of(converter: DataConverter) -> DataConverter:
    """``replay_converter`` with the keys of a process's own converter (the API's auditors' replay)."""
    codec = converter.payload_codec
    return replay_converter(codec.keyring if isinstance(codec, EncryptionCodec) else None)


def keyring_of(converter: DataConverter) -> KeyRing:
    """The keys of a process's own (encrypting) converter: what the API encrypts the submissions it holds with."""
    codec = converter.payload_codec
    if not isinstance(codec, EncryptionCodec):
        raise KeyConfigError(f"the converter does not encrypt: cutru keeps no personal data in clear. {_HOW_TO}")
    return codec.keyring


class SharedPydanticPayloadConverter(PydanticPayloadConverter):
    """The SDK's pydantic payload converter, its parts made once per process.

    The SDK makes a payload converter from the class for every workflow activation and activity (``DataConverter``
    is copied with each serialization context), and a new ``PydanticPayloadConverter`` brings an empty cache of
    ``TypeAdapter``s, so each payload's adapter was built again every time. Every instance of this class holds the
    same parts (the converters by encoding, the JSON converter with its cache), which none of them changes: these
    carry no serialization context. A nullary class, as the SDK requires."""

    _parts: dict[str, Any] | None = None

    def __init__(self) -> None:
        parts = type(self)._parts
        if parts is None:
            super().__init__()
            type(self)._parts = dict(vars(self))
        else:
            vars(self).update(parts)


PLAINTEXT = DataConverter(payload_converter_class=SharedPydanticPayloadConverter)


def legacy_plaintext_converter() -> DataConverter:
    """Pydantic JSON without encryption: replays of histories recorded in clear, and tools that only read them."""
    return PLAINTEXT


def is_encrypted(converter: DataConverter) -> bool:
    """Whether a converter encrypts and refuses plaintext: what a worker insists on."""
    codec = converter.payload_codec
    return isinstance(codec, EncryptionCodec) and codec.plaintext == "refuse"


def _encrypted(codec: EncryptionCodec) -> DataConverter:
    return dataclasses.replace(
        PLAINTEXT,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def new_key_line(key_id: str | None = None) -> str:
    """A fresh ``keyid:base64key`` entry; the default id is dated so rotations sort and read naturally."""
    if key_id is None:
        key_id = f"k{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(2)}"
    secret = secrets.token_bytes(KEY_BYTES)
    _make_key(key_id, secret)  # validates the id before anything is printed
    return f"{key_id}:{base64.urlsafe_b64encode(secret).decode()}"


def main(argv: Sequence[str] | None = None) -> int:
    return generate_key_main(argv, prog="python -m cutru.platform.codec",
                             description="Payload encryption keys.", id_default="k<date>-<random>",
                             new_key_line=new_key_line, refused=KeyConfigError)


if __name__ == "__main__":
    raise SystemExit(main())
