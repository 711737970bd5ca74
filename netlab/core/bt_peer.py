"""Greeting one BitTorrent peer over TCP: handshakes, extensions, what it has.

    us    → handshake (info_hash, our peer id, the BEP 10 extension bit)
    peer  → handshake (the same info_hash, or it closes: it does not have the torrent)
    us    → extension handshake (if the peer set the bit too): m, v, yourip, reqq
    peer  → extension handshake: its client (v), listen port (p), our address as it
            sees it (yourip), reqq, metadata_size, the extensions it speaks (m)
    peer  → bitfield, or have all / have none (BEP 6): the pieces it has
    us    → interested (--interested), and wait for unchoke
    close

A session core on the socket runner: stream bytes in, `Write`s out, every message
kept (name, size, time) for display. Bounded: the peer-wire splitter refuses a
message over `max_message` at once; MAX_MESSAGES kept; the whole greeting within
the timeout. The greeting is complete when the handshake came, then its extension
handshake (if it announced one), then its piece availability; a peer that sends
nothing after its handshake (BEP 3 lets a peer with no pieces skip the bitfield) is
given GRACE seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netlab.core import base
from netlab.core.base import NS, Close, Connected, CoreBase, Open, SocketError, Write
from netlab.wire import peerwire

MAX_MESSAGES = 1000  # kept for display; later ones are counted
MAX_RECEIVED = 8 << 20  # bytes from the peer in one greeting
GRACE = 1.0  # seconds to wait for a bitfield after the handshakes


@dataclass(frozen=True)
class PeerOptions:
    info_hash: bytes
    peer_id: bytes
    num_pieces: int | None = None  # from the .torrent, when given
    interested: bool = False
    dht: bool = False  # set the DHT bit in our handshake
    fast: bool = False  # set the fast-extension bit (BEP 6)
    listen_port: int | None = None  # "p" in our extension handshake
    timeout: float = 5.0
    max_message: int = peerwire.MAX_MESSAGE_LENGTH
    client: str = "netlab"


@dataclass
class Seen:
    direction: str  # "sent" or "received"
    name: str
    length: int  # bytes on the wire
    at: int  # ns
    detail: str = ""


@dataclass
class PeerResult:
    host: str
    port: int
    ours: peerwire.Handshake | None = None
    theirs: peerwire.Handshake | None = None
    our_extensions: dict[str, int] = field(default_factory=dict)
    extension: peerwire.ExtensionHandshake | None = None
    bitfield: bytes | None = None
    bitfield_note: str | None = None  # a bitfield of the wrong size, or spare bits set
    have_all: bool = False
    have_none: bool = False
    haves: set[int] = field(default_factory=set)
    allowed_fast: list[int] = field(default_factory=list)
    dht_port: int | None = None
    unchoked: bool | None = None  # --interested: whether the unchoke came
    messages: list[Seen] = field(default_factory=list)
    messages_dropped: int = 0
    received_bytes: int = 0
    connect_at: int | None = None
    connected_at: int | None = None
    handshake_at: int | None = None
    done_at: int | None = None
    error: str | None = None
    completed: bool = False  # the peer's handshake came with our info-hash

    def pieces(self, num_pieces: int | None) -> int | None:
        """How many pieces the peer says it has (None: it said nothing)."""
        if self.have_all:
            return num_pieces
        if self.have_none:
            return len(self.haves)
        if self.bitfield is not None:
            base = peerwire.bitfield_count(self.bitfield, num_pieces)
            extra = {i for i in self.haves if not _bit(self.bitfield, i)}
            return base + len(extra)
        return len(self.haves) if self.haves else None

    def ms(self, at: int | None) -> float | None:
        base = self.connected_at
        return None if at is None or base is None else round((at - base) / 1e6, 3)


def _bit(bitfield: bytes, i: int) -> bool:
    return i // 8 < len(bitfield) and bool(bitfield[i // 8] & (0x80 >> (i % 8)))


class PeerGreeting(CoreBase):
    CONN = "peer"

    def __init__(self, host: str, port: int, options: PeerOptions) -> None:
        super().__init__()
        self.options = options
        self.result = PeerResult(host, port)
        self.buf = bytearray()
        self.phase = "connect"  # connect, handshake, greeting, interested, done
        self._deadline: int | None = None
        self._grace_at: int | None = None
        self._now = 0

    # --- the session-core interface -------------------------------------------------------
    def start(self, now: int) -> list:
        self._now = now
        self._deadline = now + int(self.options.timeout * NS)
        return [Open(self.CONN, "tcp", self.result.host, self.result.port)]

    def on_connected(self, conn: Any, info: Connected, now: int) -> list:
        self._now = now
        r, o = self.result, self.options
        r.connect_at, r.connected_at = info.connect_at, now
        reserved = peerwire.reserved_bytes(extension_protocol=True, dht=o.dht, fast=o.fast)
        raw = peerwire.build_handshake(o.info_hash, o.peer_id, reserved)
        r.ours, _ = peerwire.parse_handshake(raw)
        self.phase = "handshake"
        self._seen("sent", "handshake", len(raw), now)
        return [Write(self.CONN, raw)]

    def on_data(self, conn: Any, data: bytes, now: int) -> list:
        self._now = now
        if self._finished:
            return []
        if not data:
            return self._closed(now)
        self.result.received_bytes += len(data)
        if self.result.received_bytes > MAX_RECEIVED:
            return self._fail(now, f"the peer sent over {MAX_RECEIVED} bytes: stopped")
        self.buf += data
        try:
            out = self._handshake(now) if self.phase == "handshake" else []
            if self.phase not in ("handshake", "done"):
                out += self._messages(now)
        except peerwire.PeerWireError as err:
            return self._fail(now, f"malformed peer wire from the peer: {err}")
        return out

    def on_datagram(self, conn: Any, data: bytes, addr: tuple, now: int) -> list:
        return []

    def on_error(self, conn: Any, err: SocketError, now: int) -> list:
        where = f"{self.result.host} port {self.result.port}"
        reason = "refused" if err.refused else err.reason
        return self._fail(now, f"{err.op} to {where} failed: {reason}", close=False)

    def on_timer(self, now: int) -> list:
        self._now = now
        if self._finished:
            return []
        if self._grace_at is not None and now >= self._grace_at and self.phase == "greeting":
            return self._greeted(now)
        if self._deadline is not None and now >= self._deadline:
            if self.phase == "interested":
                self.result.unchoked = False
                return self._complete(now)
            if self.phase == "greeting" and self.result.completed:
                return self._greeted(now)
            return self._fail(now, base.timeout_reason(self._waiting_for(), self.options.timeout))
        return []

    def deadline(self) -> int | None:
        return self._earliest(self._deadline, self._grace_at)

    def interrupt(self, now: int) -> None:
        if not self._finished:
            self.result.error = self.result.error or "interrupted"
            self.result.done_at = now
            self._finish(now)

    # --- steps --------------------------------------------------------------------------------
    def _handshake(self, now: int) -> list:
        r = self.result
        if len(self.buf) < peerwire.HANDSHAKE_LEN:
            if not peerwire.looks_like_handshake(bytes(self.buf[:20])):
                peerwire.parse_handshake(bytes(self.buf))  # raises, saying what is wrong
            return []
        hs, used = peerwire.parse_handshake(bytes(self.buf[: peerwire.HANDSHAKE_LEN]))
        del self.buf[:used]
        r.theirs, r.handshake_at = hs, now
        self._seen("received", "handshake", used, now)
        if hs.info_hash != self.options.info_hash:
            return self._fail(
                now,
                f"the peer answered for info-hash {hs.info_hash.hex()}, "
                f"not {self.options.info_hash.hex()}",
            )
        r.completed = True
        self.phase = "greeting"
        self._grace_at = now + int(GRACE * NS)
        out: list = []
        if hs.extension_protocol:
            out.append(self._our_extensions(now))
        return out

    def _our_extensions(self, now: int) -> Write:
        o = self.options
        # We implement no extension messages, so we offer none (m empty): the peer then
        # sends us none either, and its handshake still tells us what it speaks.
        raw = peerwire.build_extension_handshake(
            {},
            v=o.client,
            p=o.listen_port,
            reqq=0,
            yourip=self.result.host.split("%")[0],
        )
        self.result.our_extensions = {}
        self._seen("sent", "extended handshake", len(raw), now, f"v {o.client!r}")
        return Write(self.CONN, raw)

    def _messages(self, now: int) -> list:
        msgs, rest = peerwire.split_messages(bytes(self.buf), self.options.max_message)
        self.buf = bytearray(rest)
        out: list = []
        for m in msgs:
            out += self._message(m, now)
            if self._finished:
                break
        if not self._finished and self.phase == "greeting" and self._greeting_complete():
            out += self._greeted(now)
        return out

    def _message(self, m: peerwire.Message, now: int) -> list:
        r = self.result
        detail = ""
        if m.id == peerwire.BITFIELD:
            r.bitfield = m.bitfield
            n = self.options.num_pieces
            detail = f"{peerwire.bitfield_count(m.bitfield, n)} of {n or len(m.bitfield) * 8} set"
            if n is not None and len(m.bitfield) != (n + 7) // 8:
                want = (n + 7) // 8
                r.bitfield_note = f"{len(m.bitfield)} bytes for {n} pieces (BEP 3: {want})"
            elif n is not None and peerwire.bitfield_count(m.bitfield) != peerwire.bitfield_count(
                m.bitfield, n
            ):
                r.bitfield_note = "spare bits past the last piece are set (BEP 3: must be 0)"
        elif m.id == peerwire.HAVE_ALL:
            r.have_all = True
        elif m.id == peerwire.HAVE_NONE:
            r.have_none = True
        elif m.id == peerwire.HAVE and len(r.haves) < 1 << 20:
            r.haves.add(m.index)
            detail = f"piece {m.index}"
        elif m.id == peerwire.ALLOWED_FAST and len(r.allowed_fast) < 1000:
            r.allowed_fast.append(m.index)
            detail = f"piece {m.index}"
        elif m.id == peerwire.PORT:
            r.dht_port = m.port
            detail = f"DHT port {m.port}"
        elif m.id == peerwire.EXTENDED and m.ext_id == 0:
            r.extension = m.ext_handshake
            detail = ", ".join(sorted(m.ext_handshake.m))
        elif m.id == peerwire.EXTENDED:
            detail = f"extension message {m.ext_id}, {len(m.ext_payload)} bytes"
        elif m.id in (peerwire.REQUEST, peerwire.CANCEL, peerwire.REJECT, peerwire.PIECE):
            detail = f"piece {m.index} offset {m.begin}"
        name = "extended handshake" if m.id == peerwire.EXTENDED and m.ext_id == 0 else m.name
        self._seen("received", name, m.wire_length, now, detail)
        if m.id == peerwire.UNCHOKE and self.phase == "interested":
            r.unchoked = True
            return self._complete(now)
        if m.id == peerwire.CHOKE and self.phase == "interested":
            r.unchoked = False
        return []

    def _greeting_complete(self) -> bool:
        r = self.result
        ext_done = r.extension is not None or not (r.theirs and r.theirs.extension_protocol)
        told = r.bitfield is not None or r.have_all or r.have_none
        return ext_done and told

    def _greeted(self, now: int) -> list:
        """The greeting is over: say we are interested, or close."""
        self._grace_at = None
        if not self.options.interested:
            return self._complete(now)
        self.phase = "interested"
        raw = peerwire.build_message(peerwire.INTERESTED)
        self._seen("sent", "interested", len(raw), now)
        return [Write(self.CONN, raw)]

    # --- ending -------------------------------------------------------------------------------
    def _seen(self, direction: str, name: str, length: int, now: int, detail: str = "") -> None:
        r = self.result
        if len(r.messages) >= MAX_MESSAGES:
            r.messages_dropped += 1
        else:
            r.messages.append(Seen(direction, name, length, now, detail))

    def _waiting_for(self) -> str:
        return {
            "connect": "the TCP connection",
            "handshake": "the peer's handshake",
            "greeting": "the peer's extension handshake or bitfield",
            "interested": "unchoke",
        }.get(self.phase, self.phase)

    def _closed(self, now: int) -> list:
        if self.phase == "handshake":
            got = f" after {len(self.buf)} bytes" if self.buf else ""
            return self._fail(
                now,
                f"the peer closed the connection{got} without a handshake "
                "(it does not have this torrent, or refused us)",
                close=False,
            )
        if self.phase == "interested":
            self.result.unchoked = False
        if self.result.completed:
            waiting = self._waiting_for()
            self.result.error = f"the peer closed the connection while waiting for {waiting}"
            return self._complete(now, close=False)
        return self._fail(now, "the peer closed the connection", close=False)

    def _complete(self, now: int, close: bool = True) -> list:
        self.phase = "done"
        self.result.done_at = now
        self._finish(now)
        return [Close(self.CONN)] if close else []

    def _fail(self, now: int, reason: str, close: bool = True) -> list:
        self.phase = "done"
        self.result.error = self.result.error or reason
        self.result.done_at = self.result.done_at or now
        self._finish(now)
        return [Close(self.CONN)] if close else []
