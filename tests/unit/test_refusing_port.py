"""The tests' unreachable addresses: a port held by ``refusing_port`` refuses connections and cannot be taken by a
server started meanwhile (an asyncio or aiohttp server binds with SO_REUSEADDR), as a released ``closed_port`` can."""

from __future__ import annotations

import socket

import pytest

from tests.cli import closed_port, refusing_port


def _server_can_bind(port: int) -> bool:
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            server.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_a_held_port_refuses_connections_and_no_server_can_take_it() -> None:
    with refusing_port() as port:
        with socket.socket() as client, pytest.raises(ConnectionRefusedError):
            client.connect(("127.0.0.1", port))
        assert not _server_can_bind(port)
    assert _server_can_bind(port)  # released with the block


def test_a_released_port_can_be_taken() -> None:
    assert _server_can_bind(closed_port())
