"""The socket runner (net/sockets.py) against real kernel sockets and real peers on loopback:
UDP to many peers at once, several TCP streams at once, refused and unreachable errors
as events, TLS through memory BIOs against `openssl s_server`, timers and the key log."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time

import pytest

from netlab.core.base import NS, Close, Datagram, Listen, Open, TlsParams, Write
from netlab.net.sockets import SocketRunner
from tests.conftest import require_tool


class ScriptCore:
    """A session core for tests: starts with ACTIONS, records every callback, and is done
    when DONE(self) says so or its deadline passes."""

    def __init__(self, actions, done, timeout: float = 5.0) -> None:
        self.actions = actions
        self._done = done
        self.timeout_ns = int(timeout * NS)
        self.connected: dict = {}
        self.data: dict = {}
        self.datagrams: list = []
        self.errors: list = []
        self.timers = 0
        self.eof: set = set()
        self.then: dict = {}  # conn -> actions to take once it is connected
        self._deadline = None
        self.finished = False

    def start(self, now):
        self._deadline = now + self.timeout_ns
        return list(self.actions)

    def on_connected(self, conn, info, now):
        self.connected[conn] = info
        return self.then.pop(conn, [])

    def on_data(self, conn, data, now):
        if not data:
            self.eof.add(conn)
        self.data[conn] = self.data.get(conn, b"") + data
        return []

    def on_datagram(self, conn, data, addr, now):
        self.datagrams.append((conn, data, addr))
        return []

    def on_error(self, conn, err, now):
        self.errors.append((conn, err))
        return []

    def on_timer(self, now):
        self.timers += 1
        self.finished = True
        return []

    def deadline(self):
        return self._deadline

    def done(self):
        return self.finished or self._done(self)

    def pop_events(self):
        return []

    def interrupt(self, now):
        self.finished = True


def _udp_echo_servers(count: int):
    """COUNT UDP sockets on 127.0.0.x that answer each datagram with b'echo:' + it."""
    socks = []
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((f"127.0.0.{10 + i}", 0))
        socks.append(s)
    stop = threading.Event()

    def serve():
        import select

        while not stop.is_set():
            for s in select.select(socks, [], [], 0.05)[0]:
                data, addr = s.recvfrom(2048)
                s.sendto(b"echo:" + data, addr)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return socks, stop, thread


def test_udp_to_many_peers_from_one_socket():
    socks, stop, thread = _udp_echo_servers(24)
    try:
        peers = [s.getsockname() for s in socks]
        actions = [Open("dht", "udp", local=("127.0.0.1", 0))]
        actions += [Datagram("dht", f"q{i}".encode(), peer) for i, peer in enumerate(peers)]
        core = ScriptCore(actions, lambda c: len(c.datagrams) == len(peers))
        assert SocketRunner().run(core, lambda e: None) is False
    finally:
        stop.set()
        thread.join()
        for s in socks:
            s.close()
    got = {addr: data for _conn, data, addr in core.datagrams}
    assert got == {peer: f"echo:q{i}".encode() for i, peer in enumerate(peers)}
    assert core.errors == [] and core.timers == 0


def test_connected_udp_to_a_closed_port_is_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nobody listens there
    actions = [Open("q", "udp", "127.0.0.1", port), Datagram("q", b"hello", ("127.0.0.1", port))]
    core = ScriptCore(actions, lambda c: bool(c.errors))
    SocketRunner().run(core, lambda e: None)
    [(conn, err)] = core.errors
    assert conn == "q" and err.op == "recv" and err.refused  # the kernel's ICMP port unreachable


def test_unreachable_network_is_an_error_event_not_an_exception():
    # No route to the IPv6 documentation prefix in a fresh network namespace-less test
    # host? Use an address family with no route at all: IPv6 from a socket bound to lo.
    actions = [Open("q", "udp", "2001:db8::53", 53)]
    core = ScriptCore(actions, lambda c: bool(c.errors), timeout=1.0)
    SocketRunner().run(core, lambda e: None)
    if core.errors:  # ENETUNREACH (no IPv6 default route), as on CI machines
        [(_conn, err)] = core.errors
        assert err.op == "connect" and err.errno in (101, 113, 99)
    else:  # a host with an IPv6 default route: connect() of UDP succeeds; nothing is sent
        assert core.timers == 1


def _tcp_echo_server():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=_echo, args=(conn,), daemon=True).start()

    def _echo(conn):
        with conn, contextlib.suppress(ConnectionError):  # (a client may reset: fine)
            while data := conn.recv(4096):
                conn.sendall(data.upper())

    threading.Thread(target=serve, daemon=True).start()
    return srv


def test_two_tcp_streams_at_once_and_a_refused_one():
    srv = _tcp_echo_server()
    port = srv.getsockname()[1]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    try:
        actions = [Open("control", "tcp", "127.0.0.1", port),
                   Open("data", "tcp", "127.0.0.1", port),
                   Open("nobody", "tcp", "127.0.0.1", closed),
                   Write("control", b"user netlab\n"),
                   Write("data", b"x" * 100_000)]  # fmt: skip
        core = ScriptCore(actions, lambda c: len(c.data.get("control", b"")) >= 12
                          and len(c.data.get("data", b"")) >= 100_000)  # fmt: skip
        SocketRunner().run(core, lambda e: None)
    finally:
        srv.close()
    assert core.data["control"] == b"USER NETLAB\n"
    assert core.data["data"] == b"X" * 100_000
    assert set(core.connected) == {"control", "data"}
    info = core.connected["control"]
    assert info.peer == ("127.0.0.1", port) and info.local[0] == "127.0.0.1"
    assert info.local != core.connected["data"].local  # two connections, two source ports
    [(conn, err)] = core.errors
    assert conn == "nobody" and err.op == "connect" and err.refused


def test_close_then_eof_from_the_peer():
    srv = _tcp_echo_server()
    port = srv.getsockname()[1]
    try:
        core = ScriptCore([Open("c", "tcp", "127.0.0.1", port)], lambda c: bool(c.connected))
        core.then["c"] = [Write("c", b"bye"), Close("c")]
        SocketRunner().run(core, lambda e: None)
    finally:
        srv.close()
    assert "c" in core.connected and core.errors == []


def test_timer_fires_at_the_deadline_when_nothing_comes():
    core = ScriptCore([], lambda c: False, timeout=0.2)
    started = time.monotonic()
    SocketRunner().run(core, lambda e: None)
    assert core.timers == 1 and 0.15 <= time.monotonic() - started < 2.0


# --- TLS against openssl s_server ---------------------------------------------------------------
@pytest.fixture
def tls_server(tmp_path):
    """`openssl s_server` on 127.0.0.1 with a fresh self-signed certificate for
    'server.netlab.test' (ALPN h2 and http/1.1); -rev answers each line reversed."""
    require_tool("openssl")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=server.netlab.test",
                    "-addext", "subjectAltName=DNS:server.netlab.test"],
                   check=True, capture_output=True, timeout=30)  # fmt: skip
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-key", key,
                             "-cert", cert, "-rev", "-alpn", "h2,http/1.1", "-naccept", "4"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield port, str(cert)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_tls_handshake_alpn_data_and_key_log(tls_server, tmp_path):
    port, cert = tls_server
    keylog = tmp_path / "keys.log"
    params = TlsParams(server_name="server.netlab.test", alpn=("h2",), cafile=cert,
                       keylog=str(keylog))  # fmt: skip
    core = ScriptCore([Open("t", "tls", "127.0.0.1", port, tls=params),
                       Write("t", b"hello netlab\n")],
                      lambda c: b"\n" in c.data.get("t", b""))  # fmt: skip
    SocketRunner().run(core, lambda e: None)
    assert core.errors == []
    info = core.connected["t"]
    assert info.tls_version == "TLSv1.3" and info.alpn == "h2" and info.cipher
    assert info.peer_cert[:1] == b"\x30"  # DER: a SEQUENCE
    assert core.data["t"] == b"balten olleh\n"  # s_server -rev, through the TLS records
    labels = {line.split()[0] for line in keylog.read_text().splitlines() if line.strip()}
    assert {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0"} <= labels


def test_tls_untrusted_certificate_is_an_error_event(tls_server):
    port, _cert = tls_server
    core = ScriptCore([Open("t", "tls", "127.0.0.1", port,
                            tls=TlsParams(server_name="server.netlab.test"))],
                      lambda c: bool(c.errors))  # fmt: skip
    SocketRunner().run(core, lambda e: None)
    [(conn, err)] = core.errors
    assert conn == "t" and err.op == "tls" and "certificate verify failed" in err.reason
    assert "t" not in core.connected


def test_tls_without_verification_names_the_wrong_host_anyway(tls_server):
    port, _cert = tls_server
    core = ScriptCore([Open("t", "tls", "127.0.0.1", port,
                            tls=TlsParams(server_name="other.example", verify=False))],
                      lambda c: bool(c.connected))  # fmt: skip
    SocketRunner().run(core, lambda e: None)
    assert core.errors == [] and core.connected["t"].tls_version in ("TLSv1.2", "TLSv1.3")


def test_openssl_is_what_the_fixture_uses():
    assert shutil.which("openssl"), "openssl is installed by make test (Debian package)"


class ListenCore(ScriptCore):
    """Listens on a kernel-chosen port, then connects to it itself (FTP active mode's
    shape: one side listens, the other connects back): the accepted stream echoes."""

    def __init__(self) -> None:
        super().__init__([Listen("data", "127.0.0.1", 0)],
                         lambda c: c.data.get("client", b"").endswith(b"!"))  # fmt: skip
        self.port = None

    def on_connected(self, conn, info, now):
        self.connected[conn] = info
        if conn == "data":  # the listener is up: its port, chosen by the kernel
            self.port = info.local[1]
            return [Open("client", "tcp", "127.0.0.1", self.port),
                    Write("client", b"hello over the data connection!")]  # fmt: skip
        return []

    def on_data(self, conn, data, now):
        super().on_data(conn, data, now)
        if conn == ("data", 1) and data:  # the accepted side: echo what it got
            return [Write(conn, data)]
        return []


def test_listen_accepts_a_connection_as_a_stream_of_its_own():
    core = ListenCore()
    SocketRunner().run(core, lambda e: None)
    assert core.errors == [] and core.port
    assert core.data[("data", 1)] == b"hello over the data connection!"
    assert core.data["client"] == b"hello over the data connection!"
    accepted = core.connected[("data", 1)]
    assert accepted.local == ("127.0.0.1", core.port)
    assert accepted.peer == core.connected["client"].local  # the one that connected


def test_listen_on_a_port_in_use_is_an_error_event():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        core = ScriptCore([Listen("data", "127.0.0.1", port)], lambda c: bool(c.errors))
        SocketRunner().run(core, lambda e: None)
    [(conn, err)] = core.errors
    assert conn == "data" and err.op == "listen" and err.errno == 98  # EADDRINUSE
