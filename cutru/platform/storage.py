"""Where attachments live: a content-addressed store (the key is the file's SHA-256), behind one interface, and the
malware scan every upload passes before it is stored.

    CUTRU_ATTACHMENT_STORE       file:///var/lib/cutru/attachments (default: the state directory's attachments/)
                                 or s3://bucket/optional/prefix
    CUTRU_S3_ENDPOINT_URL        an S3-compatible endpoint (MinIO, Ceph, a Vietnamese cloud); unset: AWS
    CUTRU_ATTACHMENT_MAX_BYTES   the largest file accepted (default 10 MiB)
    CUTRU_CLAMD_ADDRESS          tcp://host:3310 or unix:///run/clamav/clamd.ctl: scan with ClamAV's clamd;
                                 unset: the built-in scanner, which knows only the EICAR test file

S3 credentials and region come from boto3's own chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, an
instance role). boto3 is AWS's reference SDK, and speaks the same protocol to every S3-compatible server.

An upload is spooled to a file in ``staging`` (never held in memory), checked there, and only then committed: a
rename into place (files) or one PUT carrying its SHA-256 checksum (S3), so that a store holds whole, verified
files or nothing.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import tempfile
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from activities.files import make_directories, make_durable
from cutru.platform.config import STATE_DIR, ConfigError

CHUNK = 64 * 1024
MIB = 1024 * 1024

_ENV = {
    "store": "CUTRU_ATTACHMENT_STORE",
    "s3_endpoint_url": "CUTRU_S3_ENDPOINT_URL",
    "max_bytes": "CUTRU_ATTACHMENT_MAX_BYTES",
    "clamd_address": "CUTRU_CLAMD_ADDRESS",
}


class AttachmentSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    store: str = (STATE_DIR / "attachments").as_uri()
    s3_endpoint_url: str | None = None
    max_bytes: int = Field(default=10 * MIB, ge=1024, le=1024 * MIB)
    clamd_address: str | None = None


def attachment_settings_from_env() -> AttachmentSettings:
    values = {field: os.environ[var] for field, var in _ENV.items() if os.environ.get(var)}
    try:
        return AttachmentSettings.model_validate(values)
    except ValueError as error:
        raise ConfigError(f"invalid attachment settings ({', '.join(_ENV.values())}): {error}") from error


class StoreError(Exception):
    """The store could not take or give a file (unreachable, refused the checksum): the upload is not stored."""


class BlobStore(Protocol):
    """Files by SHA-256. ``commit`` is idempotent: the same content committed twice is stored once."""

    @property
    def staging(self) -> Path:
        """A local directory for spooling uploads before they are committed."""

    async def commit(self, staged: Path, sha256: str, media_type: str, size: int) -> None:
        """Store ``staged`` (whose SHA-256 and size the caller computed) under ``sha256``; ``staged`` is gone after."""

    async def exists(self, sha256: str) -> bool: ...

    def read(self, sha256: str) -> AsyncIterator[bytes]:
        """The file's bytes, a chunk at a time."""

    async def delete(self, sha256: str) -> None:
        """Remove the file; nothing happens when it is not there."""


class _Readable(Protocol):
    def read(self, size: int) -> bytes: ...

    def close(self) -> None: ...


async def _chunks(source: _Readable) -> AsyncIterator[bytes]:
    """A blocking file-like object's bytes, a chunk at a time off the event loop; closed at the end."""
    try:
        while chunk := await asyncio.to_thread(source.read, CHUNK):
            yield chunk
    finally:
        source.close()


class FileStore:
    """A directory: ``<root>/<first two hex digits>/<sha256>``; uploads are spooled in ``<root>/.staging`` so that
    committing is a rename on the same file system (atomic: a reader sees all of a file or none of it)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._staging = root / ".staging"
        self._staging.mkdir(parents=True, exist_ok=True)

    @property
    def staging(self) -> Path:
        return self._staging

    def _path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    async def commit(self, staged: Path, sha256: str, media_type: str, size: int) -> None:
        await asyncio.to_thread(self._commit, staged, self._path(sha256), size)

    @staticmethod
    def _commit(staged: Path, target: Path, size: int) -> None:
        actual = staged.stat().st_size
        if actual != size:
            staged.unlink()
            raise StoreError(f"{staged} holds {actual} bytes, not {size}")
        existed = make_directories(target.parent)
        os.replace(staged, target)
        make_durable(target, existed)

    async def exists(self, sha256: str) -> bool:
        return await asyncio.to_thread(self._path(sha256).is_file)

    async def read(self, sha256: str) -> AsyncIterator[bytes]:
        async for chunk in _chunks(await asyncio.to_thread(self._path(sha256).open, "rb")):
            yield chunk

    async def delete(self, sha256: str) -> None:
        await asyncio.to_thread(self._path(sha256).unlink, missing_ok=True)


class S3Store:
    """A bucket of an S3-compatible object store; the key is ``<prefix><sha256>``.

    One PUT per file (uploads are at most ``max_bytes``): S3 writes an object whole or not at all, and with the
    ``x-amz-checksum-sha256`` header it refuses a body whose SHA-256 differs from the one computed while spooling."""

    def __init__(self, client: Any, bucket: str, prefix: str = "", staging: Path | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self._staging = staging or Path(tempfile.gettempdir()) / "cutru-uploads"
        self._staging.mkdir(parents=True, exist_ok=True)

    @property
    def staging(self) -> Path:
        return self._staging

    def _key(self, sha256: str) -> str:
        return self.prefix + sha256

    async def commit(self, staged: Path, sha256: str, media_type: str, size: int) -> None:
        await asyncio.to_thread(self._commit, staged, sha256, media_type, size)

    def _commit(self, staged: Path, sha256: str, media_type: str, size: int) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        checksum = base64.b64encode(bytes.fromhex(sha256)).decode()
        key = self._key(sha256)
        try:
            with staged.open("rb") as body:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=media_type,
                                       ChecksumSHA256=checksum)
            stored = self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
            if stored != size:
                self.client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as error:
            raise StoreError(f"the object store did not take {sha256}: {error}") from error
        finally:
            staged.unlink(missing_ok=True)
        if stored != size:
            raise StoreError(f"the object store held {stored} bytes for {sha256}, not {size}: removed")

    async def exists(self, sha256: str) -> bool:
        return await asyncio.to_thread(self._exists, sha256)

    def _exists(self, sha256: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(sha256))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    async def read(self, sha256: str) -> AsyncIterator[bytes]:
        response = await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=self._key(sha256))
        async for chunk in _chunks(response["Body"]):
            yield chunk

    async def delete(self, sha256: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self._key(sha256))


def open_store(settings: AttachmentSettings) -> BlobStore:
    """The store ``CUTRU_ATTACHMENT_STORE`` names."""
    url = urlparse(settings.store)
    if url.scheme == "file":
        return FileStore(Path(url.path))
    if url.scheme == "s3" and url.netloc:
        import boto3

        client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url)
        return S3Store(client, url.netloc, url.path.lstrip("/"))
    raise ConfigError(f"CUTRU_ATTACHMENT_STORE: {settings.store!r} is neither file:///path nor s3://bucket/prefix")


# ---------------------------------------------------------------------------------------------- retention


async def release_dossier(pool: asyncpg.Pool, store: BlobStore, dossier_code: str) -> int:
    """Delete a dossier's attachments with it: forget which files it carried (the findings on them go too) and
    remove those no other dossier carries. The number of files removed."""
    rows = await pool.fetch("DELETE FROM dossier_attachments WHERE dossier_code = $1 RETURNING sha256", dossier_code)
    return await _remove_unreferenced(pool, store, sorted({row["sha256"] for row in rows}))


async def purge_orphans(pool: asyncpg.Pool, store: BlobStore, uploaded_before: datetime) -> int:
    """Remove the files uploaded before ``uploaded_before`` that no dossier carries (uploaded, never submitted, or
    released). The number removed."""
    rows = await pool.fetch(
        "SELECT sha256 FROM attachments a WHERE uploaded_at < $1"
        " AND NOT EXISTS (SELECT FROM dossier_attachments d WHERE d.sha256 = a.sha256) ORDER BY sha256",
        uploaded_before)
    return await _remove_unreferenced(pool, store, [row["sha256"] for row in rows])


async def _remove_unreferenced(pool: asyncpg.Pool, store: BlobStore, candidates: list[str]) -> int:
    """Each file, if still unreferenced: its row locked first, so that a submission naming it waits (its foreign
    key) and then fails rather than refer to a file being removed; the file goes before the row, so that a failure
    leaves a row to retry from, never a file nothing lists."""
    removed = 0
    for sha256 in candidates:
        async with pool.acquire() as conn, conn.transaction():
            if await conn.fetchval("SELECT sha256 FROM attachments WHERE sha256 = $1 FOR UPDATE", sha256) is None:
                continue
            if await conn.fetchval("SELECT EXISTS (SELECT FROM dossier_attachments WHERE sha256 = $1)", sha256):
                continue
            await store.delete(sha256)
            await conn.execute("DELETE FROM attachments WHERE sha256 = $1", sha256)
            removed += 1
    return removed


# ---------------------------------------------------------------------------------------------- malware scan


class ScannerUnavailable(Exception):
    """The scanner could not give a verdict: nothing is stored unscanned."""


class Scanner(Protocol):
    async def scan(self, path: Path) -> str | None:
        """The name of the malware found in the file, or None when it is clean."""


class EicarScanner:
    """The local stack's and the tests' scanner: it finds the EICAR anti-virus test file (``domain.attachments``)
    only, as every real scanner does, so the scanning step can be exercised without an anti-virus engine."""

    async def scan(self, path: Path) -> str | None:
        return await asyncio.to_thread(self._scan, path)

    @staticmethod
    def _scan(path: Path) -> str | None:
        import mmap

        from domain.attachments import contains_eicar

        with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return "Eicar-Test-Signature" if contains_eicar(data) else None


class ClamdScanner:
    """ClamAV's daemon over its INSTREAM command: the file is sent in chunks, each prefixed by its length as four
    big-endian bytes, then a zero-length chunk; clamd answers ``stream: OK`` or ``stream: <name> FOUND``."""

    def __init__(self, address: str, timeout: float = 30.0) -> None:
        self.address = urlparse(address)
        if self.address.scheme not in ("tcp", "unix"):
            raise ConfigError(f"CUTRU_CLAMD_ADDRESS: {address!r} is neither tcp://host:port nor unix:///path")
        self.timeout = timeout

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.address.scheme == "unix":
            return await asyncio.open_unix_connection(self.address.path)
        return await asyncio.open_connection(self.address.hostname, self.address.port or 3310)

    async def scan(self, path: Path) -> str | None:
        try:
            return await asyncio.wait_for(self._scan(path), self.timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as error:
            raise ScannerUnavailable(f"clamd at {self.address.geturl()} did not answer: {error}") from error

    async def _scan(self, path: Path) -> str | None:
        reader, writer = await self._connect()
        try:
            writer.write(b"zINSTREAM\0")
            with path.open("rb") as file:
                while chunk := await asyncio.to_thread(file.read, CHUNK):
                    writer.write(struct.pack(">I", len(chunk)) + chunk)
                    await writer.drain()
            writer.write(struct.pack(">I", 0))
            await writer.drain()
            reply = (await reader.readuntil(b"\0")).rstrip(b"\0").decode(errors="replace")
        finally:
            writer.close()
        verdict = reply.removeprefix("stream: ")
        if verdict == "OK":
            return None
        if verdict.endswith(" FOUND"):
            return verdict.removesuffix(" FOUND")
        raise ScannerUnavailable(f"clamd refused the scan: {reply}")


def open_scanner(settings: AttachmentSettings) -> Scanner:
    return ClamdScanner(settings.clamd_address) if settings.clamd_address else EicarScanner()
