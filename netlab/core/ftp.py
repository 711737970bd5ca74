"""`netlab ftp`: an FTP client (RFC 959, RFC 2428), kept to show.

    ← 220 greeting
    USER anonymous  →  ← 331          PASS …  →  ← 230          TYPE I  →  ← 200
    passive:  PASV (EPSV on IPv6)  →  ← 227 (h1,h2,h3,h4,p1,p2)   we connect to p1×256+p2
    active:   we listen; PORT h1,h2,h3,h4,p1,p2 (EPRT |2|addr|port|)  →  ← 200
    LIST / MLSD / RETR path / STOR path  →  ← 150, the data connection (active: the
              server connects to us, from its port 20), its bytes, its close  ← 226
    QUIT  →  ← 221

A session core on the socket runner: the control connection ("ctl") and the data
connection (passive: "data", which we open; active: ("listen", n), which the server
opens to our `Listen`) in one loop. Every command and reply line is kept for the
renderer and --json; every data connection with who connected to whom, its bytes and
its time. The bytes of a `get` go out as `Chunk` events (the command writes the file),
a listing is kept (bounded). Replies are read by `ReplyReader`, bounded in line length,
lines and bytes: a server that never ends its multiline reply is an error, not a hang.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import unquote

from netlab.core import base
from netlab.core.base import NS, Close, Connected, CoreBase, Listen, Open, SocketError, Write

DEFAULT_PORT = 21
MAX_LINE = 2048  # bytes of one reply line (RFC 959 sets none; servers stay far below)
MAX_REPLY_LINES = 200  # lines of one multiline reply
MAX_REPLY_BYTES = 64 * 1024
MAX_LISTING = 16 * 1024 * 1024  # a listing is kept in memory to be shown
MAX_CONTROL_KEPT = 2000  # control lines kept for the view
ANONYMOUS_PASSWORD = "netlab@"  # what curl and others send as the anonymous password


class FtpUrlError(ValueError):
    pass


class FtpProtocolError(Exception):
    """The server broke the protocol (a malformed or unbounded reply)."""


class FtpUrl:
    """ftp://[USER[:PASS]@]HOST[:PORT]/PATH, decoded. (Plain classes here and below, not
    dataclasses: making a dataclass compiles code at import, which a command pays on
    every start.)"""

    __slots__ = ("anonymous", "host", "password", "path", "port", "user")

    def __init__(self, host: str, port: int, user: str, password: str, path: str,
                 anonymous: bool) -> None:  # fmt: skip
        self.host, self.port, self.user, self.password = host, port, user, password
        self.path = path  # without the leading "/", percent-decoded
        self.anonymous = anonymous

    def with_path(self, path: str) -> FtpUrl:
        return FtpUrl(self.host, self.port, self.user, self.password, path, self.anonymous)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == DEFAULT_PORT else f":{self.port}"
        user = "" if self.anonymous else f"{self.user}@"
        return f"ftp://{user}{host}{port}/{self.path}"


def parse_ftp_url(text: str) -> FtpUrl:
    _, parts, port = base.split_url(text, "ftp", FtpUrlError, "netlab ftp")
    user = unquote(parts.username) if parts.username else "anonymous"
    password = unquote(parts.password) if parts.password is not None else ANONYMOUS_PASSWORD
    path = unquote(parts.path)[1:] if parts.path.startswith("/") else unquote(parts.path)
    for what, value in (("user", user), ("password", password), ("path", path)):
        if any(c in value for c in "\r\n\0"):
            raise FtpUrlError(f"malformed URL: a line break or NUL in the {what}")
    anonymous = user.lower() in ("anonymous", "ftp")
    return FtpUrl(parts.hostname, port or DEFAULT_PORT, user, password, path, anonymous)


class FtpOptions:
    __slots__ = ("active", "allow_foreign_pasv", "command", "extended", "mlsd", "timeout",
                 "upload")  # fmt: skip

    def __init__(self, command: str = "ls", active: bool = False, extended: bool = False,
                 mlsd: bool = False, allow_foreign_pasv: bool = False, upload: bytes = b"",
                 timeout: float = 10.0) -> None:  # fmt: skip
        self.command = command  # "ls", "get" or "put"
        self.active = active  # PORT/EPRT (we listen) instead of PASV/EPSV (we connect)
        self.extended = extended  # EPSV/EPRT on IPv4 too (always on IPv6)
        self.mlsd = mlsd  # ls with MLSD (RFC 3659) instead of LIST
        self.allow_foreign_pasv = allow_foreign_pasv  # follow a 227 naming another host
        self.upload = upload  # put: the bytes to store
        self.timeout = timeout  # for each reply, and for data to move


class Line:
    __slots__ = ("code", "direction", "text", "time")

    def __init__(self, direction: str, text: str, code: int | None, time: int) -> None:
        self.direction, self.text, self.code, self.time = direction, text, code, time


class DataConn:
    __slots__ = ("bytes", "closed", "conn", "dst", "opened", "src")

    def __init__(self, conn: Any, src: tuple[str, int], dst: tuple[str, int], opened: int):
        self.conn = conn
        self.src, self.dst = src, dst  # who connected to whom
        self.opened = opened
        self.closed: int | None = None
        self.bytes = 0


class Chunk:
    """Event: bytes of a file being fetched (the command writes them)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class FtpResult:
    def __init__(self, mode: str = "passive") -> None:
        self.mode = mode
        self.control: list[Line] = []
        self.control_dropped = 0
        self.data: list[DataConn] = []
        self.setup: str | None = None  # PASV, EPSV, PORT or EPRT
        self.announced: tuple[str, int] | None = None  # the address the setup named
        self.pasv_numbers: tuple[int, ...] | None = None  # h1..h4, p1, p2 (PASV/PORT)
        self.local: tuple[str, int] | None = None  # the control connection's ends
        self.peer: tuple[str, int] | None = None
        self.listing = bytearray()
        self.listing_cut = False
        self.transferred = 0
        self.transfer_start: int | None = None
        self.transfer_end: int | None = None
        self.completed = False
        self.error: str | None = None
        self.reply: str | None = None  # the server's reply behind a failure
        self.connect_at: int | None = None
        self.done_at: int | None = None

    def ms(self, later: int | None, earlier: int | None = None) -> float | None:
        base = earlier if earlier is not None else self.connect_at
        if later is None or base is None:
            return None
        return round((later - base) / 1e6, 3)


# --- replies ---------------------------------------------------------------------------------
class Reply:
    __slots__ = ("code", "lines")

    def __init__(self, code: int, lines: list[str]) -> None:
        self.code, self.lines = code, lines

    @property
    def text(self) -> str:
        return self.lines[-1][4:] if len(self.lines) == 1 else " / ".join(self.lines)

    @property
    def first(self) -> str:
        return self.lines[0]


_CODE = re.compile(r"^[1-5]\d\d[ -]")


class ReplyReader:
    """Cuts the control connection's bytes into replies (RFC 959 §4.2): one line
    "123 text", or "123-text" … up to a line "123 text". Bounded in every way."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.lines: list[str] = []  # the multiline reply under way
        self.size = 0

    def feed(self, data: bytes) -> list[tuple[list[str], Reply | None]]:
        """[(new lines, the reply they complete or None)] for DATA."""
        self.buf += data
        out: list[tuple[list[str], Reply | None]] = []
        while True:
            cut = self.buf.find(b"\n")
            if cut < 0:
                if len(self.buf) > MAX_LINE:
                    raise FtpProtocolError(f"a reply line longer than {MAX_LINE} bytes")
                return out
            if cut > MAX_LINE:
                raise FtpProtocolError(f"a reply line longer than {MAX_LINE} bytes")
            raw = bytes(self.buf[:cut]).rstrip(b"\r")
            del self.buf[: cut + 1]
            out.append(self._line(raw.decode("utf-8", "replace")))

    def _line(self, line: str) -> tuple[list[str], Reply | None]:
        self.size += len(line) + 2
        if not self.lines:
            if not _CODE.match(line) and not (len(line) == 3 and line.isdigit()):
                raise FtpProtocolError(f"not an FTP reply: {_short(line)!r}")
            if line[3:4] != "-":
                return [line], self._done([line])
            self.lines, self.size = [line], len(line) + 2
            return [line], None
        self.lines.append(line)
        if len(self.lines) > MAX_REPLY_LINES or self.size > MAX_REPLY_BYTES:
            code = self.lines[0][:3]
            raise FtpProtocolError(
                f"the multiline {code} reply did not end within {MAX_REPLY_LINES} lines / "
                f"{MAX_REPLY_BYTES // 1024} KiB"
            )
        if line[:3] == self.lines[0][:3] and line[3:4] in (" ", ""):
            return [line], self._done(self.lines)
        return [line], None

    def _done(self, lines: list[str]) -> Reply:
        self.lines, self.size = [], 0
        return Reply(int(lines[0][:3]), lines)


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[:n] + "…"


# --- the address forms ------------------------------------------------------------------------
_PASV = re.compile(r"(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})")


def parse_pasv(text: str) -> tuple[str, int, tuple[int, ...]]:
    """227's (h1,h2,h3,h4,p1,p2) -> (address, port = p1×256+p2, the six numbers)."""
    m = _PASV.search(text)
    if m is None:
        raise FtpProtocolError(f"no h1,h2,h3,h4,p1,p2 in the 227 reply {_short(text)!r}")
    nums = tuple(int(x) for x in m.groups())
    if any(n > 255 for n in nums):
        raise FtpProtocolError(f"a number over 255 in the 227 reply {_short(text)!r}")
    port = nums[4] * 256 + nums[5]
    if port == 0:
        raise FtpProtocolError("the 227 reply names port 0")
    return ".".join(map(str, nums[:4])), port, nums


def parse_epsv(text: str) -> int:
    """229's (|||port|) -> port (RFC 2428 §3; the delimiter is whatever char comes first)."""
    start = text.find("(")
    end = text.find(")", start + 1)
    inner = text[start + 1 : end] if start >= 0 and end > start else ""
    if len(inner) < 5:
        raise FtpProtocolError(f"no (|||port|) in the 229 reply {_short(text)!r}")
    d = inner[0]
    parts = inner.split(d)
    if len(parts) != 5 or parts[1] or parts[2] or not parts[3].isdigit() or parts[4]:
        raise FtpProtocolError(f"no (|||port|) in the 229 reply {_short(text)!r}")
    port = int(parts[3])
    if not 0 < port < 65536:
        raise FtpProtocolError(f"the 229 reply names port {port}")
    return port


def port_argument(host: str, port: int) -> str:
    """PORT's h1,h2,h3,h4,p1,p2."""
    return ",".join([*host.split("."), str(port >> 8), str(port & 255)])


def eprt_argument(host: str, port: int) -> str:
    """EPRT's |1|a.b.c.d|port| or |2|v6|port| (RFC 2428 §2)."""
    return f"|{2 if ':' in host else 1}|{host}|{port}|"


def same_host(a: str, b: str) -> bool:
    try:
        x, y = ipaddress.ip_address(a.split("%")[0]), ipaddress.ip_address(b.split("%")[0])
    except ValueError:
        return a == b
    x = getattr(x, "ipv4_mapped", None) or x
    y = getattr(y, "ipv4_mapped", None) or y
    return x == y


# --- the client ------------------------------------------------------------------------------
class FtpClient(CoreBase):
    CTL = "ctl"
    DATA = "data"
    LISTEN = "listen"

    def __init__(self, url: FtpUrl, address: str, options: FtpOptions) -> None:
        super().__init__()
        self.url, self.address, self.options = url, address, options
        self.result = FtpResult(mode="active" if options.active else "passive")
        self.reader = ReplyReader()
        self.step = "connect"  # what the next reply answers
        self._deadline: int | None = None
        self._now = 0
        self.data_conn: Any = None  # the current data connection's name
        self.data_up = False
        self.data_eof = False
        self.preliminary = False  # the 1xx of the transfer command came
        self.final: Reply | None = None  # its 2xx (226)
        self.sent_upload = False

    # --- the session-core interface -------------------------------------------------------
    def start(self, now: int) -> list:
        self._now = now
        self.result.connect_at = now
        self._arm(now)
        return [Open(self.CTL, "tcp", self.address, self.url.port)]

    def on_connected(self, conn: Any, info: Connected, now: int) -> list:
        self._now = now
        if self._finished:
            return [] if conn in (self.CTL, self.LISTEN) else [Close(conn)]
        r = self.result
        if conn == self.CTL:
            r.local, r.peer = info.local, info.peer
            self.step = "greeting"
            return []
        if conn == self.LISTEN:  # our listening socket for active mode: its port
            return self._send_port(info.local, now)
        # a data connection: ours (passive) or the server's (active)
        if conn != self.DATA and (self.data_conn is not None or not
                                  same_host(info.peer[0], r.peer[0])):  # fmt: skip
            return [Close(conn)]  # a second one, or from a host that is not the server
        self.data_conn, self.data_up = conn, True
        src, dst = (info.local, info.peer) if conn == self.DATA else (info.peer, info.local)
        r.data.append(DataConn(conn, src, dst, now))
        out: list = []
        if conn == self.DATA:  # passive: now the command that uses it
            out += self._transfer_command(now)
        else:
            out.append(Close(self.LISTEN))  # one connection is all we take
        return out + self._maybe_upload(now)

    def on_data(self, conn: Any, data: bytes, now: int) -> list:
        self._now = now
        if self._finished:
            return []
        if conn == self.CTL:
            if not data:
                return self._fail(now, f"the server closed the control connection "
                                       f"while waiting for {self._waiting_for()}")  # fmt: skip
            try:
                return self._control(data, now)
            except FtpProtocolError as err:
                return self._fail(now, f"malformed FTP from the server: {err}")
        if conn != self.data_conn:
            return []
        return self._data(data, now)

    def on_datagram(self, conn: Any, data: bytes, addr: tuple, now: int) -> list:
        return []

    def on_error(self, conn: Any, err: SocketError, now: int) -> list:
        self._now = now
        if self._finished:
            return []
        if conn == self.CTL:
            where = f"{self.address} port {self.url.port}"
            return self._fail(now, f"{err.op} to {where} failed: {err.reason}")
        if conn == self.LISTEN:
            return self._fail(now, f"{err.op} for the data connection failed: {err.reason}")
        if conn == self.data_conn or conn == self.DATA:
            ann = self.result.announced
            where = f" to {_hostport(ann)}" if ann and conn == self.DATA else ""
            return self._fail(now, f"the data connection{where} failed ({err.op}: {err.reason})")
        return []

    def on_timer(self, now: int) -> list:
        self._now = now
        if self._deadline is not None and now >= self._deadline:
            return self._fail(now, base.timeout_reason(self._waiting_for(), self.options.timeout))
        return []

    def deadline(self) -> int | None:
        return None if self._finished else self._deadline

    def interrupt(self, now: int) -> None:
        if not self._finished:
            self.result.error = self.result.error or "interrupted"
            self.result.done_at = now
            self._finish(now)

    # --- steps ------------------------------------------------------------------------------
    def _arm(self, now: int) -> None:
        self._deadline = now + int(self.options.timeout * NS)

    def _waiting_for(self) -> str:
        if self.step == "transfer":
            if not self.data_up:
                return "the data connection"
            return "the end of the transfer (226 and the data connection's close)"
        return {"connect": "the TCP connection", "greeting": "the 220 greeting",
                "user": "the answer to USER", "pass": "the answer to PASS",
                "type": "the answer to TYPE I", "setup": f"the answer to {self.result.setup}",
                "quit": "the answer to QUIT"}.get(self.step, self.step)  # fmt: skip

    def _send(self, now: int, line: str, shown: str | None = None) -> list:
        self._keep("out", shown or line, None, now)
        return [Write(self.CTL, line.encode("utf-8") + b"\r\n")]

    def _keep(self, direction: str, text: str, code: int | None, now: int) -> None:
        r = self.result
        if len(r.control) < MAX_CONTROL_KEPT:
            r.control.append(Line(direction, text, code, now))
        else:
            r.control_dropped += 1

    def _control(self, data: bytes, now: int) -> list:
        out: list = []
        for lines, reply in self.reader.feed(data):
            code = int(lines[0][:3]) if _CODE.match(lines[0]) or lines[0].isdigit() else None
            for line in lines:
                self._keep("in", line, reply.code if reply else code, now)
            if reply is not None:
                out += self._reply(reply, now)
                if self._finished:
                    break
        return out

    def _reply(self, reply: Reply, now: int) -> list:
        self._arm(now)
        step, code = self.step, reply.code
        if step == "greeting":
            if code == 120:
                return []  # "service ready in nnn minutes": the 220 follows
            if code != 220:
                return self._refused(now, reply, "the greeting")
            self.step = "user"
            return self._send(now, f"USER {self.url.user}")
        if step == "user":
            if code == 230:
                return self._logged_in(now)
            if code != 331:
                return self._refused(now, reply, "USER")
            self.step = "pass"
            shown = None if self.url.anonymous else "PASS " + "*" * len(self.url.password)
            return self._send(now, f"PASS {self.url.password}", shown)
        if step == "pass":
            if code not in (230, 202):
                return self._refused(now, reply, "PASS")
            return self._logged_in(now)
        if step == "type":
            if code // 100 != 2:
                return self._refused(now, reply, "TYPE I")
            return self._setup(now)
        if step == "setup":
            return self._setup_reply(reply, now)
        if step == "transfer":
            return self._transfer_reply(reply, now)
        if step == "quit":
            return self._done(now)
        return []

    def _logged_in(self, now: int) -> list:
        self.step = "type"
        return self._send(now, "TYPE I")

    def _extended(self) -> bool:
        return self.options.extended or ":" in (self.result.peer or (self.address,))[0]

    def _setup(self, now: int) -> list:
        self.step = "setup"
        r = self.result
        if not self.options.active:
            r.setup = "EPSV" if self._extended() else "PASV"
            return self._send(now, r.setup)
        r.setup = "EPRT" if self._extended() else "PORT"
        return [Listen(self.LISTEN, r.local[0], 0, backlog=2)]

    def _send_port(self, local: tuple[str, int], now: int) -> list:
        r = self.result
        host, port = local[0], local[1]
        if r.setup == "PORT" and ":" in host:
            mapped = ipaddress.ip_address(host.split("%")[0]).ipv4_mapped
            if mapped is None:
                return self._fail(now, "PORT needs an IPv4 address (use EPRT)")
            host = str(mapped)
        r.announced = (host, port)
        if r.setup == "PORT":
            arg = port_argument(host, port)
            r.pasv_numbers = tuple(int(x) for x in arg.split(","))
        else:
            arg = eprt_argument(host, port)
        return self._send(now, f"{r.setup} {arg}")

    def _setup_reply(self, reply: Reply, now: int) -> list:
        r = self.result
        if r.setup in ("PORT", "EPRT"):
            if code_class(reply.code) != 2:
                return self._refused(now, reply, r.setup)
            self.step = "transfer"
            return self._transfer_command(now)
        if reply.code // 100 != 2:
            return self._refused(now, reply, r.setup)
        text = " ".join(reply.lines)
        if r.setup == "PASV":
            host, port, nums = parse_pasv(text)
            r.pasv_numbers = nums
            if not same_host(host, r.peer[0]) and not self.options.allow_foreign_pasv:
                r.announced = (host, port)
                r.reply = reply.first
                return self._fail(
                    now,
                    f"the 227 reply points at {host} port {port}, not at "
                    f"the server {r.peer[0]}: refused (a server must not "
                    "send us elsewhere; --allow-foreign-pasv follows it)",
                )
        else:
            host, port = r.peer[0], parse_epsv(text)
        r.announced = (host, port)
        self.step = "transfer"
        return [Open(self.DATA, "tcp", host, port)]

    def _transfer_command(self, now: int) -> list:
        o, path = self.options, self.url.path
        self.result.transfer_start = now  # the transfer is timed from its command
        if o.command == "ls":
            verb = "MLSD" if o.mlsd else "LIST"
            return self._send(now, f"{verb} {path}".rstrip())
        if o.command == "get":
            return self._send(now, f"RETR {path}")
        return self._send(now, f"STOR {path}")

    def _transfer_reply(self, reply: Reply, now: int) -> list:
        if reply.code // 100 == 1:
            self.preliminary = True
            return self._maybe_upload(now)
        if reply.code // 100 != 2:
            return self._refused(now, reply, self._verb())
        self.final = reply
        return self._maybe_done(now)

    def _verb(self) -> str:
        o = self.options
        return {"ls": "MLSD" if o.mlsd else "LIST", "get": "RETR", "put": "STOR"}[o.command]

    def _maybe_upload(self, now: int) -> list:
        if self.options.command != "put" or self.sent_upload:
            return []
        if not (self.preliminary and self.data_up):
            return []
        self.sent_upload = True
        r = self.result
        size = len(self.options.upload)
        r.transferred = size
        if r.data:
            r.data[-1].bytes = size
        self.data_eof = True  # nothing comes back on it: our close ends it
        return [Write(self.data_conn, self.options.upload), Close(self.data_conn)]

    def _data(self, data: bytes, now: int) -> list:
        r = self.result
        conn = r.data[-1] if r.data else None
        if not data:
            self.data_eof = True
            if conn is not None:
                conn.closed = now
            r.transfer_end = now
            return self._maybe_done(now)
        self._arm(now)  # data moves: the timeout is for silence
        r.transferred += len(data)
        if conn is not None:
            conn.bytes += len(data)
        if self.options.command == "get":
            self._events.append(Chunk(data))
        elif len(r.listing) + len(data) <= MAX_LISTING:
            r.listing += data
        else:
            r.listing_cut = True
        return []

    def _maybe_done(self, now: int) -> list:
        if self.final is None or not self.data_eof:
            return []
        r = self.result
        if r.data and r.data[-1].closed is None:
            r.data[-1].closed = now
        if r.transfer_end is None:
            r.transfer_end = now
        r.completed = True
        self.step = "quit"
        return self._send(now, "QUIT")

    # --- ending -------------------------------------------------------------------------------
    def _done(self, now: int) -> list:
        self.result.done_at = now
        self._finish(now)
        return [Close(self.CTL)]

    def _refused(self, now: int, reply: Reply, what: str) -> list:
        self.result.reply = reply.first
        return self._fail(now, f"the server answered {what} with {reply.first}", quit=True)

    def _fail(self, now: int, reason: str, quit: bool = False) -> list:
        r = self.result
        r.error = r.error or reason
        r.done_at = r.done_at or now
        self._finish(now)
        out: list = []
        if quit and self.step not in ("quit", "connect"):
            out += self._send(now, "QUIT")  # polite, as curl is; not waited for
        out += [Close(c) for c in (self.data_conn, self.DATA, self.LISTEN) if c is not None]
        return [*out, Close(self.CTL)]


def code_class(code: int) -> int:
    return code // 100


def _hostport(addr: tuple[str, int]) -> str:
    host, port = addr
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


hostport = _hostport


# RFC 959 §4.2.1 (and RFC 2428, 3659): what each reply code says.
REPLY_CODES = {
    110: "restart marker",
    120: "service ready in a few minutes",
    125: "data connection already open; transfer starting",
    150: "file status okay; about to open the data connection",
    200: "command okay",
    202: "command not implemented, superfluous here",
    211: "system status",
    212: "directory status",
    213: "file status",
    214: "help message",
    215: "system type",
    220: "service ready for a new user (the greeting)",
    221: "closing the control connection (goodbye)",
    225: "data connection open; no transfer in progress",
    226: "closing the data connection; the transfer succeeded",
    227: "entering passive mode: the server listens at h1,h2,h3,h4 port p1×256+p2",
    229: "entering extended passive mode: the server listens at (|||port|)",
    230: "user logged in",
    250: "requested file action okay, completed",
    257: "pathname created",
    331: "user name okay, need a password",
    332: "need an account for login",
    350: "requested file action pending further information",
    421: "service not available, closing the control connection",
    425: "cannot open the data connection",
    426: "connection closed; transfer aborted",
    450: "file unavailable (busy)",
    451: "action aborted: local error in processing",
    452: "insufficient storage space",
    500: "syntax error, command unrecognised",
    501: "syntax error in parameters or arguments",
    502: "command not implemented",
    503: "bad sequence of commands",
    504: "command not implemented for that parameter",
    522: "network protocol not supported (EPRT/EPSV family)",
    530: "not logged in",
    532: "need an account for storing files",
    550: "file unavailable (not found, no access)",
    551: "page type unknown",
    552: "exceeded storage allocation",
    553: "file name not allowed",
}
REPLY_CLASSES = {
    1: "positive preliminary: more replies follow",
    2: "positive completion",
    3: "positive intermediate: send the next command",
    4: "transient negative: try again later",
    5: "permanent negative",
}
COMMANDS = {
    "USER": "the user name to log in as",
    "PASS": "the password (anonymous FTP: by custom an e-mail address)",
    "TYPE": "TYPE I: image (binary) transfers, bytes as they are",
    "PASV": "asks the server to listen for the data connection and say where (227)",
    "EPSV": "PASV for any address family: the server names only a port (229, RFC 2428)",
    "PORT": "tells the server where we listen: it connects to us, from its port 20",
    "EPRT": "PORT for any address family: |family|address|port| (RFC 2428)",
    "LIST": "a directory listing, over the data connection",
    "MLSD": "a machine-readable listing, one fact line per file (RFC 3659)",
    "RETR": "retrieve a file, over the data connection",
    "STOR": "store a file, sent over the data connection",
    "QUIT": "end the session",
}
