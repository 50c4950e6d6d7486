"""Payload encryption: the codec, key configuration, the data converter and the codec server."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import asyncpg
import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cutru_local.oidc import AUDITOR_ACCOUNT, OPERATOR_CLIENT, PORTAL_CLIENT
from cutru_local.seed import DEMO_OFFICER_ID
from google.protobuf import json_format
from pydantic import BaseModel
from temporalio.api.common.v1 import Payload

from cutru.platform.codec import (
    ENCODING,
    METADATA_KEY_ID,
    UNENCRYPTED_ENCODING,
    EncryptionCodec,
    KeyConfigError,
    KeyRing,
    PayloadDecryptionError,
    data_converter,
    is_encrypted,
    legacy_plaintext_converter,
    main,
    new_key_line,
    replay_converter,
    replay_converter_of,
    require_keyring,
)
from cutru.platform.oidc import TokenVerifier
from cutru.service.codec_server import build_app
from tests.oidc import (
    OidcProvider,
    client_credentials_token,
    expired_token,
    foreign_key_token,
    login_token,
    tampered_token,
    wrong_audience_token,
)

NAME = "Nguyễn Văn An"
PERSONAL_ID = "001203004567"
UI_ORIGIN = "http://localhost:8233"

Client = TestClient[web.Request, web.Application]


def json_payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


def key_entry(key_id: str, *, urlsafe: bool = True, size: int = 32) -> str:
    raw = secrets.token_bytes(size)
    encoded = base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)
    return f"{key_id}:{encoded.decode()}"


class Citizen(BaseModel):
    full_name: str
    personal_id: str
    birth_date: date
    address: str


# --- codec ---


async def test_round_trip_hides_personal_data() -> None:
    codec = EncryptionCodec(KeyRing.generate("k1"))
    originals = [
        json_payload(NAME),
        json_payload(PERSONAL_ID),
        Payload(metadata={"encoding": b"binary/null"}),
    ]

    encoded = await codec.encode(originals)

    assert len(encoded) == len(originals)
    for payload in encoded:
        assert payload.metadata["encoding"] == ENCODING
        assert payload.metadata[METADATA_KEY_ID] == b"k1"
        wire = payload.SerializeToString()
        assert NAME.encode() not in wire
        assert PERSONAL_ID.encode() not in wire
        assert b"json/plain" not in wire  # the original metadata is inside the ciphertext too
    assert await codec.decode(encoded) == originals


async def test_nonce_is_fresh_for_every_payload() -> None:
    codec = EncryptionCodec(KeyRing.generate("k1"))
    first, second = await codec.encode([json_payload(NAME), json_payload(NAME)])
    assert first.data != second.data
    assert first.data[:12] != second.data[:12]


async def test_unencrypted_payloads_become_an_empty_refusal_marker() -> None:
    """Fail closed: plaintext never reaches a workflow (it refuses the marker), nor is it echoed back."""
    codec = EncryptionCodec(KeyRing.generate("k1"))
    plain = [json_payload("hello"), Payload(metadata={"encoding": b"binary/plain"}, data=b"\x00\x01")]
    decoded = await codec.decode(plain)
    assert [p.metadata["encoding"] for p in decoded] == [UNENCRYPTED_ENCODING] * 2
    assert all(p.data == b"" for p in decoded)
    null = Payload(metadata={"encoding": b"binary/null"})
    assert await codec.decode([null]) == [null]  # the SDK's None carries nothing


async def test_unencrypted_payloads_pass_through_for_replays_and_the_web_ui() -> None:
    codec = EncryptionCodec(KeyRing.generate("k1"), plaintext="pass")
    plain = [json_payload("hello"), Payload(metadata={"encoding": b"binary/plain"}, data=b"\x00\x01")]
    assert await codec.decode(plain) == plain


async def test_unknown_key_id_names_the_key_and_the_fix() -> None:
    encoded = await EncryptionCodec(KeyRing.generate("retired")).encode([json_payload(NAME)])

    with pytest.raises(PayloadDecryptionError) as caught:
        await EncryptionCodec(KeyRing.generate("current")).decode(encoded)

    message = str(caught.value)
    assert "'retired'" in message
    assert "current" in message
    assert "CUTRU_PAYLOAD_KEYS" in message


async def test_wrong_key_material_and_tampering_are_detected() -> None:
    encoded = await EncryptionCodec(KeyRing.generate("k1")).encode([json_payload(NAME)])
    with pytest.raises(PayloadDecryptionError, match="authentication"):
        await EncryptionCodec(KeyRing.generate("k1")).decode(encoded)

    ring = KeyRing.generate("k1")
    [payload] = await EncryptionCodec(ring).encode([json_payload(NAME)])
    tampered = Payload()
    tampered.CopyFrom(payload)
    tampered.data = payload.data[:-1] + bytes([payload.data[-1] ^ 1])
    with pytest.raises(PayloadDecryptionError, match="altered"):
        await EncryptionCodec(ring).decode([tampered])


async def test_rotation_keeps_old_payloads_readable() -> None:
    old_ring = KeyRing.generate("k2024")
    old_payloads = await EncryptionCodec(old_ring).encode([json_payload(NAME)])

    new_ring = old_ring.rotate("k2025")
    assert new_ring.key_ids == ("k2025", "k2024")
    assert old_ring.key_ids == ("k2024",)  # rotation returns a new ring
    codec = EncryptionCodec(new_ring)

    assert await codec.decode(old_payloads) == [json_payload(NAME)]
    new_payloads = await codec.encode([json_payload(PERSONAL_ID)])
    assert new_payloads[0].metadata[METADATA_KEY_ID] == b"k2025"
    assert await codec.decode(new_payloads) == [json_payload(PERSONAL_ID)]


def test_keyring_is_immutable_and_never_shows_key_material() -> None:
    secret = secrets.token_bytes(32)
    ring = KeyRing([("k1", secret)])
    with pytest.raises(AttributeError):
        ring._keys = ()
    shown = repr(ring) + str(ring) + repr(ring._keys)
    assert "k1" in shown
    assert secret.hex() not in shown
    assert base64.b64encode(secret).decode() not in shown


def test_keyring_rejects_duplicates_and_bad_ids() -> None:
    with pytest.raises(KeyConfigError, match="twice"):
        KeyRing([("k1", secrets.token_bytes(32)), ("k1", secrets.token_bytes(32))])
    with pytest.raises(KeyConfigError, match="invalid key id"):
        KeyRing([("bad id", secrets.token_bytes(32))])
    with pytest.raises(KeyConfigError, match="at least one key"):
        KeyRing([])


# --- key configuration ---


def test_from_env_unset_means_encryption_off() -> None:
    assert KeyRing.from_env({}) is None
    assert KeyRing.from_env({"CUTRU_PAYLOAD_KEYS": "  "}) is None


def test_from_env_inline_keys_in_order() -> None:
    env = {"CUTRU_PAYLOAD_KEYS": f"{key_entry('new')}, {key_entry('old', urlsafe=False)}"}
    ring = KeyRing.from_env(env)
    assert ring is not None
    assert ring.active_key_id == "new"
    assert ring.key_ids == ("new", "old")


def test_from_env_accepts_unpadded_base64() -> None:
    ring = KeyRing.from_env({"CUTRU_PAYLOAD_KEYS": key_entry("k1").rstrip("=")})
    assert ring is not None and ring.key_ids == ("k1",)


def test_from_env_key_file_with_comments(tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text(
        f"# cutru payload keys, newest first\n{key_entry('k3')}\n\n{key_entry('k2')}  # rotated out in June\n"
    )
    ring = KeyRing.from_env({"CUTRU_PAYLOAD_KEY_FILE": str(key_file)})
    assert ring is not None
    assert ring.key_ids == ("k3", "k2")


def test_from_env_bad_base64_is_a_clear_error_without_the_key() -> None:
    bad = "k1:not*base64!!"
    with pytest.raises(KeyConfigError) as caught:
        KeyRing.from_env({"CUTRU_PAYLOAD_KEYS": bad})
    message = str(caught.value)
    assert "CUTRU_PAYLOAD_KEYS" in message
    assert "'k1'" in message and "base64" in message
    assert "generate-key" in message
    assert "not*base64" not in message


def test_from_env_wrong_key_length_is_a_clear_error_without_the_key() -> None:
    entry = key_entry("short", size=16)
    with pytest.raises(KeyConfigError) as caught:
        KeyRing.from_env({"CUTRU_PAYLOAD_KEYS": f"{key_entry('ok')},{entry}"})
    message = str(caught.value)
    assert "entry 2" in message
    assert "16 bytes" in message and "32" in message
    assert entry.split(":", 1)[1] not in message


def test_from_env_file_errors_point_at_the_line(tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text(f"{key_entry('k1')}\nk2-without-separator\n")
    with pytest.raises(KeyConfigError, match=r"line 2: expected keyid:base64key"):
        KeyRing.from_env({"CUTRU_PAYLOAD_KEY_FILE": str(key_file)})

    empty = tmp_path / "empty"
    empty.write_text("# nothing yet\n")
    with pytest.raises(KeyConfigError, match="no keys"):
        KeyRing.from_env({"CUTRU_PAYLOAD_KEY_FILE": str(empty)})

    with pytest.raises(KeyConfigError, match="cannot read"):
        KeyRing.from_env({"CUTRU_PAYLOAD_KEY_FILE": str(tmp_path / "missing")})


def test_from_env_refuses_both_sources(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError, match="only one"):
        KeyRing.from_env({"CUTRU_PAYLOAD_KEYS": key_entry("k1"), "CUTRU_PAYLOAD_KEY_FILE": str(tmp_path)})


def test_generate_key_command_prints_a_loadable_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate-key", "--id", "k2025-06"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("k2025-06:")
    ring = KeyRing.from_env({"CUTRU_PAYLOAD_KEYS": line})
    assert ring is not None and ring.active_key_id == "k2025-06"

    default_ring = KeyRing.from_env({"CUTRU_PAYLOAD_KEYS": new_key_line()})
    assert default_ring is not None and default_ring.active_key_id.startswith("k")


# --- data converter ---


async def test_data_converter_round_trips_a_model_encrypted() -> None:
    citizen = Citizen(
        full_name=NAME, personal_id=PERSONAL_ID, birth_date=date(2003, 4, 5), address="12 Hàng Bạc, Hà Nội"
    )
    converter = data_converter(KeyRing.generate("k1"))

    payloads = await converter.encode([citizen])

    assert all(p.metadata["encoding"] == ENCODING for p in payloads)
    wire = b"".join(p.SerializeToString() for p in payloads)
    assert NAME.encode() not in wire and PERSONAL_ID.encode() not in wire
    assert await converter.decode(payloads, [Citizen]) == [citizen]


def test_data_converter_refuses_to_run_without_keys() -> None:
    with pytest.raises(KeyConfigError, match="generate-key"):
        data_converter(None)  # type: ignore[arg-type]
    with pytest.raises(KeyConfigError, match=r"CUTRU_PAYLOAD_KEYS is not set.*generate-key"):
        require_keyring({})
    assert is_encrypted(data_converter(KeyRing.generate("k1")))
    assert not is_encrypted(replay_converter(KeyRing.generate("k1")))


async def test_the_legacy_converter_is_plain_pydantic() -> None:
    converter = legacy_plaintext_converter()
    assert converter.payload_codec is None and replay_converter(None) is converter
    [payload] = await converter.encode(
        [Citizen(full_name=NAME, personal_id=PERSONAL_ID, birth_date=date(2003, 4, 5), address="Huế")]
    )
    assert payload.metadata["encoding"] == b"json/plain"


# --- codec server ---


@pytest.fixture
def keyring() -> KeyRing:
    return KeyRing.generate("k1")


@pytest.fixture
async def verifier(oidc_provider: OidcProvider) -> AsyncIterator[TokenVerifier]:
    verifier = await TokenVerifier.discover(oidc_provider.settings)
    yield verifier
    await verifier.aclose()


@pytest.fixture
async def client(keyring: KeyRing, verifier: TokenVerifier, oidc_provider: OidcProvider,
                 pool: asyncpg.Pool) -> AsyncIterator[Client]:
    """An operator's client of the codec server (the server verifies with the real local OIDC provider)."""
    token = client_credentials_token(oidc_provider, OPERATOR_CLIENT)
    async with TestClient(TestServer(build_app(keyring, verifier, pool)),
                          headers={"Authorization": f"Bearer {token}"}) as test_client:
        yield test_client


def as_json(payloads: list[Payload]) -> dict[str, object]:
    return {"payloads": [json_format.MessageToDict(p) for p in payloads]}


def from_json(body: dict[str, list[dict[str, object]]]) -> list[Payload]:
    return [json_format.ParseDict(p, Payload()) for p in body["payloads"]]


async def test_codec_server_encode_then_decode(client: Client, keyring: KeyRing) -> None:
    originals = [json_payload(NAME), json_payload(PERSONAL_ID)]

    response = await client.post("/encode", json=as_json(originals))
    assert response.status == 200
    encoded_body = await response.json()
    encoded = from_json(encoded_body)
    assert all(p.metadata["encoding"] == ENCODING for p in encoded)
    assert PERSONAL_ID not in await response.text()

    # What the server encoded is what a worker with the same keys would decode, and vice versa.
    assert await EncryptionCodec(keyring).decode(encoded) == originals
    response = await client.post("/decode", json=encoded_body, headers={"X-Namespace": "default"})
    assert response.status == 200
    assert from_json(await response.json()) == originals

    response = await client.post("/default/decode", json=encoded_body)
    assert from_json(await response.json()) == originals


async def test_a_decode_records_the_dossiers_its_payloads_name(client: Client, keyring: KeyRing,
                                                                pool: asyncpg.Pool) -> None:
    code = f"HS-CODEC-{secrets.token_hex(4).upper()}"
    trail = Payload(metadata={"encoding": b"json/plain"},
                    data=json.dumps({"records": [{"dossier_code": code, "entry": {"actor": NAME}}]}).encode())
    encoded = await EncryptionCodec(keyring).encode([trail, json_payload(NAME)])
    response = await client.post("/decode", json=as_json(encoded), headers={"X-Namespace": "default"})
    assert response.status == 200
    rows = await pool.fetch("SELECT subject, channel, details FROM personal_data_reads WHERE dossier_code = $1", code)
    assert [(r["subject"], r["channel"], json.loads(r["details"])["payloads"]) for r in rows] == [
        (OPERATOR_CLIENT, "codec", 2)]


async def test_codec_server_shows_payloads_recorded_in_clear_as_they_are(client: Client) -> None:
    plain = [json_payload(NAME)]  # a history from before encryption was mandatory
    response = await client.post("/decode", json=as_json(plain))
    assert response.status == 200
    assert from_json(await response.json()) == plain


async def test_a_replay_converter_of_a_process_has_its_keys_and_takes_plaintext() -> None:
    keys = KeyRing.generate("k1")
    own = data_converter(keys)
    [encrypted] = await own.encode([NAME])
    replaying = replay_converter_of(own)
    assert not is_encrypted(replaying)
    [plain] = await legacy_plaintext_converter().encode([NAME])
    assert await replaying.decode([encrypted, plain], [str, str]) == [NAME, NAME]
    assert replay_converter_of(legacy_plaintext_converter()) is legacy_plaintext_converter()


async def test_codec_server_errors(client: Client) -> None:
    response = await client.post("/decode", data=b"not json")
    assert response.status == 400

    foreign = await EncryptionCodec(KeyRing.generate("other")).encode([json_payload(NAME)])
    response = await client.post("/decode", json=as_json(foreign))
    assert response.status == 400
    assert "'other'" in (await response.json())["error"]

    response = await client.post("/decode", json={"payloads": []})
    assert await response.json() == {"payloads": []}

    response = await client.get("/healthz")
    assert response.status == 200 and await response.text() == "ok"


async def test_codec_server_cors_preflight(client: Client) -> None:
    response = await client.options(
        "/decode",
        headers={
            "Origin": UI_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace",
        },
    )
    assert response.status in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == UI_ORIGIN
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip() for h in response.headers["Access-Control-Allow-Headers"].lower().split(",")}
    assert {"content-type", "x-namespace", "authorization"} <= allowed

    response = await client.post("/decode", json={"payloads": []}, headers={"Origin": UI_ORIGIN})
    assert response.headers["Access-Control-Allow-Origin"] == UI_ORIGIN

    response = await client.options(
        "/decode", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_codec_server_needs_an_operator_or_auditor_token(
    keyring: KeyRing, verifier: TokenVerifier, oidc_provider: OidcProvider, pool: asyncpg.Pool
) -> None:
    app = build_app(keyring, verifier, pool, allowed_origins=["https://ui.cutru.example"])
    subject_reads = "SELECT count(*) FROM personal_data_reads WHERE channel = 'codec' AND subject = $1"
    refused_before = await pool.fetchval(subject_reads, DEMO_OFFICER_ID)
    async with TestClient(TestServer(app)) as client:
        encoded = as_json(await EncryptionCodec(keyring).encode([json_payload(NAME)]))

        response = await client.post("/decode", json=encoded)
        assert response.status == 401
        assert NAME not in await response.text()

        for refused in ("wrong", expired_token(oidc_provider), wrong_audience_token(oidc_provider),
                        tampered_token(client_credentials_token(oidc_provider, OPERATOR_CLIENT)),
                        foreign_key_token(oidc_provider)):
            response = await client.post("/decode", json=encoded, headers={"Authorization": f"Bearer {refused}"})
            assert response.status == 401
            assert NAME not in await response.text()
        # Valid tokens of other roles: the portal, an officer.
        others = (client_credentials_token(oidc_provider, PORTAL_CLIENT), login_token(oidc_provider, DEMO_OFFICER_ID))
        for other in others:
            response = await client.post("/decode", json=encoded, headers={"Authorization": f"Bearer {other}"})
            assert response.status == 403
            assert NAME not in await response.text()

        # The preflight carries no credentials and must still succeed, with CORS headers on the 401 too.
        response = await client.options(
            "/decode",
            headers={"Origin": "https://ui.cutru.example", "Access-Control-Request-Method": "POST"},
        )
        assert response.status in (200, 204)
        response = await client.post("/decode", json=encoded, headers={"Origin": "https://ui.cutru.example"})
        assert response.status == 401
        assert response.headers["Access-Control-Allow-Origin"] == "https://ui.cutru.example"

        auditor = login_token(oidc_provider, AUDITOR_ACCOUNT)
        with structlog.testing.capture_logs() as logs:
            response = await client.post("/cutru-prod/decode", json=encoded,
                                         headers={"Authorization": f"Bearer {auditor}"})
        assert response.status == 200
        assert from_json(await response.json()) == [json_payload(NAME)]
        # Who decoded how much, where: one record for the one successful decode.
        [record] = [line for line in logs if line["event"] == "payloads decoded"]
        assert (record["subject"], record["namespace"], record["payloads"], record["roles"]) == (
            AUDITOR_ACCOUNT, "cutru-prod", 1, ["auditor"])
        assert record["token_id"] and NAME not in str(record)
        # And in the database, where the auditors' trail reads it: no dossier named, so none recorded.
        row = await pool.fetchrow("SELECT dossier_code, roles, operation, details FROM personal_data_reads"
                                  " WHERE channel = 'codec' AND subject = $1 ORDER BY read_id DESC LIMIT 1",
                                  AUDITOR_ACCOUNT)
        assert (row["dossier_code"], row["roles"], row["operation"]) == (None, ["auditor"], "decode")
        assert json.loads(row["details"])["namespace"] == "cutru-prod" and NAME not in row["details"]
        assert await pool.fetchval(subject_reads, DEMO_OFFICER_ID) == refused_before  # the refused one: none

        assert (await client.get("/healthz")).status == 200
