"""HTTP/1.x in the dissector, and the per-connection session that hands over to HTTP/2.

Found on tshark's HTTP ports (`http.tcp.port`: 80, 8080, 8088, 3128 …) and, on any
port, by tshark's heuristic (a first line that starts with "HTTP/1." or ends with
"HTTP/1.x") or by the HTTP/2 connection preface. The stream then belongs to one
`HttpSession` (a registry.StreamProtocol session), which TCP hands every segment of
it, in order, also in the light pass of `--jobs`:

- it splits the bytes into messages: the head up to its blank line (at most 64 KiB,
  else the message is marked malformed), then the body by Content-Length, by chunks
  (walked to the last chunk and the trailers), not at all (requests without either,
  responses to HEAD, 1xx, 204, 304, 2xx to CONNECT) or until the connection's end (a
  response without either). The scans resume where they stopped, so the work is
  linear in the bytes; a body over 1 MiB is not kept: its head is shown at once and
  the rest skipped, with the framing kept in step;
- it pairs each response with its request in order (pipelining, keep-alive):
  http.request_in, http.time, http.response_for.uri, request/response numbers;
- it turns a direction over to HTTP/2 frames (dissect/http2.py) at the preface, or
  after a 101 to h2c; after a 101 to anything else or a 2xx to CONNECT both
  directions carry opaque data.

Columns follow tshark's: a message's first line and the body's media type ("GET /
HTTP/1.1 ", "HTTP/1.1 200 OK  (text/html)"), several messages of one segment joined;
a segment that completes nothing shows "[TCP segment of a reassembled PDU]" after
the first line of a message whose head (or chunks) it carried, or after TCP's own
info for the middle of a body of known length. Bytes that are not HTTP at a message
start are "Continuation" once the stream has carried HTTP, and left to TCP before.
Deliberate differences from tshark 4.0 (tests/test_dissect_http.py): responses to
pipelined requests are paired in order (tshark takes the last request's method, so a
HEAD among them confuses its framing); a head over 64 KiB, a bad Content-Length, a
bad chunk size and a message cut short by the connection's end are marked malformed
(tshark waits, or reads "zz" as chunk size 0); a body over 1 MiB is not reassembled.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import zlib
from collections import deque
from functools import partial
from typing import Any

import netlab.dissect.registry as registry
from netlab.dissect.http2 import (
    MAGIC,
    H2Conn,
    H2Frame,
    cut_frame,
    decode_frame,
    media,
    media_type,
    split_frame,
    status_phrase,
)
from netlab.dissect.http2 import (
    SETTINGS as H2_SETTINGS,
)
from netlab.dissect.model import ONE_PER_SEGMENT, Layer, Packet, row

# tshark 4.0's http.tcp.port (`tshark -G decodes`): 8000 and 8008 are not among them,
# but the heuristic finds HTTP there as it does anywhere.
HTTP_PORTS = (80, 631, 1900, 2710, 2869, 3128, 3132, 3689, 5985, 8080, 8088, 11371)
MAX_HEAD = 1 << 16  # a head (or trailers) longer than this without its end is malformed
MAX_PDU = 1 << 20  # a message kept whole (TCP keeps at most this much pending)
MAX_QUEUE = 1024  # requests waiting for their responses, per connection
MAX_CHUNKS = 10_000  # chunk records kept per message (the walk goes on past them)
MAX_CHUNK_LINE = 1024  # a chunk-size line longer than this is malformed
MAX_INFLATE = 1 << 20  # decompressed body bytes shown (http.file_data)

# tshark's is_http_request_or_reply (packet-http.c): the methods it knows.
METHODS = frozenset(
    b"GET PUT COPY HEAD LOCK MOVE POLL POST BCOPY BMOVE MKCOL TRACE LABEL MERGE DELETE SEARCH "
    b"UNLOCK REPORT UPDATE NOTIFY BDELETE CONNECT OPTIONS CHECKIN PROPFIND CHECKOUT CCM_POST "
    b"SUBSCRIBE PROPPATCH BPROPFIND BPROPPATCH UNCHECKOUT MKACTIVITY MKWORKSPACE RPC_CONNECT "
    b"RPC_IN_DATA UNSUBSCRIBE RPC_OUT_DATA VERSION-CONTROL BASELINE-CONTROL PATCH ACL PRI".split()
)

# Session states of a direction: its mode, and within HTTP/1 where the message is.
H1, H2, OPAQUE = 0, 1, 2
IDLE, HEAD, BODY_LEN, CHUNKED, BODY_FIN, SKIP, SKIP_CHUNKED, SKIP_FIN = range(8)
_SHOWS_LINE = (IDLE, HEAD, CHUNKED)  # states in which tshark re-reads the message's head

_BLANK = re.compile(rb"\n\r?\n")
_FRAMING = re.compile(
    rb"\n(content-length|transfer-encoding|content-type|content-encoding|host|upgrade)"
    rb"[ \t]*:[ \t]*([^\r\n]*)",
    re.IGNORECASE,
)
_H2_SETTINGS = re.compile(rb"\nhttp2-settings[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)
_HEADER_LINE = re.compile(rb"([^:\r\n]*):[ \t]*([^\r\n]*?)[ \t]*\r?$")


class Message:
    """One HTTP/1 message as the session found it (the decoder's `Layer.hdr`); offsets
    are from the message's start."""

    __slots__ = ("body", "chunks", "clen", "code", "ctype", "cut", "encoding", "full_uri",
                 "head_end", "host", "kind", "length", "line", "line_end", "method", "number",
                 "oversize", "phrase", "prev", "problem", "request", "te", "trailer", "upgrade",
                 "uri", "version")  # fmt: skip

    def __init__(self, kind: str) -> None:
        self.kind = kind  # "request", "response", "continuation"
        self.line = ""  # the first line's text
        self.line_end = 0  # where the first line's terminator starts
        self.head_end = 0  # where the body starts
        self.length = 0  # the message's bytes (as far as kept)
        self.method: str | None = None
        self.uri: str | None = None
        self.version: str | None = None
        self.code: int | None = None
        self.phrase = ""
        self.host: str | None = None
        self.ctype: str | None = None  # media type, lower case, without parameters
        self.encoding: str | None = None  # Content-Encoding
        self.te: str | None = None  # Transfer-Encoding
        self.upgrade: str | None = None
        self.clen: int | None = None
        self.body = "none"  # "none", "length", "chunked", "fin"
        self.chunks: list[tuple[int, int, int]] = []  # (size line offset, its length, size)
        self.trailer = 0  # end of the trailers (chunked)
        self.request: tuple | None = None  # the request a response answers (see _Request)
        self.number = 0  # http.request_number / http.response_number
        self.prev: int | None = None  # the previous request's / response's frame
        self.full_uri: str | None = None
        self.problem: str | None = None  # why the message is malformed
        self.cut = False  # the connection ended inside it
        self.oversize = False  # its body was not kept whole (over MAX_PDU)

    @property
    def media(self) -> tuple[str, str, str] | None:
        if self.kind == "continuation" or self.cut or self.oversize or self.problem:
            return None
        if self.length <= self.head_end:
            return None  # no body
        return media(self.ctype, http1=True)


class _Dir:
    __slots__ = ("chunk_pos", "first", "line_end", "mode", "msg", "need", "scanned", "skip",
                 "state")  # fmt: skip

    def __init__(self) -> None:
        self.mode = H1
        self.clear()

    def clear(self) -> None:
        self.state = IDLE
        self.scanned = 0  # bytes of the message looked at for the head's end
        self.line_end = -1  # the first line's end, once found
        self.first: tuple | None = None  # the first line, parsed (see _first_line)
        self.msg: Message | None = None
        self.need = 0  # BODY_LEN: the message's length
        self.chunk_pos = 0  # CHUNKED: where the next chunk-size line starts
        self.skip = 0  # SKIP…: bytes still to pass over


class HttpSession:
    """One TCP stream's HTTP (registry.StreamProtocol session; see the module's doc)."""

    __slots__ = ("counts", "dirs", "h2", "last", "proto", "requests", "scheme", "seen", "via_port")

    def __init__(self, proto: registry.StreamProtocol, via_port: bool) -> None:
        self.proto = proto
        self.via_port = via_port  # found by port (tshark then shows "http" before "http2")
        self.dirs = (_Dir(), _Dir())
        self.seen = False  # an HTTP message went by: non-HTTP bytes are "Continuation"
        # requests awaiting their responses: (frame, ts_ns, method, full uri, previous request's frame)
        self.requests: deque = deque()
        self.counts = [0, 0]  # requests, responses
        self.last: list[int | None] = [None, None]  # frame of the last request, response
        self.h2: H2Conn | None = None
        self.scheme = "http"  # "https" inside TLS (dissect/tls.py): http.request.full_uri

    def reset(self, side: int) -> None:
        """The direction lost bytes: start again at a message (frame) boundary."""
        d = self.dirs[side]
        if d.mode == H2 and self.h2 is not None:  # a header block in flight can never end
            self.h2.block_sid[side] = None
        d.clear()

    def split(self, side: int, data, pos: int, end: int, fin: bool, no: int, ts_ns: int,
              carried: int = 0):  # fmt: skip
        """registry.StreamProtocol's session split: -> (pdus, used, info)."""
        d = self.dirs[side]
        out: list[tuple[Any, int, int]] = []
        info = None
        stood = d.state  # where the message under way stood when this segment came
        while True:
            mode = d.mode
            if mode == H2:
                pos = self._split_h2(side, data, pos, end, fin, out)
                if not out and pos < end and carried < 9:
                    # a frame whose length was not known before this segment: tshark's
                    # TCP hands it to HTTP/2 again, which clears the info column before
                    # finding the frame incomplete
                    info = ""
                break
            if mode == OPAQUE:
                if pos < end:
                    out.append((decode_opaque, pos, end))
                    pos = end
                break
            if pos >= end:
                if fin and d.state == SKIP_FIN:
                    d.clear()
                break
            if d.state == IDLE:
                pos = self._start(d, data, pos, end, out)
                if pos < 0:
                    pos = end
                    break
                if pos >= end:
                    break
            done, pos, partial_line = self._message(d, side, data, pos, end, fin, no, ts_ns, out)
            if not done:
                if partial_line is not None and (out or stood in _SHOWS_LINE):
                    if out:
                        out.append((partial(decode_line, partial_line), pos, pos))
                    else:
                        info = partial_line
                break
            stood = IDLE
        return out, pos, info

    # --- HTTP/1 ---------------------------------------------------------------------------
    def _start(self, d: _Dir, data, pos: int, end: int, out: list) -> int:
        """At a message's start: where its first line begins, or -1 when the bytes are
        not HTTP (then taken whole). A CRLF a client sent after a body is passed over."""
        if self.seen and data[pos] in (0x0D, 0x0A):
            stop = pos
            while stop < end and stop - pos < 2 and data[stop] in (0x0D, 0x0A):
                stop += 1
            out.append((decode_nothing, pos, stop))
            pos = stop
            if pos >= end:
                return pos
        if not 0x20 <= data[pos] < 0x7F:  # tshark's test: a printable first byte
            self._not_http(data, pos, end, out)
            return -1
        d.state = HEAD
        d.scanned = 0
        d.line_end = -1
        return pos

    def _not_http(self, data, pos: int, end: int, out: list) -> None:
        if self.seen:
            msg = Message("continuation")
            msg.line = "Continuation"
            msg.length = end - pos
            out.append((partial(decode_message, msg), pos, end))
        else:
            out.append((decode_nothing, pos, end))  # not HTTP: left to TCP, as tshark does

    def _message(self, d: _Dir, side: int, data, pos: int, end: int, fin: bool, no: int,
                 ts_ns: int, out: list) -> tuple[bool, int, str | None]:  # fmt: skip
        """Advance the message at data[pos:]: (complete, new pos, the first line's text
        for the info column while it is incomplete)."""
        state = d.state
        avail = end - pos
        if state == HEAD:
            if d.line_end < 0:
                i = data.find(b"\n", pos + d.scanned, min(end, pos + MAX_HEAD))
                if i < 0:
                    d.scanned = avail
                    if avail >= MAX_HEAD or fin:
                        return self._broken(
                            d, data, pos, end, out, fin, "first line over 64 KiB without its end"
                        )
                    return False, pos, None
                d.line_end = i - pos
                d.scanned = d.line_end
                raw = bytes(data[pos:i])
                first = d.first = _LINES.get(raw) or _first_line(raw)
                kind = first[0]
                if kind is None:
                    d.clear()
                    self._not_http(data, pos, end, out)
                    return True, end, None
                if kind == "magic":
                    if avail < len(MAGIC):
                        if fin:
                            return self._broken(
                                d, data, pos, end, out, fin, "connection preface cut short"
                            )
                        return False, pos, None
                    if bytes(data[pos : pos + len(MAGIC)]) == MAGIC:
                        d.clear()
                        self._to_h2(side, client=True)
                        frame = H2Frame(True, 0, -1, 0, 0)
                        frame.via_port = self.via_port
                        out.append((partial(decode_frame, frame), pos, pos + len(MAGIC)))
                        return True, pos + len(MAGIC), None
            first = d.first
            line = first[1]
            m = _BLANK.search(data, pos + max(d.line_end, d.scanned - 2), min(end, pos + MAX_HEAD))
            if m is None:
                d.scanned = max(d.line_end, avail - 2)
                if avail >= MAX_HEAD or fin:
                    why = (
                        "head over 64 KiB without its end"
                        if avail >= MAX_HEAD
                        else "head cut short"
                    )
                    return self._broken(d, data, pos, end, out, fin, why, first)
                return False, pos, line + " "
            msg = _parse_head(data, pos, m.end(), d.line_end, first)
            if self.scheme != "http" and msg.full_uri is not None and msg.full_uri[:7] == "http://":
                msg.full_uri = f"{self.scheme}://{msg.full_uri[7:]}"
            d.msg = msg
            self._frame_body(msg)
            if msg.body == "length":
                d.state = BODY_LEN
                d.need = msg.head_end + msg.clen
                if d.need > MAX_PDU:  # shown now, head only; the body passed over
                    msg.oversize = True
                    msg.length = msg.head_end
                    self._complete(d, side, msg, no, ts_ns)
                    out.append((partial(decode_message, msg), pos, pos + msg.head_end))
                    d.state = SKIP
                    d.skip = d.need - msg.head_end
                    pos += msg.head_end
                    return self._skip(d, pos, end)
            elif msg.body == "chunked":
                d.state = CHUNKED
                d.chunk_pos = msg.head_end
            elif msg.body == "fin":
                d.state = BODY_FIN
            else:
                msg.length = msg.head_end
                return self._done(d, side, msg, data, pos, no, ts_ns, out)
            state = d.state
        msg = d.msg
        if state == BODY_LEN:
            if avail >= d.need:
                msg.length = d.need
                return self._done(d, side, msg, data, pos, no, ts_ns, out)
            if fin:
                msg.cut = True
                msg.length = avail
                msg.problem = f"body cut short by the end of the stream: {avail - msg.head_end} of {msg.clen} bytes"
                return self._done(d, side, msg, data, pos, no, ts_ns, out)
            return False, pos, msg.line + " "
        if state == CHUNKED:
            return self._chunks(d, side, data, pos, end, fin, no, ts_ns, out)
        if state == BODY_FIN:
            if fin:
                msg.length = avail
                return self._done(d, side, msg, data, pos, no, ts_ns, out)
            if avail > MAX_PDU:
                msg.oversize = True
                msg.length = avail
                self._complete(d, side, msg, no, ts_ns)
                out.append((partial(decode_message, msg), pos, end))
                d.clear()
                d.state = SKIP_FIN
                return True, end, None
            return False, pos, msg.line + " "
        if state == SKIP:
            return self._skip(d, pos, end)
        if state == SKIP_FIN:
            if fin:
                d.clear()
            return True, end, None
        if state == SKIP_CHUNKED:
            return self._skip_chunks(d, data, pos, end)
        return False, pos, None

    def _broken(self, d: _Dir, data, pos: int, end: int, out: list, fin: bool, why: str,
                first: tuple | None = None) -> tuple[bool, int, None]:  # fmt: skip
        """A head that never ends (or ends with the stream): shown malformed, whole."""
        if first is not None:
            msg = _message_of(first)
            msg.line_end = d.line_end
        else:  # not even a first line: the bytes as they are
            msg = Message("continuation")
            msg.line = _line_text(data, pos, min(end, pos + 200))
        msg.length = msg.head_end = end - pos
        msg.problem = why
        msg.cut = fin
        out.append((partial(decode_message, msg), pos, end))
        self.seen = True
        d.clear()
        return True, end, None

    def _frame_body(self, msg: Message) -> None:
        """How the body is delimited (RFC 9112 §6.3), and the request a response answers."""
        if msg.kind == "response":
            request = self.requests[0] if self.requests else None
            msg.request = request
            code = msg.code
            method = request[2] if request is not None else None
            if (
                (code is not None and (code < 200 or code in (204, 304)))
                or method == "HEAD"
                or (method == "CONNECT" and code is not None and 200 <= code < 300)
            ):
                msg.body = "none"
                return
        te = msg.te
        if te is not None:
            codings = [c.strip().lower() for c in te.split(",")]
            if codings[-1] == "chunked":
                msg.body = "chunked"
                return
            if msg.kind == "response":
                msg.body = "fin"
            else:
                msg.problem = f"Transfer-Encoding {te!r} without chunked last in a request"
                msg.body = "none"
            return
        if msg.clen is not None:
            msg.body = "length" if msg.clen > 0 else "none"
            return
        msg.body = "fin" if msg.kind == "response" else "none"

    def _chunks(self, d: _Dir, side: int, data, pos: int, end: int, fin: bool, no: int,
                ts_ns: int, out: list) -> tuple[bool, int, str | None]:  # fmt: skip
        msg = d.msg
        p = pos + d.chunk_pos
        why = None  # what makes the body malformed, when it is
        while True:
            i = data.find(b"\n", p, min(end, p + MAX_CHUNK_LINE))
            if i < 0:
                if end - p >= MAX_CHUNK_LINE:
                    why = "chunk-size line over 1 KiB"
                break
            text = bytes(data[p:i]).split(b";", 1)[0].strip()
            try:
                size = (
                    int(text, 16)
                    if text and all(c in b"0123456789abcdefABCDEF" for c in text)
                    else -1
                )
            except ValueError:
                size = -1
            if size < 0:
                why = f"bad chunk size {text[:20]!r} at byte {p - pos}"
                break
            line_len = i + 1 - p
            if size == 0:  # the last chunk, then trailers up to a blank line
                q = i + 1
                if q < end and data[q] == 0x0A:
                    stop = q + 1
                elif q + 1 < end and data[q] == 0x0D and data[q + 1] == 0x0A:
                    stop = q + 2
                else:
                    m = _BLANK.search(data, i, min(end, i + MAX_HEAD))
                    if m is None:
                        if end - i >= MAX_HEAD:
                            why = "trailers over 64 KiB without their end"
                        else:
                            d.chunk_pos = p - pos
                        break
                    stop = m.end()
                if len(msg.chunks) < MAX_CHUNKS:
                    msg.chunks.append((p - pos, line_len, 0))
                msg.trailer = stop - pos
                msg.length = stop - pos
                return self._done(d, side, msg, data, pos, no, ts_ns, out)
            data_end = i + 1 + size
            after = -1  # where the chunk's CRLF ends; -1: not here yet
            if data_end < end:
                byte = data[data_end]
                if byte == 0x0A:
                    after = data_end + 1
                elif byte == 0x0D and data_end + 1 < end:
                    if data[data_end + 1] != 0x0A:
                        byte = 0
                    after = data_end + 2
                if byte not in (0x0A, 0x0D):
                    why = f"chunk data of {size} bytes not followed by CRLF"
                    break
            if after < 0:
                d.chunk_pos = p - pos
                if data_end - pos > MAX_PDU:  # the body will not be kept: head and chunks so far
                    return self._oversize_chunks(d, side, msg, p, pos, end, no, ts_ns, out)
                break
            if len(msg.chunks) < MAX_CHUNKS:
                msg.chunks.append((p - pos, line_len, size))
            p = after
            d.chunk_pos = p - pos
        if why is not None:
            msg.problem = why
            msg.length = end - pos
            return self._done(d, side, msg, None, pos, no, ts_ns, out)
        if fin:
            msg.cut = True
            msg.length = end - pos
            msg.problem = "chunked body cut short by the end of the stream"
            return self._done(d, side, msg, data, pos, no, ts_ns, out)
        if p - pos > MAX_PDU:
            return self._oversize_chunks(d, side, msg, p, pos, end, no, ts_ns, out)
        return False, pos, msg.line + " "

    def _oversize_chunks(self, d, side, msg, p, pos, end, no, ts_ns, out):
        """A chunked body past MAX_PDU: the message so far is shown, the walk goes on
        without keeping the bytes."""
        msg.oversize = True
        msg.length = p - pos
        self._complete(d, side, msg, no, ts_ns)
        out.append((partial(decode_message, msg), pos, p))
        d.clear()
        d.state = SKIP_CHUNKED
        return self._skip_chunks(d, None, p, end)

    def _skip_chunks(self, d: _Dir, data, pos: int, end: int) -> tuple[bool, int, None]:
        """Pass over the chunks of a body that is not kept; stop at an incomplete
        chunk-size line (kept for the next segment)."""
        if data is None:
            return True, pos, None  # resumed with the next segment's data
        p = pos
        while p < end:
            if d.skip:
                step = min(d.skip, end - p)
                d.skip -= step
                p += step
                continue
            i = data.find(b"\n", p, min(end, p + MAX_HEAD))
            if i < 0:
                if end - p >= MAX_HEAD:
                    d.clear()
                    return True, end, None
                break
            text = bytes(data[p:i]).strip()
            if not text:  # the CRLF after a chunk's data, or the blank line after trailers
                p = i + 1
                if d.need:  # the last chunk was seen: this blank line ends the message
                    d.clear()
                    return True, p, None
                continue
            if d.need:  # a trailer line
                p = i + 1
                continue
            try:
                size = int(text.split(b";", 1)[0].strip(), 16)
            except ValueError:
                d.clear()  # lost: the rest is not HTTP we can follow
                return True, end, None
            p = i + 1
            if size == 0:
                d.need = 1  # trailers follow, then a blank line
            else:
                d.skip = size
        return (p >= end), p, None

    def _skip(self, d: _Dir, pos: int, end: int) -> tuple[bool, int, None]:
        step = min(d.skip, end - pos)
        d.skip -= step
        if not d.skip:
            d.clear()
        return True, pos + step, None

    def _done(self, d: _Dir, side: int, msg: Message, data, pos: int, no: int, ts_ns: int,
              out: list) -> tuple[bool, int, None]:  # fmt: skip
        self._complete(d, side, msg, no, ts_ns)
        out.append((partial(decode_message, msg), pos, pos + msg.length))
        d.clear()
        self._after(side, msg)
        return True, pos + msg.length, None

    def _complete(self, d: _Dir, side: int, msg: Message, no: int, ts_ns: int) -> None:
        """A message is whole (or shown as far as it goes): number it and pair it."""
        self.seen = True
        if msg.kind == "request":
            self.counts[0] += 1
            msg.number = self.counts[0]
            msg.prev = self.last[0]
            self.last[0] = no
            if len(self.requests) >= MAX_QUEUE:
                self.requests.popleft()
            self.requests.append((no, ts_ns, msg.method, msg.full_uri, msg.prev))
        elif msg.kind == "response":
            self.counts[1] += 1
            msg.number = self.counts[1]
            msg.prev = self.last[1]
            self.last[1] = no
            if msg.request is not None and self.requests and self.requests[0] is msg.request:
                if msg.code is None or msg.code >= 200 or msg.code == 101:  # (1xx: interim)
                    self.requests.popleft()
                msg.request = (*msg.request, ts_ns)

    def _after(self, side: int, msg: Message) -> None:
        """What a response changes for the rest of the stream."""
        if msg.kind != "response" or msg.code is None:
            return
        if msg.code == 101 and msg.upgrade is not None:  # (without Upgrade: still HTTP)
            if msg.upgrade.strip().lower() == "h2c":
                self._to_h2(side, client=False)
            else:  # WebSocket and the like: not HTTP any more
                for d in self.dirs:
                    d.mode = OPAQUE
        elif 200 <= msg.code < 300 and msg.request is not None and msg.request[2] == "CONNECT":
            for d in self.dirs:
                d.mode = OPAQUE

    def _to_h2(self, side: int, client: bool) -> None:
        if self.h2 is None:
            self.h2 = H2Conn()
        self.dirs[side].mode = H2
        if client:  # the preface: the server's side speaks HTTP/2 from now on too
            other = self.dirs[1 - side]
            if other.mode == H1 and other.state == IDLE:
                other.mode = H2

    # --- HTTP/2 -------------------------------------------------------------------------------
    def _split_h2(self, side: int, data, pos: int, end: int, fin: bool, out: list) -> int:
        conn = self.h2
        if conn is None:
            conn = self.h2 = H2Conn()
        while pos < end:
            frame, total = split_frame(conn, side, data, pos, end)
            if frame is None:
                if total > MAX_PDU:  # shown by its header alone; the payload is skipped
                    # (framing is lost past a frame this size: the rest is opaque)
                    head = bytes(data[pos : pos + 9])
                    cut = cut_frame(total - 9, head[3], head[4], int.from_bytes(head[5:9], "big"),
                                    end - pos)  # fmt: skip
                    cut.error = f"frame of {total - 9} bytes, over the 1 MiB kept"
                    cut.via_port = self.via_port
                    out.append((partial(decode_frame, cut), pos, end))
                    self.dirs[side].mode = OPAQUE
                    return end
                if fin and end - pos >= 9:
                    head = bytes(data[pos : pos + 9])
                    cut = cut_frame(total - 9, head[3], head[4], int.from_bytes(head[5:9], "big"),
                                    end - pos)  # fmt: skip
                    cut.via_port = self.via_port
                    out.append((partial(decode_frame, cut), pos, end))
                    return end
                if fin:
                    out.append(
                        (partial(decode_frame, _short_frame(end - pos, self.via_port)), pos, end)
                    )
                    return end
                return pos
            frame.via_port = self.via_port
            out.append((partial(decode_frame, frame), pos, pos + total))
            pos += total
        return pos


def _short_frame(have: int, via_port: bool) -> H2Frame:
    frame = H2Frame(False, 0, -1, 0, 0)
    frame.error = f"frame header cut short: {have} of 9 bytes before the end of the stream"
    frame.via_port = via_port
    return frame


# The first lines seen, parsed: (kind, text, method, uri, version, code, phrase, problem),
# kind "request", "response", "magic" or None (not HTTP). Traffic repeats its lines
# ("GET /style.css HTTP/1.1", "HTTP/1.1 200 OK"); the cache is bounded.
_LINES: dict[bytes, tuple] = {}


def _first_line(raw: bytes) -> tuple:
    """A first line (without its LF) as tshark reads it (is_http_request_or_reply)."""
    key = raw
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    text = raw.decode("latin-1")
    if not text.isprintable():
        text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    if text.startswith(("HTTP/", "ICY ")):
        parts = text.split(" ", 2)
        code, problem = None, None
        if len(parts) > 1 and _digits(parts[1]) and len(parts[1]) == 3:
            code = int(parts[1])
        else:
            problem = f"bad status code {parts[1][:12]!r}" if len(parts) > 1 else "no status code"
        found = ("response", text, None, None, parts[0], code, parts[2] if len(parts) > 2 else "",
                 problem)  # fmt: skip
    else:
        method, space, rest = text.partition(" ")
        name = method[2:] if method.startswith("M-") else method
        if not space or name.encode("latin-1") not in METHODS:
            found = (None, text, None, None, None, None, "", None)
        else:
            uri, _, version = rest.rpartition(" ")  # (a target with spaces in it: as tshark)
            problem = None
            if not uri or not version.startswith("HTTP/"):
                problem = "request line is not METHOD SP target SP HTTP-version"
            kind = "magic" if text.startswith("PRI * HTTP/2.0") else "request"
            found = (kind, text, method, uri, version, None, "", problem)
    if len(key) <= 512:  # (a long line is rare and would make the cache big)
        if len(_LINES) >= 4096:
            _LINES.clear()
        _LINES[key] = found
    return found


def _digits(text: str) -> bool:
    """ASCII digits only (str.isdigit also takes "¹" and "٣", which int() may refuse)."""
    return text.isascii() and text.isdigit()


def _line_text(data, pos: int, eol: int) -> str:
    """Bytes as a line of text for the info column (control bytes escaped)."""
    text = bytes(data[pos:eol]).decode("latin-1")
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def _message_of(first: tuple) -> Message:
    """A message with its first line's parts (request or response)."""
    kind, text, method, uri, version, code, phrase, problem = first
    msg = Message("response" if kind == "response" else "request")
    msg.line = text
    msg.method = method
    msg.uri = uri
    msg.version = version
    msg.code = code
    msg.phrase = phrase
    msg.problem = problem
    return msg


_FRAMING_KEYS = {b"content-length": 0, b"transfer-encoding": 1, b"content-type": 2,
                 b"content-encoding": 3, b"host": 4, b"upgrade": 5}  # fmt: skip


def _parse_head(data, pos: int, head_end: int, line_end: int, first: tuple) -> Message:
    """The first line's parts and the headers that frame the message."""
    msg = _message_of(first)
    msg.line_end = line_end
    msg.head_end = head_end - pos
    lengths = None
    keys = _FRAMING_KEYS
    for name, raw in _FRAMING.findall(data, pos + line_end, head_end):
        which = keys[name.lower()]
        value = raw.decode("latin-1").strip(" \t")
        if which == 0:
            if lengths is None:
                lengths = [value]
            else:
                lengths.append(value)
        elif which == 1:
            msg.te = value if msg.te is None else f"{msg.te}, {value}"
        elif which == 2:
            msg.ctype = media_type(value)
        elif which == 3:
            msg.encoding = value
        elif which == 4:
            msg.host = value
        else:
            msg.upgrade = value
    if lengths is not None:
        if len(lengths) == 1 and _digits(lengths[0]) and len(lengths[0]) <= 18:
            msg.clen = int(lengths[0])
        else:
            values = {v for text in lengths for v in (s.strip(" \t") for s in text.split(","))}
            one = next(iter(values))
            if len(values) == 1 and _digits(one) and len(one) <= 18:
                msg.clen = int(one)
            else:
                msg.problem = f"bad Content-Length {', '.join(lengths)[:40]!r}"
    if msg.uri is not None:
        uri = msg.uri
        if uri.startswith("/"):
            if msg.host is not None:
                msg.full_uri = f"http://{msg.host}{uri}"
        elif "://" in uri or msg.method == "CONNECT":
            msg.full_uri = uri  # absolute, or the authority form of CONNECT
    return msg


# --- decoders --------------------------------------------------------------------------------
def decode_nothing(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    """Bytes the session passes over (not HTTP at a stream's start: tshark leaves them
    to TCP, with no layer)."""
    return None


def decode_line(text: str, d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    """The first line of a message this segment began but does not finish (tshark adds
    it to the info column after the messages the segment completes)."""
    pkt.info += text


def decode_opaque(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    """After a 101 to something else than h2c, or a CONNECT: not HTTP any more."""
    if end > off:
        from netlab.dissect.base import decode_data

        decode_data(d, pkt, buf, off, end)


def decode_message(msg: Message, d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    """Present one message the session found (the session binds `msg`). The one-line
    view's stand-in for a Packet (tcp._Columns) gets the columns alone."""
    if msg.kind == "continuation":
        text, found = "Continuation", None
    else:
        text, found = msg.line + " ", msg.media
    protocol = "HTTP"
    if found is not None:
        text += found[1]
        if found[2]:
            protocol = f"HTTP/{found[2]}"
    if pkt.protocol in ("TCP", ""):
        pkt.info = text
    else:
        pkt.info += text
    pkt.protocol = protocol  # (the last message's, as tshark's: "HTTP/JSON" after a JSON body)
    if pkt.__class__ is not Packet:
        if msg.problem is not None:
            pkt.mark_malformed(None, f"http: {msg.problem}")
        return
    layer = Layer("http", "Hypertext Transfer Protocol", off, end, msg, _rows)
    pkt.layers.append(layer)
    if msg.problem is not None:
        pkt.mark_malformed(layer, f"http: {msg.problem}")
    if msg.kind == "continuation":
        if end > off:
            pkt.layers.append(
                Layer("data", f"Data ({end - off} bytes)", off, end, None, _data_rows)
            )
        return
    if found is not None:
        start = off + msg.head_end
        pkt.layers.append(Layer(found[0], _body_title(found[0], msg, buf, start, end), start, end,
                                msg, _data_rows if found[0] == "data" else None))  # fmt: skip


def _body_title(proto: str, msg: Message, buf: bytes, start: int, end: int) -> Any:
    if proto == "data-text-lines":
        return partial(_lines_title, msg, buf)
    if proto == "json":
        return f"JavaScript Object Notation: {msg.ctype}"
    if proto == "xml":
        return "eXtensible Markup Language"
    if proto == "urlencoded-form":
        return f"HTML Form URL Encoded: {msg.ctype}"
    if proto == "data":
        return f"Data ({len(body_bytes(msg, buf, start - msg.head_end))} bytes)"
    if proto == "message-http":
        return "Media Type"
    return f"Media Type: {msg.ctype}"


def _lines_title(msg: Message, buf: bytes, layer: Layer) -> str:
    body = body_bytes(msg, buf, layer.off - msg.head_end)
    lines = body.count(b"\n") + (0 if body.endswith(b"\n") or not body else 1)
    return f"Line-based text data: {msg.ctype} ({lines} lines)"


def _data_rows(layer: Layer, buf: bytes) -> list:
    msg = layer.hdr
    if msg is not None and msg.kind != "continuation":
        data = body_bytes(msg, buf, layer.off - msg.head_end)
    else:
        data = bytes(buf[layer.off : layer.end])
    return [
        row("data.data", data, f"Data: {data[:32].hex()}{'…' if len(data) > 32 else ''}",
            layer.off, layer.end - layer.off),
        row("data.len", len(data), f"[Length: {len(data)}]"),
    ]  # fmt: skip


def body_bytes(msg: Message, buf: bytes, start: int) -> bytes:
    """The message's body as sent to the application: dechunked, then decompressed
    (gzip, deflate, br; at most MAX_INFLATE bytes) when it was content-encoded."""
    body = _entity(msg, buf, start)
    encoding = (msg.encoding or "").strip().lower()
    if encoding in INFLATABLE and body:
        inflated = _inflate(body, encoding)
        if inflated is not None:
            return inflated
    return body


def _entity(msg: Message, buf: bytes, start: int) -> bytes:
    """The body bytes before content decoding (the chunks' data joined)."""
    if msg.body == "chunked" and msg.chunks:
        parts = []
        for at, line_len, size in msg.chunks:
            p = start + at + line_len
            parts.append(bytes(buf[p : p + size]))
        return b"".join(parts)
    return bytes(buf[start + msg.head_end : start + msg.length])


INFLATABLE = ("gzip", "x-gzip", "deflate", "br")
_WBITS = {"deflate": (15, -15)}


def _inflate(body: bytes, encoding: str) -> bytes | None:
    if encoding == "br":
        return _unbrotli(body)
    # gzip or zlib by their header (47); deflate as zlib, else raw (some servers send it so)
    for wbits in _WBITS.get(encoding, (47,)):
        try:
            engine = zlib.decompressobj(wbits)
            return engine.decompress(body, MAX_INFLATE)
        except zlib.error:
            continue
    return None


def _unbrotli(body: bytes) -> bytes | None:
    """br (RFC 7932), as tshark decodes it; the output bounded like gzip's: the
    decompressor stops growing its buffer at MAX_INFLATE and keeps the rest of the input."""
    try:
        import brotli  # only a capture with a br body pays for it
    except ImportError:
        return None
    try:
        return brotli.Decompressor().process(body, output_buffer_limit=MAX_INFLATE)[:MAX_INFLATE]
    except brotli.error:
        return None


# --- the heuristic: HTTP on any port ----------------------------------------------------------
def http_heuristic(buf: bytes, off: int, end: int):
    """tshark's TCP heuristic for HTTP (dissect_http_heur_tcp): the segment's first line,
    whole, starts with "HTTP/1." or ends with "HTTP/1.x"; also the HTTP/2 connection
    preface (which tshark finds only on HTTP ports or when told). A cheap first-byte
    test comes first: this runs on every segment no port claims."""
    if end - off < 10 or not 0x41 <= buf[off] <= 0x7A:  # a letter (or [\]^_`)
        return None
    if buf[off : off + 16] == MAGIC[:16]:
        return HEURISTIC_PROTOCOL
    eol = buf.find(b"\n", off, min(end, off + 8192))
    if eol < 0:
        return None
    stop = eol - 1 if buf[eol - 1] == 0x0D else eol
    if stop - off == 8:
        return None
    if buf[off : off + 7].upper() == b"HTTP/1." or buf[stop - 8 : stop - 1].upper() == b"HTTP/1.":
        return HEURISTIC_PROTOCOL
    return None


def http_pdu_length(data: bytes) -> None:
    """StreamProtocol.pdu_length: unused, since HTTP messages are split by the session
    (their length depends on the whole head, the request and the stream's end)."""
    return None


def decode_http(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    """One segment on its own (the first fragment of an IP datagram that cannot be
    reassembled): its messages as far as the segment holds them, in a session of
    their own."""
    session = HttpSession(PORT_PROTOCOL, True)
    out, _used, info = session.split(0, buf, off, end, False, pkt.no, pkt.ts_ns, 0)
    for fn, start, stop in out:
        fn(d, pkt, buf, start, stop)
    if info is not None:
        pkt.protocol, pkt.info = "TCP", info


PORT_PROTOCOL = registry.StreamProtocol(decode_http, http_pdu_length,
                                        lambda proto: HttpSession(proto, True))  # fmt: skip
HEURISTIC_PROTOCOL = registry.StreamProtocol(decode_http, http_pdu_length,
                                             lambda proto: HttpSession(proto, False))  # fmt: skip


# --- fields -------------------------------------------------------------------------------------
# Headers with a field of their own (Wireshark's names); any header also gives
# http.request.line / http.response.line (hidden in the tree, as tshark hides it).
HEADER_FIELDS = {
    "authorization": "http.authorization", "proxy-authenticate": "http.proxy_authenticate",
    "proxy-authorization": "http.proxy_authorization", "www-authenticate": "http.www_authenticate",
    "content-type": "http.content_type", "content-length": "http.content_length_header",
    "content-encoding": "http.content_encoding", "transfer-encoding": "http.transfer_encoding",
    "upgrade": "http.upgrade", "user-agent": "http.user_agent", "host": "http.host",
    "connection": "http.connection", "cookie": "http.cookie", "accept": "http.accept",
    "referer": "http.referer", "accept-language": "http.accept_language",
    "accept-encoding": "http.accept_encoding", "date": "http.date",
    "cache-control": "http.cache_control", "server": "http.server", "location": "http.location",
    "sec-websocket-accept": "http.sec_websocket_accept",
    "sec-websocket-extensions": "http.sec_websocket_extensions",
    "sec-websocket-key": "http.sec_websocket_key",
    "sec-websocket-protocol": "http.sec_websocket_protocol",
    "sec-websocket-version": "http.sec_websocket_version", "set-cookie": "http.set_cookie",
    "last-modified": "http.last_modified", "x-forwarded-for": "http.x_forwarded_for",
    "http2-settings": "http.http2_settings",
}  # fmt: skip


def _escaped(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


# fmt: off  (field tables: one Wireshark field per line reads best)
def _rows(layer: Layer, buf: bytes) -> list:
    msg: Message = layer.hdr
    o = layer.off
    if msg.kind == "continuation":
        if msg.problem is not None:
            return []
        data = bytes(buf[o : layer.end])
        return [
            row(
                "http.file_data",
                data.decode("utf-8", "replace"),
                f"File Data: {len(data)} bytes",
                o,
                len(data),
            )
        ]
    rows = _first_rows(msg, buf, o)
    line_name = "http.request.line" if msg.kind == "request" else "http.response.line"
    head_stop = o + msg.head_end
    p = o + msg.line_end + 1
    while p < head_stop:
        eol = buf.find(b"\n", p, head_stop)
        if eol < 0:
            eol = head_stop - 1
        raw = bytes(buf[p : eol + 1])
        if raw in (b"\r\n", b"\n"):  # the blank line (a text item in tshark's tree)
            break
        text = raw.decode("latin-1")
        shown = _escaped(text)
        m = _HEADER_LINE.match(raw.rstrip(b"\n"))
        if m is None:
            rows.append(row("http.unknown_header", text, shown, p, len(raw)))
            p = eol + 1
            continue
        name = m.group(1).decode("latin-1").strip().lower()
        value = m.group(2).decode("latin-1")
        field = HEADER_FIELDS.get(name)
        if field is not None:
            rows.append(row(field, value, shown, p, len(raw)))
            if name == "content-length" and _digits(value.strip(" \t")):
                number = int(value.strip(" \t"))
                rows.append(
                    row(
                        "http.content_length", number, f"[Content length: {number}]", p, len(raw), 1
                    )
                )
            elif name == "http2-settings":
                rows += _upgrade_settings(value, p, len(raw))
        rows.append(row(line_name, text, None, p, len(raw)))
        p = eol + 1
    rows += _message_rows(msg, o)
    rows += _body_rows(msg, buf, o, layer.end)
    return rows


def _upgrade_settings(value: str, p: int, size: int) -> list:
    """The SETTINGS an HTTP2-Settings header carries (base64url, RFC 7540 §3.2.1)."""
    try:
        raw = base64.urlsafe_b64decode(value.strip() + "=" * (-len(value.strip()) % 4))
    except (ValueError, binascii.Error):
        return []
    rows = []
    for q in range(0, len(raw) - 5, 6):
        ident = raw[q] << 8 | raw[q + 1]
        number = int.from_bytes(raw[q + 2 : q + 6], "big")
        label, suffix = H2_SETTINGS.get(ident, (None, "unknown"))
        shown = label or "Unknown"
        rows.append(row("http2.settings", "", f"Settings - {shown} : {number}", p, size, 1))
        rows.append(
            row("http2.settings.id", ident, f"Settings Identifier: {shown} ({ident})", p, size, 2)
        )
        rows.append(row(f"http2.settings.{suffix}", number, f"{shown}: {number}", p, size, 2))
    return rows


def _first_rows(msg: Message, buf: bytes, o: int) -> list:
    size = msg.line_end + 1
    rows = [row("http.chat", "", f"{_escaped(msg.line)}\\r\\n", o, size)]
    if msg.kind == "request":
        method, uri, version = msg.method or "", msg.uri or "", msg.version
        rows.append(
            row("http.request.method", method, f"Request Method: {method}", o, len(method), 1)
        )
        at = o + len(method) + 1
        rows.append(row("http.request.uri", uri, f"Request URI: {uri}", at, len(uri), 1))
        if "?" in uri:
            path, query = uri.split("?", 1)
            rows.append(
                row("http.request.uri.path", path, f"Request URI Path: {path}", at, len(path), 2)
            )
            rows.append(
                row(
                    "http.request.uri.query",
                    query,
                    f"Request URI Query: {query}",
                    at + len(path) + 1,
                    len(query),
                    2,
                )
            )
            q = at + len(path) + 1
            for param in query.split("&"):
                rows.append(
                    row(
                        "http.request.uri.query.parameter",
                        param,
                        f"Request URI Query Parameter: {param}",
                        q,
                        len(param),
                        3,
                    )
                )
                q += len(param) + 1
        if version is not None:
            at += len(uri) + 1
            rows.append(
                row(
                    "http.request.version",
                    version,
                    f"Request Version: {version}",
                    at,
                    len(version),
                    1,
                )
            )
        return rows
    version = msg.version or ""
    rows.append(
        row("http.response.version", version, f"Response Version: {version}", o, len(version), 1)
    )
    if msg.code is not None:
        at = o + len(version) + 1
        rows.append(row("http.response.code", msg.code, f"Status Code: {msg.code}", at, 3, 1))
        phrase = status_phrase(msg.code)
        rows.append(
            row("http.response.code.desc", phrase, f"[Status Code Description: {phrase}]", depth=1)
        )
        reason = msg.phrase
        rows.append(
            row(
                "http.response.phrase", reason, f"Response Phrase: {reason}", at + 4, len(reason), 1
            )
        )
    return rows


def _message_rows(msg: Message, o: int) -> list:
    rows = []
    if msg.kind == "request":
        if msg.full_uri is not None:
            rows.append(
                row("http.request.full_uri", msg.full_uri, f"[Full request URI: {msg.full_uri}]")
            )
        rows.append(row("http.request", True, None, o, 0))
        rows.append(
            row("http.request_number", msg.number, f"[HTTP request {msg.number}/{msg.number}]")
        )
        if msg.prev is not None:
            rows.append(
                row("http.prev_request_in", msg.prev, f"[Prev request in frame: {msg.prev}]")
            )
        return rows
    rows.append(row("http.response", True, None, o, 0))
    rows.append(
        row("http.response_number", msg.number, f"[HTTP response {msg.number}/{msg.number}]")
    )
    if msg.prev is not None:
        rows.append(row("http.prev_response_in", msg.prev, f"[Prev response in frame: {msg.prev}]"))
    request = msg.request
    if request is not None and len(request) > 5:
        frame, sent, _method, uri, prev_request, now = request
        if prev_request is not None:
            rows.insert(
                2,
                row(
                    "http.prev_request_in", prev_request, f"[Prev request in frame: {prev_request}]"
                ),
            )
        seconds = round((now - sent) / 1e9, 9)
        rows.append(row("http.time", seconds, f"[Time since request: {seconds:.9f} seconds]"))
        rows.append(row("http.request_in", frame, f"[Request in frame: {frame}]"))
        if uri is not None:
            rows.append(row("http.response_for.uri", uri, f"[Request URI: {uri}]"))
    return rows


def _body_rows(msg: Message, buf: bytes, o: int, end: int) -> list:
    if msg.length <= msg.head_end:
        return []
    rows = []
    if msg.body == "chunked":
        for at, line_len, size in msg.chunks:
            p = o + at
            if size:
                rows.append(
                    row("http.chunk_size", size, f"Chunk size: {size} octets", p, line_len, 1)
                )
                data = bytes(buf[p + line_len : p + line_len + size])
                rows.append(
                    row(
                        "http.chunk_data",
                        data,
                        f"Chunk data: {data[:24].hex()}{'…' if size > 24 else ''}",
                        p + line_len,
                        size,
                        1,
                    )
                )
                rows.append(
                    row(
                        "http.chunk_boundary",
                        b"\r\n",
                        "Chunk boundary: 0d0a",
                        p + line_len + size,
                        2,
                        1,
                    )
                )
            else:
                rows.append(row("http.chunk_size", 0, "Chunk size: 0 octets", p, line_len, 1))
    body = body_bytes(msg, buf, o)
    if body or msg.body != "chunked":
        rows.append(
            row(
                "http.file_data",
                body.decode("utf-8", "replace"),
                f"File Data: {len(body)} bytes",
                o + msg.head_end,
                min(end, o + msg.length) - o - msg.head_end,
            )
        )
    return rows


# fmt: on


def _sources(layer: Layer, buf: bytes) -> list[tuple[str, bytes]]:
    """The hex view's extra bytes of a message: as reassembled, de-chunked, decompressed."""
    msg: Message = layer.hdr
    found = []
    if layer.data is not None:  # the buffer itself: shown once for all the PDUs it holds
        found.append(("Reassembled TCP", layer.data))
    if msg.kind == "continuation":
        return found
    start = layer.off
    m = _H2_SETTINGS.search(bytes(buf[start : start + msg.head_end]))
    if m is not None:
        value = m.group(1).strip()
        with contextlib.suppress(ValueError, binascii.Error):
            decoded = base64.urlsafe_b64decode(value + b"=" * (-len(value) % 4))
            found.append(("Base64uri decoded", decoded))
    if msg.length <= msg.head_end or msg.problem:
        return found
    entity = _entity(msg, buf, start)
    if msg.body == "chunked" and msg.chunks:
        found.append(("De-chunked entity body", entity))
    encoding = (msg.encoding or "").strip().lower()
    if encoding in INFLATABLE and entity:
        inflated = _inflate(entity, encoding)
        if inflated is not None:
            found.append(("Uncompressed entity body", inflated))
    return found


ONE_PER_SEGMENT.update(("http", "http2"))
registry.register(
    "http",
    # the body layers (tshark's names for what its media dissectors show)
    "data-text-lines",
    "json",
    "xml",
    "urlencoded-form",
    "media",
    "message-http",
    "grpc",
    tcp_ports=dict.fromkeys(HTTP_PORTS, PORT_PROTOCOL),
    tcp_heuristics=(http_heuristic,),
    data_sources={_rows: _sources},
)
