"""The autouse guard of tests/conftest.py: a test that connects off loopback fails; loopback and unix work."""

import contextlib
import socket

import pytest
import requests

from tests.network_guard import OffLoopbackConnection, is_loopback


def test_a_connection_off_loopback_is_refused_and_fails_the_test_even_if_swallowed(network_guard):
    with pytest.raises(OffLoopbackConnection):
        socket.create_connection(("192.0.2.1", 443), timeout=1)  # TEST-NET-1: would hang, never reached
    with contextlib.suppress(requests.ConnectionError):  # as a gateway that turns errors into a 502 would
        requests.get("http://198.51.100.7/", timeout=1)

    assert network_guard.violations == ["('192.0.2.1', 443)", "('198.51.100.7', 80)"]
    network_guard.violations.clear()  # this test means it; any other test would fail at teardown


def test_loopback_and_unix_sockets_are_allowed(tmp_path):
    server = socket.create_server(("127.0.0.1", 0))
    socket.create_connection(server.getsockname(), timeout=5).close()  # the listen backlog accepts it
    server.close()

    unix_path = str(tmp_path / "s.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(unix_path)
    listener.listen()
    client = socket.socket(socket.AF_UNIX)
    client.connect(unix_path)
    client.close()
    listener.close()


@pytest.mark.parametrize(
    ("family", "address", "allowed"),
    [
        (socket.AF_INET, ("127.0.0.1", 80), True),
        (socket.AF_INET, ("127.8.9.10", 80), True),
        (socket.AF_INET, ("localhost", 80), True),
        (socket.AF_INET6, ("::1", 80, 0, 0), True),
        (socket.AF_INET6, ("::ffff:127.0.0.1", 80, 0, 0), True),
        (socket.AF_INET, ("10.0.0.1", 80), False),
        (socket.AF_INET, ("api.twilio.com", 443), False),
        (socket.AF_INET6, ("2001:db8::1", 443, 0, 0), False),
        (socket.AF_INET6, ("::ffff:8.8.8.8", 53, 0, 0), False),
    ],
)
def test_what_counts_as_loopback(family, address, allowed):
    assert is_loopback(family, address) is allowed
