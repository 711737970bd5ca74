"""What every core speaks: the vocabulary between a sans-I/O core and the runner.

A core never opens a socket or reads the clock. It is fed what happened, with the
time (integer nanoseconds), and answers with what to send; the runner in
`netlab/net/` carries that out. Two kinds of core, after the two runners:

- **Packet cores** (ping, arp, traceroute, tcp-handshake): link-layer frames in
  (`netlab.wire.link.LinkFrame`, both directions, from one capture), IP packets or
  Ethernet frames out (`Send`). Run by `netlab.net.runner.Runner`.
- **Session cores** (dns-query, and the protocols on kernel sockets after it):
  datagrams and stream bytes in, `Open`/`Write`/`Datagram`/`Close` out, kernel
  errors as `on_error`. Run by `netlab.net.sockets.SocketRunner`.

Both answer `deadline()` (when to call `on_timer` next, or None: nothing to wait
for), `done()`, `pop_events()` and `interrupt(now)` (Ctrl-C: wrap up, so the
partial summary can be shown). `CoreBase` gives the last three once.

This module is the bottom of the core package: it imports nothing from netlab.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from netlab.wire.link import LinkFrame

NS = 1_000_000_000


# --- packet cores -------------------------------------------------------------------------
@dataclass(frozen=True)
class Send:
    """A packet a core wants sent: an IP packet (layer 3) or an Ethernet frame (l2=True)."""

    data: bytes
    dest: str = ""  # layer 3: the destination address (for the raw socket's sendto)
    family: int = 4
    l2: bool = False
    tag: Any = None  # the core's own reference, handed back on a send error


class PacketCore(Protocol):
    capture_filter: str  # tcpdump syntax: what the runner's capture lets through

    def start(self, now: int) -> list[Send]: ...
    def on_packet(self, frame: LinkFrame, now: int) -> list[Send]: ...
    def on_timer(self, now: int) -> list[Send]: ...
    def on_send_error(self, send: Send, err: OSError, now: int) -> list[Send]: ...
    def deadline(self) -> int | None: ...
    def done(self) -> bool: ...
    def pop_events(self) -> list[Any]: ...
    # Ctrl-C: wrap up; may return last packets to send (a reset of an open connection).
    def interrupt(self, now: int) -> list[Send] | None: ...


# --- session cores (kernel sockets) ----------------------------------------------------------
# What a session core asks of the runner. A `conn` is the core's own name for one
# socket (any hashable: "udp", ("tcp", 2), a node id …); the runner hands it back with
# everything that socket brings.
@dataclass(frozen=True)
class Open:
    """Open a socket: kind "udp" (datagrams, to any peer) or "tcp" (a stream, connected
    to HOST:PORT), or "tls" (TCP, then a TLS handshake; the core sees plaintext)."""

    conn: Any
    kind: str
    host: str = ""  # UDP: the one peer (the kernel then drops datagrams from others)
    port: int = 0
    tls: TlsParams | None = None
    local: tuple[str, int] | None = None  # bind here first (UDP to many peers: ("0.0.0.0", 0))


@dataclass(frozen=True)
class TlsParams:
    """TLS on a stream, done by the runner with `ssl.MemoryBIO` (so nothing blocks)."""

    server_name: str | None = None  # SNI and the name the certificate must carry
    alpn: tuple[str, ...] = ()
    verify: bool = True
    cafile: str | None = None
    keylog: str | None = None  # NSS key log file (for Wireshark / netlab dissect)


@dataclass(frozen=True)
class Write:
    """Bytes to send on stream CONN."""

    conn: Any
    data: bytes


@dataclass(frozen=True)
class Datagram:
    """One datagram to send from UDP socket CONN to ADDR (host, port)."""

    conn: Any
    data: bytes
    addr: tuple[str, int]


@dataclass(frozen=True)
class Close:
    """Close CONN (a stream: after what was written has gone)."""

    conn: Any


@dataclass(frozen=True)
class Listen:
    """Accept TCP connections on HOST:PORT (port 0: one the kernel picks, told back in
    `on_connected(conn, …)` with the local address). Each connection that comes in is
    a stream of its own, named (CONN, n) for n = 1, 2 …, announced by on_connected —
    FTP's active mode, where the server connects back to the client."""

    conn: Any
    host: str
    port: int = 0
    backlog: int = 4


Action = Open | Write | Datagram | Close | Listen


@dataclass(frozen=True)
class Connected:
    """What the runner tells a core once a stream is up (TLS: after the handshake)."""

    local: tuple[str, int]
    peer: tuple[str, int]
    tls_version: str | None = None
    alpn: str | None = None
    cipher: str | None = None
    peer_cert: bytes | None = None  # DER of the server's certificate
    # Phase timings (runner clock): when connect() was called, and when TCP was up (with
    # TLS, before the handshake; Connected itself comes after it).
    connect_at: int | None = None
    tcp_at: int | None = None


@dataclass(frozen=True)
class SocketError:
    """What the kernel (or TLS) said went wrong on CONN, as a core sees it."""

    op: str  # "connect", "send", "recv", "tls", "listen" or "accept"
    errno: int  # 0 for TLS errors
    reason: str  # strerror, or the TLS library's reason ("certificate verify failed: …")

    @property
    def refused(self) -> bool:
        return self.errno == 111  # ECONNREFUSED (a TCP RST, or an ICMP port unreachable)


class SessionCore(Protocol):
    def start(self, now: int) -> list[Action]: ...
    def on_connected(self, conn: Any, info: Connected, now: int) -> list[Action]: ...
    def on_data(self, conn: Any, data: bytes, now: int) -> list[Action]: ...  # b"": EOF
    def on_datagram(self, conn: Any, data: bytes, addr: tuple, now: int) -> list[Action]: ...
    def on_error(self, conn: Any, err: SocketError, now: int) -> list[Action]: ...
    def on_timer(self, now: int) -> list[Action]: ...
    def deadline(self) -> int | None: ...
    def done(self) -> bool: ...
    def pop_events(self) -> list[Any]: ...
    def interrupt(self, now: int) -> None: ...


# --- what every core shares -------------------------------------------------------------------
class CoreBase:
    """Events, `done` and a default `interrupt`, written once for every core.

    A core appends what the user should see to `self._events` and sets
    `self._finished` when it has nothing more to do."""

    _events: list
    _finished: bool

    def __init__(self) -> None:
        self._events = []
        self._finished = False

    def done(self) -> bool:
        return self._finished

    def pop_events(self) -> list:
        events, self._events = self._events, []
        return events

    def interrupt(self, now: int) -> None:
        """Ctrl-C: by default just stop (cores with a summary override `_finish`)."""
        if not self._finished:
            self._finish(now)

    def _finish(self, now: int) -> None:
        self._finished = True

    def _earliest(self, *times: int | None) -> int | None:
        """`deadline()`'s usual answer: the earliest of TIMES that is set, None when
        nothing is (or the core has finished)."""
        if self._finished:
            return None
        return min((t for t in times if t is not None), default=None)

    def _start_clock(self, now: int, deadline_s: float | None) -> None:
        """Note when the run started and, with a -w deadline, when it must end."""
        self._start_ns = now
        self._end_ns = now + int(deadline_s * NS) if deadline_s is not None else None

    def _over(self, now: int) -> bool:
        """True when there is nothing more to do: finished already, or the -w deadline
        `_start_clock` noted has come (the run is finished here, then)."""
        if self._finished:
            return True
        if self._end_ns is not None and now >= self._end_ns:
            self._finish(now)
            return True
        return False


def timeout_reason(waiting_for: str, seconds: float) -> str:
    """The one line a session core ends with when the peer stays silent too long."""
    return f"timeout: {waiting_for} did not come in {seconds:g} s"


def url_parts(text: str, error: type[Exception], label: str) -> tuple[Any, int | None, str]:
    """TEXT's urlsplit parts, port and scheme (lower case); a port that is no number or
    out of range, or a bad bracketed host, raises ERROR("LABEL: why")."""
    from urllib.parse import urlsplit  # here: a core that takes no URL never pays for it

    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as err:
        raise error(f"{label}: {err}") from None
    return parts, port, parts.scheme.lower()


def split_url(
    text: str, scheme: str, error: type[Exception], speaker: str = "netlab"
) -> tuple[str, Any, int | None]:
    """The start of a SCHEME://HOST[:PORT]/… parse that every URL-taking core shares:
    the scheme may be left out; a bad port, another scheme or no host is ERROR, one
    line saying which. Returns the URL as read (with the scheme), urlsplit's parts and
    the port (None: the default)."""
    if "://" not in text:
        text = f"{scheme}://{text}"
    parts, port, _ = url_parts(text, error, f"malformed URL {text!r}")
    if parts.scheme.lower() != scheme:
        raise error(f"{text!r}: {speaker} speaks {scheme}:// (not {parts.scheme}://)")
    if not parts.hostname:
        raise error(f"malformed URL {text!r}: no host")
    return text, parts, port


# --- state machines as tables ------------------------------------------------------------------
@dataclass(frozen=True)
class Transition:
    """One recorded step of a state machine, for timelines, --explain and tests."""

    time: int
    state: str
    event: str
    next_state: str
    action: str | None = None


@dataclass
class StateTable:
    """A state machine written as a table, h2-style:

        {(state, event): (action, next_state)}

    `fire(event, now)` looks the pair up, records the step and returns the action
    name (or None); an event the table does not allow in the current state raises
    `ProtocolViolation` (the caller turns it into an error event). `history` is the
    list of steps taken, which tests and `--explain` read; a step that neither moves
    nor acts (a peer saying again what it said) is not recorded, so a peer cannot
    grow it without end. `table` itself is plain data that a renderer can print as
    the protocol's state diagram."""

    table: dict[tuple[str, str], tuple[str | None, str]]
    state: str
    history: list[Transition] = field(default_factory=list)

    def allows(self, event: str) -> bool:
        return (self.state, event) in self.table

    def fire(self, event: str, now: int = 0) -> str | None:
        try:
            action, next_state = self.table[(self.state, event)]
        except KeyError:
            raise ProtocolViolation(self.state, event) from None
        if next_state != self.state or action is not None:
            self.history.append(Transition(now, self.state, event, next_state, action))
        self.state = next_state
        return action

    def move(self, next_state: str, event: str, now: int = 0) -> None:
        """Record a state change decided elsewhere (a core that follows an RFC's
        processing order, like TCP's, rather than a table): one place for every
        change, so timelines and tests read them from `history`."""
        if next_state != self.state:
            self.history.append(Transition(now, self.state, event, next_state))
            self.state = next_state


class ProtocolViolation(Exception):
    """An event that the state table does not allow in the current state."""

    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"{event} is not expected in state {state}")
        self.state = state
        self.event = event
