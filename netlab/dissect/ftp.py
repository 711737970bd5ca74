"""FTP and FTP-DATA in the dissector (tshark's "ftp" and "ftp-data"), RFC 959 and 2428.

FTP is found on TCP port 21; its stream then belongs to one `FtpSession` (a
registry.StreamProtocol session) which, like tshark's dissector, takes each segment as
it comes (no reassembly): its first line is a request ("USER anonymous": the segment
goes to port 21) or a response ("230 Login successful."), and later lines of a
multiline reply are shown as text. Fields are Wireshark's: `ftp.request`,
`ftp.response`, `ftp.request.command`, `ftp.request.arg`, `ftp.response.code`,
`ftp.response.arg`; PASV's 227 gives `ftp.passive.ip` and `ftp.passive.port`
(p1×256+p2; `ftp.passive.nat` when the address is not the server's), PORT
`ftp.active.cip`/`ftp.active.port` (`ftp.active.nat`), EPSV's 229 `ftp.epsv.ip` or
`ftp.epsv.ipv6` (the server's own address) and `ftp.epsv.port`, EPRT `ftp.eprt.af`,
`ftp.eprt.ip`/`ftp.eprt.ipv6` and `ftp.eprt.port`.

FTP-DATA: each of those four announces where the data connection will go. The session
registers that address and port with the TCP layer (`TcpTracker.expect`, what tshark's
conversation table does), so the stream that opens there later belongs to an
`FtpDataSession` linked to the control connection: each segment is "FTP Data: N bytes
(PASV) (RETR file)" with `ftp-data.setup-frame`, `ftp-data.setup-method`,
`ftp-data.command` and `ftp-data.command-frame`, and text (a listing) is handed on as
"Line-based text data" (`data-text-lines`). The session's state is made in `split`, which
also runs in the light pass of `dissect --jobs`, so every job links the same way.
Bounded: a line is read up to its first 4 KiB; the expectations TCP keeps are capped.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket

import netlab.dissect.registry as registry
from netlab.dissect.model import Layer, Packet, row

FTP_PORT = 21
FTP_DATA_PORT = 20
MAX_LINE = 4096
_PASV = re.compile(rb"(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})")
# tshark's value string for the response codes it names (packet-ftp.c response_table).
RESPONSE_NAMES = {
    110: "Restart marker reply", 120: "Service ready in nnn minutes",
    125: "Data connection already open; transfer starting",
    150: "File status okay; about to open data connection", 200: "Command okay",
    202: "Command not implemented, superfluous at this site", 211: "System status, or system help reply",
    212: "Directory status", 213: "File status", 214: "Help message", 215: "NAME system type",
    220: "Service ready for new user", 221: "Service closing control connection",
    225: "Data connection open; no transfer in progress", 226: "Closing data connection",
    227: "Entering Passive Mode", 228: "Entering Long Passive Mode",
    229: "Entering Extended Passive Mode", 230: "User logged in, proceed",
    232: "User logged in, authorized by security data exchange",
    234: "Security data exchange complete", 235: "Security data exchange completed successfully",
    250: "Requested file action okay, completed", 257: "PATHNAME created",
    331: "User name okay, need password", 332: "Need account for login",
    334: "Requested security mechanism is ok", 335: "Security data is acceptable, more is required",
    336: "Username okay, need password. Challenge is ...",
    350: "Requested file action pending further information",
    421: "Service not available, closing control connection",
    425: "Can't open data connection", 426: "Connection closed; transfer aborted",
    431: "Need some unavailable resource to process security",
    450: "Requested file action not taken", 451: "Requested action aborted: local error in processing",
    452: "Requested action not taken. Insufficient storage space in system",
    500: "Syntax error, command unrecognized", 501: "Syntax error in parameters or arguments",
    502: "Command not implemented", 503: "Bad sequence of commands",
    504: "Command not implemented for that parameter", 522: "Network protocol not supported",
    530: "Not logged in", 532: "Need account for storing files",
    533: "Command protection level denied for policy reasons",
    534: "Request denied for policy reasons", 535: "Failed security check",
    536: "Data protection level not supported by security mechanism",
    537: "Command protection level not supported by security mechanism",
    550: "Requested action not taken: File unavailable",
    551: "Requested action aborted: page type unknown",
    552: "Requested file action aborted: Exceeded storage allocation",
    553: "Requested action not taken: File name not allowed",
    631: "Integrity protected reply", 632: "Confidentiality and integrity protected reply",
    633: "Confidentiality protected reply",
}  # fmt: skip


def _first_line(buf, off: int, end: int) -> tuple[bytes, int]:
    """(the first line without its end, where the line with its CRLF ends)."""
    stop = min(end, off + MAX_LINE)
    cut = buf.find(b"\n", off, stop)
    if cut < 0:
        return bytes(buf[off:stop]).rstrip(b"\r"), stop
    return bytes(buf[off:cut]).rstrip(b"\r"), cut + 1


def _ipv4(text: str) -> bytes | None:
    try:
        return socket.inet_aton(text) if text.count(".") == 3 else None
    except OSError:
        return None


def _ipv6(text: str) -> bytes | None:
    try:
        return socket.inet_pton(socket.AF_INET6, text)
    except OSError:
        return None


def parse_pasv(arg: bytes) -> tuple[bytes, int] | None:
    """h1,h2,h3,h4,p1,p2 anywhere in ARG -> (the address's 4 bytes, p1×256+p2)."""
    m = _PASV.search(arg)
    if m is None:
        return None
    nums = [int(x) for x in m.groups()]
    if any(n > 255 for n in nums):
        return None
    return bytes(nums[:4]), nums[4] * 256 + nums[5]


def parse_epsv(arg: bytes) -> int | None:
    """229's (|||port|) -> port."""
    start = arg.find(b"(")
    stop = arg.find(b")", start + 1)
    if start < 0 or stop < 0:
        return None
    parts = arg[start + 1 : stop].split(arg[start + 1 : start + 2] or b"|")
    if len(parts) != 5 or parts[1] or parts[2] or not parts[3].isdigit() or parts[4]:
        return None
    port = int(parts[3])
    return port if port < 65536 else None


def parse_eprt(arg: bytes) -> tuple[int, bytes, int] | None:
    """EPRT's |af|address|port| -> (af, the address's bytes, port)."""
    if len(arg) < 7:
        return None
    parts = arg.split(arg[:1])
    if len(parts) != 5 or parts[0] or parts[4] or not parts[1].isdigit() or not parts[3].isdigit():
        return None
    af, port = int(parts[1]), int(parts[3])
    text = parts[2].decode("ascii", "replace")
    raw = _ipv4(text) if af == 1 else _ipv6(text) if af == 2 else None
    if raw is None or port > 65535:
        return None
    return af, raw, port


# --- the control connection's session ---------------------------------------------------------
class DataLink:
    """What a data connection knows of the control connection that announced it (tshark's
    ftp_data_conversation_t): the setup frame and method, and the first command sent
    after it (the one the data answers), set when it comes."""

    __slots__ = ("command", "command_frame", "method", "setup_frame")

    def __init__(self, setup_frame: int, method: str) -> None:
        self.setup_frame, self.method = setup_frame, method
        self.command: str | None = None
        self.command_frame = 0


class FtpSession:
    """One FTP control connection: per segment, one PDU; the data connections announced,
    registered with TCP, and the command each of them answers."""

    __slots__ = ("current", "proto", "tcp")

    def __init__(self, proto: registry.StreamProtocol) -> None:
        self.proto = proto
        self.tcp = None
        self.current: DataLink | None = None  # the data connection announced last

    def bind(self, d) -> None:
        self.tcp = d.tcp

    def reset(self, side: int) -> None:
        """(Nothing spans segments.)"""

    def split(self, side: int, data, pos: int, end: int, fin: bool, no: int, ts_ns: int,
              carried: int = 0):  # fmt: skip
        if pos >= end:
            return [], end, None
        src, sport, _dst, dport = self.tcp.last if self.tcp is not None else (b"", 0, b"", 0)
        line, _stop = _first_line(data, pos, end)
        if _is_request(sport, dport):
            self._request(line, src, no)
            return [(decode_request, pos, end)], end, None
        self._response(line, src, no)
        return [(decode_response, pos, end)], end, None

    def _request(self, line: bytes, src: bytes, no: int) -> None:
        link = self.current
        if link is not None and link.command is None:  # the command the data answers
            link.command, link.command_frame = line.decode("utf-8", "replace"), no
        verb, arg = split_request(line)
        if verb == b"PORT":
            found = parse_pasv(arg)
            if found is not None:
                self._expect(found[0], found[1], "PORT", no)
        elif verb == b"EPRT":
            found = parse_eprt(arg)
            if found is not None:
                self._expect(src, found[2], "EPRT", no)  # (tshark: the sender's address)

    def _response(self, line: bytes, src: bytes, no: int) -> None:
        code = line[:3]
        if code == b"227" and len(line) > 4:
            found = parse_pasv(line[4:])
            if found is not None:
                self._expect(found[0], found[1], "PASV", no)
        elif code == b"229" and len(line) > 4:
            port = parse_epsv(line[4:])
            if port is not None:
                self._expect(src, port, "EPASV", no)

    def _expect(self, address: bytes, port: int, method: str, no: int) -> None:
        link = self.current = DataLink(no, method)
        if self.tcp is not None:
            self.tcp.expect(address, port, functools.partial(FtpDataSession, DATA_PROTOCOL,
                                                             link))  # fmt: skip


def split_request(line: bytes) -> tuple[bytes, bytes]:
    """(command, argument) as tshark's get_token_len cuts them: the first token, and the
    rest after the blanks that follow it."""
    verb, _, rest = line.partition(b" ")
    return verb, rest.lstrip(b" ")


def _is_request(sport: int, dport: int) -> bool:
    if dport == FTP_PORT or sport == FTP_PORT:
        return dport == FTP_PORT
    return dport < sport


class FtpDataSession:
    """One data connection, linked (LINK) to the control connection that announced it:
    each segment is one PDU."""

    __slots__ = ("link", "proto")

    def __init__(self, proto, link: DataLink | None) -> None:
        self.proto = proto
        self.link = link

    def reset(self, side: int) -> None:
        """(Nothing spans segments.)"""

    def split(self, side: int, data, pos: int, end: int, fin: bool, no: int, ts_ns: int,
              carried: int = 0):  # fmt: skip
        if pos >= end:
            return [], end, None
        k = self.link
        link = (k.setup_frame, k.method, k.command, k.command_frame) if k else None
        return [(functools.partial(decode_ftp_data, link), pos, end)], end, None


# --- decoders -----------------------------------------------------------------------------------
def decode_request(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    _decode(pkt, buf, off, end, True)


def decode_response(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    _decode(pkt, buf, off, end, False)


def _decode(pkt: Packet, buf: bytes, off: int, end: int, request: bool) -> None:
    line, _stop = _first_line(buf, off, end)
    text = line.decode("utf-8", "replace")
    pkt.protocol = "FTP"
    pkt.info = ("Request: " if request else "Response: ") + text
    if pkt.__class__ is not Packet:  # (the one-line view's stand-in: columns only)
        return
    layer = Layer("ftp", "File Transfer Protocol (FTP)", off, end, request, _rows)
    layer.extra = getattr(pkt, "src_raw", b"")
    pkt.layers.append(layer)


def decode_ftp(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    """A segment on its own (the first fragment of an IP datagram)."""
    tcp = next((x for x in reversed(pkt.layers) if x.proto == "tcp"), None)
    sport, dport = (tcp.hdr.sport, tcp.hdr.dport) if tcp is not None and tcp.hdr else (0, FTP_PORT)
    _decode(pkt, buf, off, end, _is_request(sport, dport))


def decode_ftp_data(link: tuple | None, d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    pkt.protocol = "FTP-DATA"
    pkt.info = f"FTP Data: {end - off} bytes"
    if link is not None:
        pkt.info += f" ({link[1]})" + (f" ({link[2]})" if link[2] is not None else "")
    if pkt.__class__ is not Packet:
        return
    layer = Layer("ftp-data", f"FTP Data ({end - off} bytes data)", off, end, link, _data_rows)
    pkt.layers.append(layer)
    if _is_text(buf, off, end):
        lines = bytes(buf[off:end]).count(b"\n") + (buf[end - 1] != 0x0A)
        pkt.layers.append(Layer("data-text-lines", f"Line-based text data ({lines} lines)",
                                off, end, None, None))  # fmt: skip


_TEXT = bytes(range(0x20, 0x7F)) + b"\r\n"


def _is_text(buf: bytes, off: int, end: int) -> bool:
    """Whether the data looks like text, as tshark decides: its first 20 bytes are
    printable ASCII, CR or LF (it then shows them as Line-based text)."""
    return not bytes(buf[off : min(end, off + 20)]).translate(None, _TEXT)


# --- fields -------------------------------------------------------------------------------------
def _rows(layer: Layer, buf: bytes) -> list:
    o, end, request = layer.off, layer.end, layer.hdr
    line, stop = _first_line(buf, o, end)
    rows = [
        row("ftp.response", not request, None, o, 0),
        row("ftp.request", request, None, o, 0),
        row("", None, line.decode("utf-8", "replace") + "\\r\\n", o, stop - o),
    ]
    rows += _request_rows(line, o, layer.extra) if request else _response_rows(line, o, layer)
    p = stop
    while p < end:  # the other lines of the segment (a multiline reply's): text items
        more, nxt = _first_line(buf, p, end)
        rows.append(row("", None, more.decode("utf-8", "replace") + "\\r\\n", p, nxt - p))
        p = nxt
    return rows


def _request_rows(line: bytes, o: int, src: bytes) -> list:
    verb, arg = split_request(line)
    rows = []
    if verb:
        command = verb.decode("utf-8", "replace")
        rows.append(row("ftp.request.command", command, f"Request command: {command}", o,
                        len(verb), 1))  # fmt: skip
    if not arg:
        return rows
    a = o + len(line) - len(arg)
    text = arg.decode("utf-8", "replace")
    rows.append(row("ftp.request.arg", text, f"Request arg: {text}", a, len(arg), 1))
    upper = verb  # (tshark compares the command's case as it is)
    if upper == b"PORT":
        rows += _address_rows(arg, a, src, _ACTIVE)
    elif upper == b"EPRT":
        found = parse_eprt(arg)
        if found is not None:
            af, raw, port = found
            fam = "IPv4" if af == 1 else "IPv6"
            rows += [
                row("ftp.eprt.af", af, f"Extended active address family: {fam} ({af})",
                    a, len(arg), 1),
                _extended_row(_EPRT, raw, a, len(arg)),
                row("ftp.eprt.port", port, f"Extended active port: {port}", a, len(arg), 1),
            ]  # fmt: skip
    return rows


# (label, address, port and NAT fields) of PORT's argument and of a 227 reply's
_ACTIVE = ("Active", "ftp.active.cip", "ftp.active.port", "ftp.active.nat")
_PASSIVE = ("Passive", "ftp.passive.ip", "ftp.passive.port", "ftp.passive.nat")
# (label, how it names IPv4, IPv4 and IPv6 fields) of EPRT's address and of EPSV's
_EPRT = ("Extended active", "IP", "ftp.eprt.ip", "ftp.eprt.ipv6")
_EPSV = ("Extended passive", "IPv4", "ftp.epsv.ip", "ftp.epsv.ipv6")


def _address_rows(arg: bytes, a: int, src: bytes, names: tuple) -> list:
    """PORT's argument or a 227 reply's (h1,h2,h3,h4,p1,p2): the address, the port, and
    whether the address is not the sender's (NAT)."""
    found = parse_pasv(arg)
    if found is None:
        return []
    mode, ip_field, port_field, nat_field = names
    ip = socket.inet_ntoa(found[0])
    rows = [
        row(ip_field, ip, f"{mode} IP address: {ip}", a, len(arg), 1),
        row(port_field, found[1], f"{mode} port: {found[1]}", a, len(arg), 1),
    ]
    if src and len(src) == 4 and src != found[0]:
        rows.append(row(nat_field, True, f"{mode} IP NAT: True", a, len(arg), 1))
    return rows


def _extended_row(names: tuple, raw: bytes, a: int, length: int) -> tuple:
    """EPRT's or EPSV's address (raw: 4 or 16 bytes)."""
    label, v4, v4_field, v6_field = names
    if len(raw) == 4:
        ip = socket.inet_ntoa(raw)
        return row(v4_field, ip, f"{label} {v4} address: {ip}", a, length, 1)
    ip = str(ipaddress.IPv6Address(raw))
    return row(v6_field, ip, f"{label} IPv6 address: {ip}", a, length, 1)


def _response_rows(line: bytes, o: int, layer: Layer) -> list:
    digits = line[:3]
    if len(digits) < 3 or not digits.isdigit():  # a line inside a multiline reply
        text = line.decode("utf-8", "replace")
        return (
            [row("ftp.response.arg", text, f"Response arg: {text}", o, len(line), 1)]
            if line
            else []
        )
    code = int(digits)
    name = RESPONSE_NAMES.get(code, "Unknown")
    rows = [row("ftp.response.code", code, f"Response code: {name} ({code})", o, 3, 1)]
    if len(line) <= 4:
        return rows
    arg = line[4:]
    text = arg.decode("utf-8", "replace")
    a = o + 4
    rows.append(row("ftp.response.arg", text, f"Response arg: {text}", a, len(arg), 1))
    src = layer.extra
    if code == 227:
        rows += _address_rows(arg, a, src, _PASSIVE)
    elif code == 229:
        port = parse_epsv(arg)
        if port is not None:
            if len(src) in (4, 16):  # (the address is the server's own)
                rows.append(_extended_row(_EPSV, src, a, 0))
            rows.append(row("ftp.epsv.port", port, f"Extended passive port: {port}", a,
                            len(arg), 1))  # fmt: skip
    return rows


def _data_rows(layer: Layer, buf: bytes) -> list:
    if layer.hdr is None:
        return []
    setup_frame, method, command, command_frame = layer.hdr
    rows = [
        row("ftp-data.setup-frame", setup_frame, f"Setup frame: {setup_frame}"),
        row("ftp-data.setup-method", method, f"Setup method: {method}"),
    ]
    if command is not None:
        rows += [
            row("ftp-data.command", command, f"Command: {command}"),
            row("ftp-data.command-frame", command_frame, f"Command frame: {command_frame}"),
        ]
    return rows


def _no_length(data: bytes) -> None:
    """StreamProtocol.pdu_length: unused, the sessions split the bytes."""
    return None


PROTOCOL = registry.StreamProtocol(decode_ftp, _no_length, FtpSession)


def _data_alone(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    decode_ftp_data(None, d, pkt, buf, off, end)


def _unlinked(proto: registry.StreamProtocol) -> FtpDataSession:
    """(Streams are given their FtpDataSession by TcpTracker.expect; this never links.)"""
    return FtpDataSession(proto, None)


DATA_PROTOCOL = registry.StreamProtocol(_data_alone, _no_length, _unlinked)

# Port 20 (active mode's data from the server) is FTP-DATA by itself, as in tshark: a
# data connection whose PORT/EPRT was not seen (the capture started later).
registry.register("ftp", "ftp-data", tcp_ports={FTP_PORT: PROTOCOL, FTP_DATA_PORT: DATA_PROTOCOL})
