"""No test reaches off this machine (issue 12 item 9): only loopback and unix sockets may be connected to.

`tests/conftest.py` installs `NetworkGuard` around every test. An attempt to connect anywhere else raises
`OffLoopbackConnection` at once (nothing is sent) and is remembered: the test then fails at teardown even if the
code under test swallowed the error (a gateway that turns any connection error into a 502 would otherwise pass).
It covers this process's Python sockets (requests, urllib, http.client, asyncio, Twilio's client); servers a test
starts in other processes bind 127.0.0.1 by construction.
"""

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "testserver"}


class OffLoopbackConnection(ConnectionRefusedError):
    """Raised instead of connecting off loopback. A ConnectionError, so callers see a plain refused connection."""


def is_loopback(family: int, address) -> bool:
    if family == getattr(socket, "AF_UNIX", object()):
        return True
    if family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple) or not address:
        return False
    host = str(address[0]).split("%")[0].lower()  # drop an IPv6 zone (fe80::1%eth0)
    if host in LOOPBACK_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # a host name other than localhost: somewhere else
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback


class NetworkGuard:
    def __init__(self) -> None:
        self.violations: list[str] = []

    def check(self, sock: socket.socket, address) -> None:
        if not is_loopback(sock.family, address):
            self.violations.append(repr(address))
            raise OffLoopbackConnection(f"tests may only connect to loopback; refused {address!r}")

    @contextmanager
    def installed(self) -> Iterator["NetworkGuard"]:
        original_connect, original_connect_ex = socket.socket.connect, socket.socket.connect_ex
        guard = self

        def connect(sock: socket.socket, address) -> None:
            guard.check(sock, address)
            return original_connect(sock, address)

        def connect_ex(sock: socket.socket, address) -> int:
            guard.check(sock, address)
            return original_connect_ex(sock, address)

        socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
        try:
            yield self
        finally:
            socket.socket.connect, socket.socket.connect_ex = original_connect, original_connect_ex
