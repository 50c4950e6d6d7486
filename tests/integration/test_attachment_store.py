"""The attachment store's one interface, the same test body for both backends: a directory, and an S3 bucket on
moto's standalone server (a test server speaking the S3 protocol over HTTP, not a mock of boto3); and retention:
a dossier's files deleted with it."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import boto3
import pytest
from moto.server import ThreadedMotoServer

from cutru.platform.storage import (
    AttachmentSettings,
    BlobStore,
    FileStore,
    S3Store,
    StoreError,
    open_store,
    purge_orphans,
    release_dossier,
)
from tests.attachment_files import pdf
from tests.unit.test_documents import flushes, identity


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(params=["file", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "file":
        yield FileStore(tmp_path / "store")
        return
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"cutru-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
    client.create_bucket(Bucket=bucket)
    yield S3Store(client, bucket, "attachments/", staging=tmp_path / "staging")


def staged(store: BlobStore, content: bytes) -> Path:
    path = store.staging / f"upload-{uuid.uuid4().hex}"
    path.write_bytes(content)
    return path


async def read_all(store: BlobStore, sha256: str) -> bytes:
    return b"".join([chunk async for chunk in store.read(sha256)])


async def test_a_file_is_stored_under_its_sha256_once_read_back_whole_and_deleted(store: BlobStore):
    content = pdf(bytes(range(256)) * 1024)  # several read chunks
    sha256 = hashlib.sha256(content).hexdigest()
    assert not await store.exists(sha256)
    first = staged(store, content)
    await store.commit(first, sha256, "application/pdf", len(content))
    assert not first.exists()
    assert await store.exists(sha256)
    assert await read_all(store, sha256) == content
    # The same content again: stored once, still whole.
    await store.commit(staged(store, content), sha256, "application/pdf", len(content))
    assert await read_all(store, sha256) == content
    assert list(store.staging.iterdir()) == []
    await store.delete(sha256)
    assert not await store.exists(sha256)
    await store.delete(sha256)  # nothing there: nothing happens


async def test_a_commit_whose_size_disagrees_is_refused(store: BlobStore):
    content = pdf()
    sha256 = hashlib.sha256(content).hexdigest()
    with pytest.raises(StoreError):
        await store.commit(staged(store, content), sha256, "application/pdf", len(content) + 1)
    assert not await store.exists(sha256)


async def test_a_stored_file_and_its_new_directory_are_flushed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    flushed = flushes(monkeypatch)
    store = FileStore(tmp_path / "store")
    content = pdf()
    sha256 = hashlib.sha256(content).hexdigest()
    await store.commit(staged(store, content), sha256, "application/pdf", len(content))
    target = store.root / sha256[:2] / sha256
    assert flushed == [identity(target), identity(target.parent), identity(store.root)]


def test_the_store_setting_names_a_directory_or_a_bucket(tmp_path: Path, s3_endpoint: str):
    assert isinstance(open_store(AttachmentSettings(store=(tmp_path / "a").as_uri())), FileStore)
    s3 = open_store(AttachmentSettings(store="s3://cutru-docs/prod/", s3_endpoint_url=s3_endpoint))
    assert isinstance(s3, S3Store) and (s3.bucket, s3.prefix) == ("cutru-docs", "prod/")
    with pytest.raises(ValueError, match="neither"):
        open_store(AttachmentSettings(store="ftp://example/"))


async def test_a_dossiers_files_are_deleted_with_it_unless_another_dossier_carries_them(
        pool: asyncpg.Pool, tmp_path: Path):
    store = FileStore(tmp_path / "store")
    shared, own, fresh = pdf(b"shared"), pdf(b"own"), pdf(b"fresh")
    digests = {}
    for name, content in (("shared", shared), ("own", own), ("fresh", fresh)):
        sha256 = digests[name] = hashlib.sha256(content).hexdigest()
        await store.commit(staged(store, content), sha256, "application/pdf", len(content))
        await pool.execute("INSERT INTO attachments (sha256, media_type, size_bytes, scanned_by, uploaded_by)"
                           " VALUES ($1, 'application/pdf', $2, 'test', 'test')", sha256, len(content))
    first, second = f"HS-PURGE-{uuid.uuid4().hex[:8].upper()}", f"HS-PURGE-{uuid.uuid4().hex[:8].upper()}"
    links = [(first, digests["shared"]), (first, digests["own"]), (second, digests["shared"])]
    await pool.executemany("INSERT INTO dossier_attachments (dossier_code, sha256, kind, file_name)"
                           " VALUES ($1, $2, 'other', 'a.pdf')", links)
    await pool.execute("INSERT INTO attachment_findings (dossier_code, sha256, kind, accepted, officer_id)"
                       " VALUES ($1, $2, 'other', true, 'CB-00070-02')", first, digests["own"])

    assert await release_dossier(pool, store, first) == 1  # its own file; the shared one stays for the second
    assert not await store.exists(digests["own"]) and await store.exists(digests["shared"])
    assert await pool.fetchval("SELECT count(*) FROM attachment_findings WHERE dossier_code = $1", first) == 0
    # An upload no dossier names yet is kept until it is old enough to be an orphan.
    assert await purge_orphans(pool, store, datetime.now(UTC) - timedelta(days=7)) == 0
    assert await store.exists(digests["fresh"])
    assert await release_dossier(pool, store, second) == 1
    await pool.execute("UPDATE attachments SET uploaded_at = now() - interval '30 days' WHERE sha256 = $1",
                       digests["fresh"])
    assert await purge_orphans(pool, store, datetime.now(UTC) - timedelta(days=7)) == 1
    assert not any([await store.exists(sha256) for sha256 in digests.values()])
    assert await pool.fetchval("SELECT count(*) FROM attachments WHERE sha256 = ANY($1)", list(digests.values())) == 0
