"""Who decodes what comes next: tables filled by the protocol modules at import.

A decoder is `fn(d, pkt, buf, off, end) -> None`: it appends its Layer to
`pkt.layers` and calls the decoder for its payload itself (the chain is a few
calls deep; `Dissector.run` catches whatever any of them raises).

- link types (pcap LINKTYPE_*), ethertypes and IP protocol numbers are exact tables;
- application protocols are found by port (either side, as Wireshark does) and,
  failing that, by heuristics: functions that look at the payload and return a
  decoder or None (TLS on any port is found this way).
New protocols register here from their own module; the TCP and UDP code never changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

Decoder = Callable[..., Any]
Heuristic = Callable[[bytes, int, int], Decoder | None]


class StreamProtocol(NamedTuple):
    """A protocol carried over TCP in PDUs that may span segments (DNS over TCP, TLS …).

    pdu_length(data) -> the length of the PDU that starts data, or None while too
    few bytes are there to tell. TCP reassembles until a whole PDU is available and
    then calls `decoder` on it, exactly as it would on a single segment.
    """

    decoder: Decoder
    pdu_length: Callable[[bytes], int | None]


LINKTYPES: dict[int, Decoder] = {}
ETHERTYPES: dict[int, Decoder] = {}
IP_PROTOCOLS: dict[int, Decoder] = {}
UDP_PORTS: dict[int, Decoder] = {}
TCP_PORTS: dict[int, Decoder | StreamProtocol] = {}
HEURISTICS: dict[str, list[Heuristic]] = {"udp": [], "tcp": []}


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
