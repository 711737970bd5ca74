"""`tls-hello --scan`: which versions, cipher suites and groups a server accepts, and
whose preference order decides — from ClientHellos alone.

A probe is one TCP connection and one ClientHello; the server's ServerHello (or
HelloRetryRequest) says what it chose, an alert or a close says "none of these".
Per version, the suites are found by elimination: offer every candidate, note the
one chosen, offer the rest again, until the server refuses — n accepted suites
cost n + 1 probes (sslscan offers them one at a time: one probe per candidate).
If the server chooses by its own order, that order is the order of elimination;
one more probe with the accepted suites reversed tells which side decides.
TLS 1.3 groups are probed without a key share: a server that supports the only
group offered answers with a HelloRetryRequest for it.

Probes run `parallel` at a time over the socket runner; the core holds no socket.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from netlab.core.base import NS, Close, Connected, CoreBase, Open, SocketError, Write
from netlab.wire import tls
from netlab.wire.tls_names import CIPHER_SUITES, GROUPS

SCAN_VERSIONS = (0x0304, 0x0303, 0x0302, 0x0301, 0x0300)
TLS13_SUITES = [0x1301, 0x1302, 0x1303, 0x1304, 0x1305]
# Groups worth asking about (RFC 8446 / 7919 / 8422 and the hybrids in use).
SCAN_GROUPS = [29, 23, 24, 25, 30, 256, 257, 258, 259, 260, 26, 27, 28, 0x11EC, 0x11EB]
SIGALGS = [
    0x0403,
    0x0503,
    0x0603,
    0x0807,
    0x0808,
    0x0804,
    0x0805,
    0x0806,
    0x0809,
    0x080A,
    0x080B,
    0x0401,
    0x0501,
    0x0601,
    0x0303,
    0x0301,
    0x0302,
    0x0203,
    0x0201,
    0x0202,
]
ECDHE_GROUPS = [29, 23, 24, 25, 30]


def legacy_suites() -> list[int]:
    """Every suite TLS 1.2 and older can name (not TLS 1.3's, not the signalling ones)."""
    return [
        c for c in CIPHER_SUITES if c <= 0xFFFF and c >> 8 != 0x13 and c not in (0x00FF, 0x5600)
    ]


@dataclass
class Probe:
    version: int
    suites: list[int]
    groups: list[int]
    purpose: str  # "suites", "order" or "group"
    key_share: bool = True
    chosen_suite: int | None = None
    chosen_group: int | None = None
    chosen_version: int | None = None
    refused: str | None = None  # the alert, or why the probe found nothing
    buf: Any = None
    hs: Any = None


@dataclass
class VersionResult:
    accepted: bool = False
    ciphers: list[int] = field(default_factory=list)  # in the order found
    server_preference: bool | None = None
    groups: list[int] = field(default_factory=list)


class TlsScan(CoreBase):
    def __init__(
        self,
        address: str,
        port: int,
        server_name: str | None,
        *,
        timeout: float = 5.0,
        parallel: int = 4,
        random: Any = os.urandom,
    ) -> None:
        super().__init__()
        self.address, self.port, self.server_name = address, port, server_name
        self.timeout, self.parallel, self.random = timeout, parallel, random
        self.results: dict[int, VersionResult] = {v: VersionResult() for v in SCAN_VERSIONS}
        self.queue: deque[Probe] = deque()
        self.running: dict[int, Probe] = {}
        self.started_at: dict[int, int] = {}
        self.handshakes = 0
        self._next = 0
        self._now = 0
        self.remaining: dict[int, list[int]] = {}

    # --- the session-core interface -------------------------------------------------------
    def start(self, now: int) -> list:
        self._now = now
        self._start_ns = now
        for version in SCAN_VERSIONS:
            candidates = TLS13_SUITES if version == 0x0304 else legacy_suites()
            self.remaining[version] = list(candidates)
            self.queue.append(self._suite_probe(version))
            for group in SCAN_GROUPS if version >= 0x0303 else []:
                self.queue.append(self._group_probe(version, group))
        return self._launch(now)

    def on_connected(self, conn: Any, info: Connected, now: int) -> list:
        probe = self.running.get(conn)
        if probe is None:
            return []
        self.handshakes += 1
        return [Write(conn, tls.record(tls.HANDSHAKE, self._hello(probe), 0x0301))]

    def on_data(self, conn: Any, data: bytes, now: int) -> list:
        self._now = now
        probe = self.running.get(conn)
        if probe is None:
            return []
        if not data:
            return self._end(conn, probe, now, refused=probe.refused or "closed")
        try:
            for rec in probe.buf.feed(data):
                if rec.type == tls.ALERT:
                    _level, desc = tls.parse_alert(rec.payload)
                    return self._end(conn, probe, now, refused=desc)
                if rec.type != tls.HANDSHAKE:
                    continue
                for m in probe.hs.feed(rec.payload):
                    if m.type == 2:
                        self._server_hello(probe, tls.parse_hello(m.body, server=True))
                        return self._end(conn, probe, now)
        except tls.TlsError as err:
            return self._end(conn, probe, now, refused=f"malformed: {err}")
        return []

    def on_datagram(self, conn: Any, data: bytes, addr: tuple, now: int) -> list:
        return []

    def on_error(self, conn: Any, err: SocketError, now: int) -> list:
        probe = self.running.get(conn)
        if probe is None:
            return []
        if err.op == "connect" and self.handshakes == 0:
            self.error = f"connect to {self.address} port {self.port} failed: {err.reason}"
            self.queue.clear()
        return self._end(conn, probe, now, refused=err.reason, close=False)

    def on_timer(self, now: int) -> list:
        self._now = now
        out: list = []
        for conn, probe in list(self.running.items()):
            if now - self.started_at[conn] >= int(self.timeout * NS):
                out += self._end(conn, probe, now, refused="timeout")
        return out

    def deadline(self) -> int | None:
        if self._finished:
            return None
        if not self.started_at:
            return self._now + NS
        return min(self.started_at[c] for c in self.running) + int(self.timeout * NS)

    error: str | None = None

    # --- probes ------------------------------------------------------------------------------
    def _suite_probe(self, version: int) -> Probe:
        groups = [g for g in SCAN_GROUPS if g in ECDHE_GROUPS] + [256, 257]
        return Probe(version, list(self.remaining[version]), groups, "suites")

    def _group_probe(self, version: int, group: int) -> Probe:
        if version == 0x0304:
            return Probe(version, list(TLS13_SUITES), [group], "group", key_share=False)
        ecdhe = [
            c
            for c in legacy_suites()
            if "ECDHE" in CIPHER_SUITES[c]
            or (group >= 256 and group < 512 and "_DHE_" in CIPHER_SUITES[c])
        ]
        return Probe(version, ecdhe, [group], "group")

    def _hello(self, probe: Probe) -> bytes:
        from netlab.wire.tls_crypto import Ephemeral

        shares = []
        if probe.version == 0x0304 and probe.key_share:
            shares = [(29, Ephemeral(29).public)]
        spec = tls.ClientHelloSpec(
            random=self.random(32),
            session_id=self.random(32) if probe.version == 0x0304 else b"",
            suites=probe.suites,
            server_name=self.server_name,
            versions=[0x0304] if probe.version == 0x0304 else [],
            groups=probe.groups,
            signature_algorithms=SIGALGS,
            key_shares=shares,
            legacy_version=min(probe.version, 0x0303),
        )
        return tls.build_client_hello(spec)

    def _server_hello(self, probe: Probe, sh: tls.Hello) -> None:
        probe.chosen_suite = sh.suites[0]
        probe.chosen_version = sh.version
        if (sh.is_hrr and sh.ext(51)) or sh.ext(51):
            probe.chosen_group = sh.key_shares()[0][0]
        if probe.chosen_version != probe.version:
            probe.refused = f"answered with {tls.version_name(probe.chosen_version)}"

    def _launch(self, now: int) -> list:
        out: list = []
        while self.queue and len(self.running) < self.parallel:
            probe = self.queue.popleft()
            probe.buf, probe.hs = tls.RecordSplitter(), tls.HandshakeReassembler()
            self._next += 1
            self.running[self._next] = probe
            self.started_at[self._next] = now
            out.append(Open(self._next, "tcp", self.address, self.port))
        if not self.queue and not self.running:
            self._finish(now)
        return out

    def _end(
        self, conn: Any, probe: Probe, now: int, refused: str | None = None, close: bool = True
    ) -> list:
        self.running.pop(conn, None)
        self.started_at.pop(conn, None)
        if refused and probe.chosen_suite is None:
            probe.refused = refused
        self._learn(probe)
        out = [Close(conn)] if close else []
        return out + self._launch(now)

    def _learn(self, probe: Probe) -> None:
        """What a probe taught, and which probe comes next."""
        r = self.results[probe.version]
        ok = probe.chosen_suite is not None and probe.refused is None
        if probe.purpose == "group":
            if ok and (probe.chosen_group in (None, probe.groups[0])):
                r.groups.append(probe.groups[0])
            return
        if probe.purpose == "order":
            if ok:
                r.server_preference = probe.chosen_suite == r.ciphers[0]
            return
        if not ok:  # the suites left are all refused: this version is done
            if len(r.ciphers) > 1:
                order = Probe(probe.version, list(reversed(r.ciphers)), probe.groups, "order")
                self.queue.appendleft(order)
            elif len(r.ciphers) == 1:
                r.server_preference = None
            return
        r.accepted = True
        if probe.chosen_suite in r.ciphers or probe.chosen_suite not in probe.suites:
            return  # a server that repeats itself, or picks what we did not offer: stop
        r.ciphers.append(probe.chosen_suite)
        self.remaining[probe.version].remove(probe.chosen_suite)
        if self.remaining[probe.version]:
            self.queue.appendleft(self._suite_probe(probe.version))
        elif len(r.ciphers) > 1:
            self.queue.appendleft(
                Probe(probe.version, list(reversed(r.ciphers)), probe.groups, "order")
            )

    def group_names(self, version: int) -> list[str]:
        return [GROUPS.get(g, f"0x{g:04x}") for g in self.results[version].groups]
