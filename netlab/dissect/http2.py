"""HTTP/2 (RFC 9113) frames in the dissector, fields named as Wireshark names them.

HTTP/2 rides in the HTTP session of a TCP stream (dissect/http.py): the connection
preface ("PRI * HTTP/2.0 …", found on any port, or on an HTTP port as tshark finds
it) or an upgrade to h2c turns a direction over to frames, and the session splits
them (9 + length bytes) with `split_frame`, which also keeps the connection's state:
one HPACK dynamic table per direction (netlab.wire.hpack; SETTINGS_HEADER_TABLE_SIZE
honoured), header blocks decoded as their HEADERS/PUSH_PROMISE and CONTINUATION
frames arrive (each frame shows the fields that end in it, as tshark does), and per
stream the content type and body size that the info column needs at END_STREAM.
The frame decoder here only presents what `split_frame` found.

Each frame is its own layer ("http2"), as in Wireshark's tree. Damage is marked
malformed: a frame shorter than its type needs (FRAME_SIZE_ERROR), a stream id where
none belongs, a CONTINUATION nobody expects, a header block that does not decode
(after which the direction's HPACK state is lost, as the connection would be), a
frame cut short by the end of the connection.
"""

from __future__ import annotations

import contextlib
import struct
from typing import Any

import netlab.dissect.registry as registry
from netlab.dissect.model import Layer, Packet, row
from netlab.wire.hpack import (
    INDEXED,
    LITERAL_INCREMENTAL,
    LITERAL_NEVER_INDEXED,
    DynamicTable,
    HpackError,
    HpackField,
    decode_block,
)
from netlab.wire.http2 import ERRORS, FRAME_TYPES

MAGIC = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FRAME_HEADER = 9
MAX_TABLE = 1 << 16  # the largest HPACK table kept per direction, whatever SETTINGS say
MAX_STREAMS = 4096  # streams remembered per connection (content type, body size)
MAX_FIELDS = 2000  # header fields per block
MAX_STRING = 1 << 20

# Frame type and error code names: written once, in wire/http2 (the client shows them too).
TYPE_NAMES = FRAME_TYPES
SETTINGS = {1: ("Header table size", "header_table_size"), 2: ("Enable PUSH", "enable_push"),
            3: ("Max concurrent streams", "max_concurrent_streams"),
            4: ("Initial Windows size", "initial_window_size"),
            5: ("Max frame size", "max_frame_size"),
            6: ("Max header list size", "max_header_list_size"),
            8: ("Extended CONNECT", "extended_connect")}  # fmt: skip
_SETTING_LABELS = {  # the value's own label, where Wireshark spells it differently
    4: "Initial Windows Size",
}
REPRESENTATIONS = {  # http2.header.repr, as Wireshark words it
    (INDEXED, True): "Indexed Header Field",
    (LITERAL_INCREMENTAL, True): "Literal Header Field with Incremental Indexing - Indexed Name",
    (LITERAL_INCREMENTAL, False): "Literal Header Field with Incremental Indexing - New Name",
    ("literal-without-indexing", True): "Literal Header Field without Indexing - Indexed Name",
    ("literal-without-indexing", False): "Literal Header Field without Indexing - New Name",
    (LITERAL_NEVER_INDEXED, True): "Literal Header Field never Indexed - Indexed Name",
    (LITERAL_NEVER_INDEXED, False): "Literal Header Field never Indexed - New Name",
}
# http2.headers.<name>: the header names Wireshark gives a field of their own; these three
# are numbers there.
HEADER_FIELDS = {
    name: "http2.headers." + name.lstrip(":").replace("-", "_")
    for name in (
        ":authority", ":status", ":path", ":method", ":scheme", "accept", "accept-charset",
        "accept-encoding", "accept-language", "accept-ranges", "access-control-allow-origin",
        "age", "allow", "authorization", "cache-control", "content-disposition",
        "content-encoding", "content-language", "content-length", "content-location",
        "content-range", "content-type", "cookie", "date", "etag", "expect", "expires", "from",
        "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since",
        "last-modified", "link", "location", "max-forwards", "proxy-authenticate",
        "proxy-authorization", "range", "referer", "refresh", "retry-after", "server",
        "set-cookie", "strict-transport-security", "user-agent", "vary", "via",
        "www-authenticate",
    )
}  # fmt: skip
NUMERIC_HEADERS = {":status", "age", "content-length", "max-forwards"}
# Flags per type: (unused field, unused mask, [(field, mask, label)]) from the high bit.
_FLAG_BITS = {
    0: ("http2.flags.unused_data", 0xF6,
        [("http2.flags.padded", 0x08, "Padded"), ("http2.flags.end_stream", 0x01, "End Stream")]),
    1: ("http2.flags.unused_headers", 0xD2,
        [("http2.flags.priority", 0x20, "Priority"), ("http2.flags.padded", 0x08, "Padded"),
         ("http2.flags.eh", 0x04, "End Headers"), ("http2.flags.end_stream", 0x01, "End Stream")]),
    4: ("http2.flags.unused_settings", 0xFE, [("http2.flags.ack.settings", 0x01, "ACK")]),
    5: ("http2.flags.unused_push_promise", 0xF3,
        [("http2.flags.padded", 0x08, "Padded"), ("http2.flags.eh", 0x04, "End Headers")]),
    6: ("http2.flags.unused_ping", 0xFE, [("http2.flags.ack.ping", 0x01, "ACK")]),
    9: ("http2.flags.unused_continuation", 0xFB,
        [("http2.flags.padded", 0x08, "Padded"), ("http2.flags.eh", 0x04, "End Headers")]),
}  # fmt: skip
_NO_FLAGS = ("http2.flags.unused", 0xFF, [])
_FIXED_LENGTH = {2: 5, 3: 4, 6: 8, 8: 4}  # PRIORITY, RST_STREAM, PING, WINDOW_UPDATE
_CONNECTION_ONLY = {4, 6, 7}  # SETTINGS, PING, GOAWAY: stream 0 only
_STREAM_ONLY = {0, 1, 2, 3, 5, 9}  # never on stream 0
_U32 = struct.Struct("!I")
# (bound once: compiled, a module name is a cached lookup, an attribute a search)
_unpack_u32 = _U32.unpack_from
_HEAD = struct.Struct("!BHBBI")  # length as 8 + 16 bits, type, flags, stream id
_unpack_head = _HEAD.unpack_from


def type_name(ftype: int) -> str:
    return TYPE_NAMES.get(ftype) or f"Unknown type ({ftype})"


# --- media types: what tshark's body dissectors add to the columns ----------------------
# (layer, info suffix) by media type, as tshark 4.0 dispatches an HTTP body (found by
# experiment: tests/test_dissect_http.py checks the ones the samples use). The suffix's
# "{}" is the media type. HTTP/1 shows any other type through "media"; HTTP/2 does not.
TEXT_LINES = frozenset((
    "text/plain", "text/html", "text/css", "text/javascript", "text/richtext", "text/enriched",
    "text/parameters", "text/xml-external-parsed-entity", "application/xml-external-parsed-entity",
    "application/x-javascript", "application/x-ns-proxy-autoconfig",
    "text/vnd.sun.j2me.app-descriptor", "application/vnd.poc.refer-to",
    "application/vnd.drm.message", "application/x-wms-logplaystats",
    "application/x-rtsp-udp-packetpair", "application/x-tia-p25-issi",
    "application/x-tia-p25-sndcp",
))  # fmt: skip
JSON_TYPES = frozenset(("application/json", "application/problem+json", "application/x-ndjson",
                        "application/json-rpc", "application/jsonrequest",
                        "application/dds-web+json", "application/vnd.oma.lwm2m+json"))  # fmt: skip
XML_TYPES = frozenset(("text/xml", "application/xml", "image/svg+xml", "application/rss+xml",
                       "application/atom+xml", "application/soap+xml", "text/vnd.wap.wml"))  # fmt: skip


def media(ctype: str | None, http1: bool) -> tuple[str, str, str] | None:
    """(body layer, info suffix, protocol tag) for a body of media type `ctype` (the
    Content-Type without parameters, lower case), or None: no body layer."""
    if ctype is None:
        return ("data", "", "") if http1 else None
    if ctype in TEXT_LINES:
        return "data-text-lines", f" ({ctype})", ""
    if ctype in JSON_TYPES:
        return "json", f", JavaScript Object Notation ({ctype})", "JSON"
    if ctype in XML_TYPES:
        return "xml", "", "XML"
    if ctype == "application/x-www-form-urlencoded":
        return "urlencoded-form", f" ({ctype})", ""
    if ctype == "message/http":
        return "message-http", f" ({ctype})", ""
    if ctype == "application/octet-stream":
        return ("data", "", "") if http1 else None
    if ctype == "application/grpc":
        return "grpc", "", ""
    return ("media", f" ({ctype})", "") if http1 else None


def media_type(value: str) -> str:
    """The media type of a Content-Type value: no parameters, lower case."""
    return value.split(";", 1)[0].strip().lower()


# --- the connection's state ---------------------------------------------------------------
class H2Conn:
    """One connection's HTTP/2 state (both directions), kept by the HTTP session.

    tables[side] decodes the header blocks that side sends; a header block in progress
    on a side keeps its stream, the undecoded tail (a representation cut by a frame
    boundary) and whether fields came already; streams holds, per (side, stream), the
    content type and the body bytes so far."""

    __slots__ = ("block_fields", "block_sid", "broken", "streams", "tables", "tails")

    def __init__(self) -> None:
        self.tables = (DynamicTable(), DynamicTable())
        self.block_sid: list[int | None] = [None, None]
        self.tails = [b"", b""]
        self.block_fields = [False, False]
        self.broken: list[str | None] = [None, None]
        self.streams: dict[tuple[int, int], list] = {}


class H2Frame:
    """What `split_frame` found in one frame: the decoder's `Layer.hdr` (magic: the
    preface; else the 9-byte header's values and the type's findings)."""

    __slots__ = ("body", "error", "extra", "fields", "flags", "ftype", "length", "magic",
                 "sid", "tail", "via_port")  # fmt: skip

    def __init__(self, magic: bool, length: int, ftype: int, flags: int, sid: int) -> None:
        self.magic = magic
        self.length = length
        self.ftype = ftype
        self.flags = flags
        self.sid = sid
        self.fields: list[HpackField] = []  # header fields that end in this frame
        self.tail = 0  # bytes of an earlier fragment before frag in the decoded data
        self.error: str | None = None  # why the frame is malformed
        self.extra = ""  # ": GET /" / ": 200 OK" after the frame in info and title
        self.body: tuple[str, str, str, str] | None = None  # END_STREAM: (layer, suffix, tag, type)
        self.via_port = False  # on an HTTP port: tshark's frame.protocols shows "http" first


def split_frame(conn: H2Conn, side: int, data, pos: int, end: int) -> tuple[H2Frame | None, int]:
    """The frame at data[pos:end] -> (its findings, its length), or (None, bytes needed
    so far) while it is incomplete. Updates the connection's state."""
    if end - pos < FRAME_HEADER:
        return None, FRAME_HEADER
    hi, lo, ftype, flags, sid = _unpack_head(data, pos)
    length = hi << 16 | lo
    total = FRAME_HEADER + length
    if end - pos < total:
        return None, total
    frame = H2Frame(False, length, ftype, flags, sid & 0x7FFFFFFF)
    try:
        _inspect(conn, side, frame, data, pos + FRAME_HEADER, pos + total)
    except (IndexError, struct.error, ValueError) as err:  # a bounds slip is damage, not a bug
        frame.error = frame.error or f"{type_name(ftype)} frame: {err}"
    return frame, total


def cut_frame(length: int, ftype: int, flags: int, sid: int, have: int) -> H2Frame:
    """A frame the connection's end cut short (have bytes of 9 + length)."""
    frame = H2Frame(False, length, ftype, flags, sid & 0x7FFFFFFF)
    frame.error = (
        f"frame cut short: {have} of {FRAME_HEADER + length} bytes before the end of the stream"
    )
    return frame


def _inspect(conn: H2Conn, side: int, frame: H2Frame, data, p: int, end: int) -> None:
    ftype, flags, sid, length = frame.ftype, frame.flags, frame.sid, frame.length
    name = type_name(ftype)
    need = _FIXED_LENGTH.get(ftype)
    if need is not None and length != need:
        frame.error = f"FRAME_SIZE_ERROR: {name} frame of length {length} (must be {need})"
        return
    if ftype in _CONNECTION_ONLY and sid:
        frame.error = f"PROTOCOL_ERROR: {name} frame on stream {sid} (must be 0)"
        return
    if ftype in _STREAM_ONLY and not sid:
        frame.error = f"PROTOCOL_ERROR: {name} frame on stream 0"
        return
    open_sid = conn.block_sid[side]
    if open_sid is not None and ftype != 9:
        conn.block_sid[side] = None  # the block can never be finished
        frame.error = f"PROTOCOL_ERROR: {name} frame while a header block on stream {open_sid} waits for CONTINUATION"
        return
    if ftype == 0:  # DATA
        pad = _padding(frame, data, p, end, flags)
        if pad is None:
            return
        state = conn.streams.get((side, sid))
        if state is not None:
            state[1] += end - p - pad[0] - pad[1]
        if flags & 0x01:
            _end_stream(conn, side, sid, frame)
    elif ftype in (1, 5):  # HEADERS, PUSH_PROMISE
        pad = _padding(frame, data, p, end, flags)
        if pad is None:
            return
        start = p + pad[0]
        if ftype == 1 and flags & 0x20:
            start += 5
        elif ftype == 5:
            start += 4
        stop = end - pad[1]
        if start > stop:
            frame.error = (
                f"FRAME_SIZE_ERROR: {name} frame of length {length} too short for its fields"
            )
            return
        _fragment(conn, side, frame, data, start, stop, first=True)
        if ftype == 1:
            _note_headers(conn, side, sid, frame)
            if flags & 0x01:
                _end_stream(conn, side, sid, frame)
        elif frame.fields:  # a promised request: its headers start the promised stream
            _note_headers(conn, side, _unpack_u32(data, p + pad[0])[0] & 0x7FFFFFFF, frame)
    elif ftype == 9:  # CONTINUATION
        if open_sid != sid:
            frame.error = (f"PROTOCOL_ERROR: CONTINUATION on stream {sid} without a header block to continue"
                           if open_sid is None else
                           f"PROTOCOL_ERROR: CONTINUATION on stream {sid}, the header block is on stream {open_sid}")  # fmt: skip
            conn.block_sid[side] = None
            return
        _fragment(conn, side, frame, data, p, end, first=False)
        _note_headers(conn, side, sid, frame)
    elif ftype == 3:  # RST_STREAM
        conn.streams.pop((0, sid), None)
        conn.streams.pop((1, sid), None)
    elif ftype == 4:  # SETTINGS
        if flags & 0x01:
            if length:
                frame.error = f"FRAME_SIZE_ERROR: SETTINGS ACK of length {length} (must be 0)"
            return
        if length % 6:
            frame.error = f"FRAME_SIZE_ERROR: SETTINGS of length {length} (a multiple of 6)"
            return
        for q in range(p, end, 6):
            if data[q] << 8 | data[q + 1] == 1:  # SETTINGS_HEADER_TABLE_SIZE: the peer's limit
                conn.tables[1 - side].set_limit(min(_unpack_u32(data, q + 2)[0], MAX_TABLE))
    elif ftype == 7:  # GOAWAY
        if length < 8:
            frame.error = f"FRAME_SIZE_ERROR: GOAWAY of length {length} (at least 8)"
    elif ftype == 10 and length >= 2 and 2 + (data[p] << 8 | data[p + 1]) > length:  # ALTSVC
        frame.error = "ALTSVC origin runs past the frame"


def _padding(frame: H2Frame, data, p: int, end: int, flags: int) -> tuple[int, int] | None:
    """(bytes before the content: the pad length byte; padding bytes at the end)."""
    if not flags & 0x08:
        return 0, 0
    if p >= end:
        frame.error = (
            f"FRAME_SIZE_ERROR: padded {type_name(frame.ftype)} frame without a pad length"
        )
        return None
    pad = data[p]
    if pad >= end - p:
        frame.error = f"PROTOCOL_ERROR: padding of {pad} bytes in a frame of length {frame.length}"
        return None
    return 1, pad


def _fragment(conn: H2Conn, side: int, frame: H2Frame, data, start: int, stop: int,
              first: bool) -> None:  # fmt: skip
    """Decode what this fragment completes of its header block (HPACK state updated)."""
    end_headers = bool(frame.flags & 0x04)
    if first:
        conn.tails[side] = b""
        conn.block_fields[side] = False
    conn.block_sid[side] = None if end_headers else frame.sid
    broken = conn.broken[side]
    if broken is not None:
        frame.error = f"header block not decoded: the HPACK state was lost ({broken})"
        return
    tail = conn.tails[side]
    frame.tail = len(tail)
    try:
        block = decode_block(tail + bytes(data[start:stop]), conn.tables[side],
                             max_fields=MAX_FIELDS, max_string=MAX_STRING, final=end_headers,
                             continued=conn.block_fields[side])  # fmt: skip
    except HpackError as err:
        conn.broken[side] = str(err)
        conn.block_sid[side] = None
        frame.error = f"HPACK: {err}"
        return
    decoded = tail + bytes(data[start:stop])
    conn.tails[side] = b"" if end_headers else decoded[block.length :]
    frame.fields = block.fields
    if frame.fields:
        conn.block_fields[side] = True
    pseudo = {}
    for field in frame.fields:
        if field.name[:1] == ":" and field.name not in pseudo:
            pseudo[field.name] = field.value
    if ":status" in pseudo:
        frame.extra = f"{pseudo[':status']} {status_phrase(pseudo[':status'])}"
    elif ":method" in pseudo:
        frame.extra = f"{pseudo[':method']} {pseudo.get(':path', '')}"


def _note_headers(conn: H2Conn, side: int, sid: int, frame: H2Frame) -> None:
    """Remember the stream's content type (its body's info suffix needs it)."""
    streams = conn.streams
    state = streams.get((side, sid))
    for field in frame.fields:
        if field.name == "content-type":
            if state is None:
                if len(streams) >= MAX_STREAMS:
                    streams.clear()
                state = streams[side, sid] = [None, 0]
            state[0] = media_type(field.value)
    if state is None and (side, sid) not in streams and frame.ftype == 1:
        if len(streams) >= MAX_STREAMS:
            streams.clear()
        streams[side, sid] = [None, 0]


def _end_stream(conn: H2Conn, side: int, sid: int, frame: H2Frame) -> None:
    state = conn.streams.pop((side, sid), None)
    if state is None or not state[1]:
        return  # no body
    found = media(state[0], http1=False)
    if found is not None:
        frame.body = (*found, state[0])


# --- status phrases ------------------------------------------------------------------------
STATUS_PHRASES = {
    100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
    199: "Informational - Others", 200: "OK", 201: "Created", 202: "Accepted",
    203: "Non-authoritative Information", 204: "No Content", 205: "Reset Content",
    206: "Partial Content", 207: "Multi-Status", 208: "Already Reported", 226: "IM Used",
    299: "Success - Others", 300: "Multiple Choices", 301: "Moved Permanently", 302: "Found",
    303: "See Other", 304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect",
    308: "Permanent Redirect", 399: "Redirection - Others", 400: "Bad Request",
    401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required",
    408: "Request Time-out", 409: "Conflict", 410: "Gone", 411: "Length Required",
    412: "Precondition Failed", 413: "Request Entity Too Large", 414: "Request-URI Too Long",
    415: "Unsupported Media Type", 416: "Requested Range Not Satisfiable",
    417: "Expectation Failed", 418: "I'm a teapot", 421: "Misdirected Request",
    422: "Unprocessable Entity", 423: "Locked", 424: "Failed Dependency", 425: "Too Early",
    426: "Upgrade Required", 428: "Precondition Required", 429: "Too Many Requests",
    431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
    499: "Client Error - Others", 500: "Internal Server Error", 501: "Not Implemented",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Time-out",
    505: "HTTP Version not supported", 506: "Variant Also Negotiates", 507: "Insufficient Storage",
    508: "Loop Detected", 510: "Not Extended", 511: "Network Authentication Required",
    599: "Server Error - Others",
}  # fmt: skip


def status_phrase(code: int | str) -> str:
    """Wireshark's description of a status code ("Not Found"; "Unknown (600)")."""
    try:
        number = int(code)
    except ValueError:
        return f"Unknown ({code})"
    return STATUS_PHRASES.get(number) or f"Unknown ({number})"


# --- the decoder: one layer per frame -----------------------------------------------------
def decode_frame(frame: H2Frame, d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    """Present one frame `split_frame` found (the session binds `frame`). The one-line
    view's stand-in for a Packet (tcp._Columns) gets the columns alone."""
    if frame.magic:
        text = "Magic"
    else:
        text = f"{type_name(frame.ftype)}[{frame.sid}]"
        if frame.extra:
            text += ": " + frame.extra
    tag = ""
    body = frame.body
    if body is not None:
        text += body[1]
        tag = body[2]
    if pkt.protocol in ("TCP", ""):
        pkt.info = text
    else:
        pkt.info += ", " + text if pkt.info else text
    protocol = pkt.protocol
    if not protocol.startswith("HTTP2"):
        protocol = "HTTP2"
    if tag and not protocol.endswith("/" + tag):
        protocol += "/" + tag
    pkt.protocol = protocol
    if pkt.__class__ is not Packet:
        if frame.error is not None:
            pkt.mark_malformed(None, f"http2: {frame.error}")
        return
    if frame.via_port and not any(layer.proto == "http" for layer in pkt.layers):
        pkt.layers.append(Layer("http", "", off, off, None, None))  # tshark's "http:http2"
    layer = Layer("http2", "HyperText Transfer Protocol 2", off, end, frame, _rows)
    pkt.layers.append(layer)
    if frame.error is not None:
        pkt.mark_malformed(layer, f"http2: {frame.error}")
    if body is not None:
        pkt.layers.append(Layer(body[0], _body_title(body), end, end, frame, None))


def _body_title(body: tuple[str, str, str, str]) -> str:
    proto, _suffix, _tag, ctype = body
    if proto == "data-text-lines":
        return f"Line-based text data: {ctype}"
    if proto == "json":
        return "JavaScript Object Notation: " + ctype
    if proto == "xml":
        return "eXtensible Markup Language"
    if proto == "urlencoded-form":
        return f"HTML Form URL Encoded: {ctype}"
    return f"Media Type: {ctype}"


# --- fields -------------------------------------------------------------------------------
def _bits(value: int, mask: int, width: int) -> str:
    chars = []
    for bit in range(width - 1, -1, -1):
        chars.append(("1" if value >> bit & 1 else "0") if mask >> bit & 1 else ".")
        if bit % 4 == 0 and bit:
            chars.append(" ")
    return "".join(chars)


def _title_of(frame: H2Frame) -> str:
    if frame.magic:
        return "Stream: Magic"
    text = f"Stream: {type_name(frame.ftype)}, Stream ID: {frame.sid}, Length {frame.length}"
    if frame.extra:
        text += ", " + frame.extra
    if frame.ftype == 0 and not frame.flags & 0x01:
        text += " (partial entity body)"
    return text


# fmt: off  (field tables: one Wireshark field per line reads best)
def _rows(layer: Layer, buf: bytes) -> list:
    frame: H2Frame = layer.hdr
    o, end = layer.off, layer.end
    if frame.magic:
        text = bytes(buf[o:end]).decode("latin-1")
        shown = text.replace("\r", "\\r").replace("\n", "\\n")
        return [
            row("http2.stream", "", "Stream: Magic", o, end - o),
            row("http2.magic", text, f"Magic: {shown}", o, end - o, 1),
        ]
    ftype, flags, sid, length = frame.ftype, frame.flags, frame.sid, frame.length
    if end - o < FRAME_HEADER:  # the connection ended inside a frame's header
        return [
            row(
                "http2.stream",
                "",
                f"Stream: frame header cut short ({end - o} of 9 bytes)",
                o,
                end - o,
            )
        ]
    rows = [
        row("http2.stream", "", _title_of(frame), o, end - o),
        row("http2.length", length, f"Length: {length}", o, 3, 1),
    ]
    tname = TYPE_NAMES.get(ftype)
    rows.append(
        row(
            "http2.type",
            ftype,
            f"Type: {tname} ({ftype})" if tname else f"Type: Unknown ({ftype})",
            o + 3,
            1,
            1,
        )
    )
    unused_name, unused_mask, bits = _FLAG_BITS.get(ftype, _NO_FLAGS)
    names = ", ".join(label for _n, mask, label in bits if flags & mask)
    rows.append(
        row(
            "http2.flags",
            flags,
            f"Flags: 0x{flags:02x}" + (f", {names}" if names else ""),
            o + 4,
            1,
            1,
        )
    )
    rows.append(
        row(
            unused_name,
            flags & unused_mask,
            f"{_bits(flags, unused_mask, 8)} = Unused: 0x{flags & unused_mask:02x}",
            o + 4,
            1,
            2,
        )
    )
    for name, mask, label in bits:
        rows.append(
            row(
                name,
                bool(flags & mask),
                f"{_bits(flags, mask, 8)} = {label}: {'True' if flags & mask else 'False'}",
                o + 4,
                1,
                2,
            )
        )
    raw = _unpack_u32(buf, o + 5)[0]
    rows.append(
        row(
            "http2.r",
            raw >> 31,
            f"{_bits(raw, 0x80000000, 32)} = Reserved: 0x{raw >> 31:x}",
            o + 5,
            4,
            1,
        )
    )
    rows.append(
        row(
            "http2.streamid",
            sid,
            f"{_bits(raw, 0x7FFFFFFF, 32)} = Stream Identifier: {sid}",
            o + 5,
            4,
            1,
        )
    )
    if end - o < FRAME_HEADER + length:
        return rows  # cut short by the end of the stream: the header alone
    p = o + FRAME_HEADER
    with contextlib.suppress(IndexError, struct.error):  # a damaged frame: the header alone
        rows += _payload_rows(frame, buf, p, end)
    return rows


def _payload_rows(frame: H2Frame, buf: bytes, p: int, end: int) -> list:
    ftype, flags = frame.ftype, frame.flags
    rows: list = []
    if frame.error is not None and frame.error.startswith(
        ("FRAME_SIZE_ERROR", "PROTOCOL_ERROR: padding")
    ):
        return rows
    if ftype in (0, 1, 5, 9):
        pad = 0
        if flags & 0x08 and ftype != 9:
            pad = buf[p]
            rows.append(row("http2.padding", pad, f"Pad Length: 0x{pad:02x}", p, 1, 1))
            p += 1
        rows.append(row("http2.pad_length", pad, f"[Pad Length: {pad}]", depth=1))
        stop = end - pad
        if ftype == 0:
            data = bytes(buf[p:stop])
            rows.append(
                row(
                    "http2.data.data",
                    data,
                    f"Data: {data[:36].hex()}{'…' if len(data) > 36 else ''}",
                    p,
                    stop - p,
                    1,
                )
            )
            if pad:
                rows.append(
                    row(
                        "http2.data.padding",
                        bytes(buf[stop:end]),
                        f"Padding: {bytes(buf[stop:end]).hex()}",
                        stop,
                        pad,
                        1,
                    )
                )
            return rows
        if ftype == 1 and flags & 0x20:
            rows += _priority_rows(buf, p, "http2.headers.weight")
            p += 5
        elif ftype == 5:
            raw = _unpack_u32(buf, p)[0]
            rows.append(
                row(
                    "http2.push_promise.r",
                    raw >> 31,
                    f"{_bits(raw, 0x80000000, 32)} = Reserved: 0x{raw >> 31:x}",
                    p,
                    4,
                    1,
                )
            )
            rows.append(
                row(
                    "http2.push_promise.promised_stream_id",
                    raw & 0x7FFFFFFF,
                    f"{_bits(raw, 0x7FFFFFFF, 32)} = Promised-Stream-ID: {raw & 0x7FFFFFFF}",
                    p,
                    4,
                    1,
                )
            )
            p += 4
        fragment = bytes(buf[p:stop])
        if ftype == 9:
            text = fragment.decode("latin-1")
            rows.append(
                row(
                    "http2.continuation.header",
                    text,
                    f"Continuation Header: {text}",
                    p,
                    stop - p,
                    1,
                )
            )
        else:
            name = "http2.headers" if ftype == 1 else "http2.push_promise.header"
            rows.append(
                row(
                    name,
                    fragment,
                    f"Header Block Fragment: {fragment[:36].hex()}{'…' if len(fragment) > 36 else ''}",
                    p,
                    stop - p,
                    1,
                )
            )
        rows += _header_rows(frame, p, stop)
        if pad:
            padding = bytes(buf[stop:end])
            name = {
                1: "http2.headers.padding",
                5: "http2.push_promise.padding",
                9: "http2.continuation.padding",
            }[ftype]
            rows.append(row(name, padding, f"Padding: {padding.hex()}", stop, pad, 1))
        return rows
    if ftype == 2:
        return _priority_rows(buf, p, "http2.headers.weight")
    if ftype == 3:
        code = _unpack_u32(buf, p)[0]
        return [
            row(
                "http2.rst_stream.error",
                code,
                f"Error: {ERRORS.get(code, 'Unknown')} ({code})",
                p,
                4,
                1,
            )
        ]
    if ftype == 4:
        for q in range(p, end - 5, 6):
            ident = buf[q] << 8 | buf[q + 1]
            value = _unpack_u32(buf, q + 2)[0]
            label, suffix = SETTINGS.get(ident, (None, "unknown"))
            shown = label or "Unknown"
            rows.append(row("http2.settings", "", f"Settings - {shown} : {value}", q, 6, 1))
            rows.append(
                row("http2.settings.id", ident, f"Settings Identifier: {shown} ({ident})", q, 2, 2)
            )
            rows.append(
                row(
                    f"http2.settings.{suffix}",
                    value,
                    f"{_SETTING_LABELS.get(ident, shown)}: {value}",
                    q + 2,
                    4,
                    2,
                )
            )
        return rows
    if ftype == 6:
        data = bytes(buf[p:end])
        if flags & 0x01:
            return [row("http2.pong", data, f"Pong: {data.hex()}", p, end - p, 1)]
        return [row("http2.ping", data, f"Ping: {data.hex()}", p, end - p, 1)]
    if ftype == 7:
        raw, code = struct.unpack_from("!II", buf, p)
        rows = [
            row(
                "http2.goway.r",
                raw >> 31,
                f"{_bits(raw, 0x80000000, 32)} = Reserved: 0x{raw >> 31:x}",
                p,
                4,
                1,
            ),
            row(
                "http2.goaway.last_stream_id",
                raw & 0x7FFFFFFF,
                f"{_bits(raw, 0x7FFFFFFF, 32)} = Last-Stream-ID: {raw & 0x7FFFFFFF}",
                p,
                4,
                1,
            ),
            row(
                "http2.goaway.error",
                code,
                f"Error: {ERRORS.get(code, 'Unknown')} ({code})",
                p + 4,
                4,
                1,
            ),
        ]
        if end > p + 8:
            debug = bytes(buf[p + 8 : end])
            rows.append(
                row(
                    "http2.goaway.addata",
                    debug,
                    f"Additional Debug Data: {debug.hex()}",
                    p + 8,
                    end - p - 8,
                    1,
                )
            )
        return rows
    if ftype == 8:
        raw = _unpack_u32(buf, p)[0]
        return [
            row(
                "http2.window_update.r",
                raw >> 31,
                f"{_bits(raw, 0x80000000, 32)} = Reserved: 0x{raw >> 31:x}",
                p,
                4,
                1,
            ),
            row(
                "http2.window_update.window_size_increment",
                raw & 0x7FFFFFFF,
                f"{_bits(raw, 0x7FFFFFFF, 32)} = Window Size Increment: {raw & 0x7FFFFFFF}",
                p,
                4,
                1,
            ),
        ]
    if ftype == 10 and end - p >= 2:
        olen = buf[p] << 8 | buf[p + 1]
        origin = bytes(buf[p + 2 : p + 2 + olen]).decode("latin-1")
        value = bytes(buf[p + 2 + olen : end]).decode("latin-1")
        return [
            row("http2.altsvc.origin.len", olen, f"Origin Length: {olen}", p, 2, 1),
            row("http2.altsvc.origin", origin, f"Origin: {origin}", p + 2, olen, 1),
            row(
                "http2.altsvc.field_value",
                value,
                f"Field/Value: {value}",
                p + 2 + olen,
                end - p - 2 - olen,
                1,
            ),
        ]
    if end > p:
        data = bytes(buf[p:end])
        return [row("http2.unknown", data, f"Unknown: {data.hex()}", p, end - p, 1)]
    return rows


def _priority_rows(buf: bytes, p: int, weight_name: str) -> list:
    raw = _unpack_u32(buf, p)[0]
    weight = buf[p + 4]
    return [
        row(
            "http2.exclusive",
            bool(raw >> 31),
            f"{_bits(raw, 0x80000000, 32)} = Exclusive: {'True' if raw >> 31 else 'False'}",
            p,
            4,
            1,
        ),
        row(
            "http2.stream_dependency",
            raw & 0x7FFFFFFF,
            f"{_bits(raw, 0x7FFFFFFF, 32)} = Stream Dependency: {raw & 0x7FFFFFFF}",
            p,
            4,
            1,
        ),
        row(weight_name, weight, f"Weight: {weight}", p + 4, 1, 1),
        row("http2.headers.weight_real", weight + 1, f"[Weight real: {weight + 1}]", depth=1),
    ]


def _header_rows(frame: H2Frame, start: int, stop: int) -> list:
    """The header fields that end in this frame, with where each lies in it (a field
    begun in an earlier fragment starts, here, at this fragment's start)."""
    fields = frame.fields
    if not fields:
        return []
    total = sum(len(f.name) + len(f.value) + 8 for f in fields)
    rows = [
        row("http2.header.length", total, f"[Header Length: {total}]", depth=1),
        row("http2.header.count", len(fields), f"[Header Count: {len(fields)}]", depth=1),
    ]
    pseudo: dict[str, str] = {}
    for field in fields:
        name, value = field.name, field.value
        if name[:1] == ":":
            pseudo.setdefault(name, value)
        at = start + field.offset - frame.tail
        size = field.length
        if at < start:
            size -= start - at
            at = start
        size = min(size, stop - at)
        shown = f"{value} {status_phrase(value)}" if name == ":status" else value
        rows.append(row("http2.header", "", f"Header: {name}: {shown}", at, size, 1))
        rows.append(
            row("http2.header.name.length", len(name), f"Name Length: {len(name)}", at, size, 2)
        )
        rows.append(row("http2.header.name", name, f"Name: {name}", at, size, 2))
        rows.append(
            row("http2.header.value.length", len(value), f"Value Length: {len(value)}", at, size, 2)
        )
        rows.append(row("http2.header.value", value, f"Value: {value}", at, size, 2))
        typed = HEADER_FIELDS.get(name)
        if typed is not None:
            typed_value: Any = value
            if name in NUMERIC_HEADERS:
                try:
                    typed_value = int(value)
                except ValueError:
                    typed_value = None
            if typed_value is not None:
                rows.append(row(typed, typed_value, f"{name}: {value}", at, size, 2))
        rows.append(row("http2.header.unescaped", value, f"[Unescaped: {value}]", depth=2))
        rep = REPRESENTATIONS[field.representation, field.index is not None]
        rows.append(row("http2.header.repr", rep, f"Representation: {rep}", at, size, 2))
        if field.index is not None:
            rows.append(
                row("http2.header.index", field.index, f"Index: {field.index}", at, size, 2)
            )
    if frame.flags & 0x04 and pseudo.keys() & {":scheme", ":authority", ":path"}:
        # as tshark makes it: from this frame's fields only ("(null)" for one it lacks)
        uri = f"{pseudo.get(':scheme', '(null)')}://{pseudo.get(':authority', '(null)')}{pseudo.get(':path', '(null)')}"
        rows.append(row("http2.request.full_uri", uri, f"[Full request URI: {uri}]", depth=1))
    return rows


# fmt: on


def _sources(layer: Layer, buf: bytes) -> list[tuple[str, bytes]]:
    """The hex view's extra bytes: the header fields decoded in this frame, laid out
    as tshark shows them (each name and value after a 4-byte length)."""
    frame: H2Frame = layer.hdr
    if not frame.fields:
        return []
    parts = []
    for field in frame.fields:
        name, value = field.name.encode(), field.value.encode()
        parts += (_U32.pack(len(name)), name, _U32.pack(len(value)), value)
    return [("Decompressed Header", b"".join(parts))]


registry.register("http2", data_sources={_rows: _sources})
