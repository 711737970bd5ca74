"""Who decodes what comes next: tables filled by the protocol modules at import.

A decoder is `fn(d, pkt, buf, off, end) -> None`: it appends its Layer to
`pkt.layers` and calls the decoder for its payload itself (the chain is a few
calls deep; `Dissector.run` catches whatever any of them raises).

- link types (pcap LINKTYPE_*), ethertypes and IP protocol numbers are exact tables;
- application protocols are found by port (either side, as Wireshark does) and,
  failing that, by heuristics: functions that look at the payload and return a
  decoder or None (TLS on any port is found this way).
A protocol registers itself from its own module with one `register(...)` call: its
display-filter names, the table entries that lead to its decoders and its fast writers.
The TCP and UDP code never changes, and display filters accept exactly the registered
names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from netlab.dissect.model import DATA_SOURCES, JSON_WRITERS, TREE_WRITERS

Decoder = Callable[..., Any]
Heuristic = Callable[[bytes, int, int], Decoder | None]


class StreamProtocol(NamedTuple):
    """A protocol carried over TCP in PDUs that may span segments (DNS over TCP, TLS …).

    pdu_length(data) -> the length of the PDU that starts data (at most its first 16
    bytes are passed), or None while too few bytes are there to tell. TCP reassembles
    until a whole PDU is available and then calls `decoder` on it, exactly as it would
    on a single segment.

    A protocol whose PDU boundaries depend on more than a PDU's first bytes (HTTP: the
    head, the request a response answers, the end of the connection) gives `session`
    instead: `session(proto)` makes one object per TCP stream (kept in the stream,
    which then belongs to the protocol whatever its later segments look like) with

    - `split(side, data, pos, end, fin, no, ts_ns, carried) -> (pdus, used, info)`: the
      whole PDUs in data[pos:end] as [(decoder, start, stop)], where the bytes it has
      dealt with end (`used`; the rest is kept and handed back, with more, next time),
      and the info column for a segment that completes no PDU (None: TCP's own; "": none
      before "[TCP segment of a reassembled PDU]"). `side` is the direction (0/1), `fin`
      says the direction has ended (FIN/RST: a PDU that runs until the close is
      complete), `no`/`ts_ns` the frame, `carried` how many of the bytes were pending
      from earlier segments (0: all are this segment's). It is called for every
      segment in order, also in the light pass of `--jobs`, so all the cross-segment
      state (pairing requests with responses, HPACK tables) lives there, and the
      decoders it returns only present what it found. Its work must be linear in the
      bytes seen and its memory bounded (TCP keeps at most 1 MiB pending).
    - `reset(side)`: the direction lost bytes (a gap, or the pending data grew past
      the limit): start again from a clean state.
    - optionally `bind(d)`: called once with the Dissector when the session is made
      (TLS reads its key log there), and `waiting_layer`: (protocol, tree title) of the
      empty layer a segment whose split returned info "" shows (tshark's TLS, called on
      a record's start and finding it incomplete).

    `decoder` is still called alone for a segment that cannot be reassembled (the
    first fragment of an IP datagram). A decoder whose PDUs change state across packets
    (DNS: which query a response answers) offers `decoder.note(d, no, ts_ns, src, sport,
    dst, dport, buf, start, stop)`, called for each whole PDU where TCP gathers PDUs
    without decoding them (the light pass of `--jobs`, the one-line view's shortcut);
    a UDP decoder offers the same, for the light pass.
    """

    decoder: Decoder
    pdu_length: Callable[[bytes], int | None]
    session: Callable[[StreamProtocol], Any] | None = None


LINKTYPES: dict[int, Decoder] = {}
ETHERTYPES: dict[int, Decoder] = {}
IP_PROTOCOLS: dict[int, Decoder] = {}
UDP_PORTS: dict[int, Decoder] = {}
TCP_PORTS: dict[int, Decoder | StreamProtocol] = {}
HEURISTICS: dict[str, list[Heuristic]] = {"udp": [], "tcp": []}
# Heuristics that only look at the first payload bytes of a TCP direction (RTMP's C0
# and C1): TCP asks them, after the ports and the other heuristics, only for a segment
# that starts its direction's byte stream (relative sequence number 1).
START_HEURISTICS: dict[str, list[Heuristic]] = {"tcp": []}
# Names a display-filter field may start with (it catches "tpc.port"): the protocols
# registered below, and names that are not a protocol module's: frame metadata, the
# "ethertype" step of frame.protocols, expert marks (_ws.malformed), and tshark's names
# for the protocols announced next (http, tls, rtmpt), which filters accept before
# their modules exist (matching nothing yet); each will register itself.
FILTER_NAMES: set[str] = {"frame", "ethertype", "_ws", "http", "tls", "rtmpt"}


def register(
    *names: str,
    linktypes: dict[int, Decoder] | None = None,
    ethertypes: dict[int, Decoder] | None = None,
    ip_protocols: dict[int, Decoder] | None = None,
    udp_ports: dict[int, Decoder] | None = None,
    tcp_ports: dict[int, Decoder | StreamProtocol] | None = None,
    udp_heuristics: tuple[Heuristic, ...] = (),
    tcp_heuristics: tuple[Heuristic, ...] = (),
    tcp_start_heuristics: tuple[Heuristic, ...] = (),
    writers: dict[Callable, tuple[Callable, Callable]] | None = None,
    data_sources: dict[Callable, Callable] | None = None,
) -> None:
    """A protocol module's one registration: its display-filter names (Wireshark's), the
    link types, ethertypes, IP protocol numbers or ports that lead to its decoders, and
    its fast writers ({fields function: (JSON writer, tree writer)}, see model.py) and
    the extra bytes its layers show in the hex view (model.DATA_SOURCES)."""
    FILTER_NAMES.update(names)
    LINKTYPES.update(linktypes or {})
    ETHERTYPES.update(ethertypes or {})
    IP_PROTOCOLS.update(ip_protocols or {})
    UDP_PORTS.update(udp_ports or {})
    TCP_PORTS.update(tcp_ports or {})
    HEURISTICS["udp"] += udp_heuristics
    HEURISTICS["tcp"] += tcp_heuristics
    START_HEURISTICS["tcp"] += tcp_start_heuristics
    DATA_SOURCES.update(data_sources or {})
    for fields_fn, (json, tree) in (writers or {}).items():
        JSON_WRITERS[fields_fn] = json
        TREE_WRITERS[fields_fn] = tree


def app_decoder(transport: str, srcport: int, dstport: int, buf: bytes, off: int, end: int):
    """The decoder for a UDP/TCP payload: lower port first (servers), then heuristics."""
    ports = UDP_PORTS if transport == "udp" else TCP_PORTS
    low, high = (srcport, dstport) if srcport <= dstport else (dstport, srcport)
    decoder = ports.get(low) or ports.get(high)
    if decoder is not None:
        return decoder
    for heuristic in HEURISTICS[transport]:
        found = heuristic(buf, off, end)
        if found is not None:
            return found
    return None


def start_decoder(transport: str, buf: bytes, off: int, end: int):
    """The decoder for the first payload bytes of a TCP direction that no port and no
    other heuristic claimed: the START_HEURISTICS, in order; None when none applies."""
    for heuristic in START_HEURISTICS[transport]:
        found = heuristic(buf, off, end)
        if found is not None:
            return found
    return None
