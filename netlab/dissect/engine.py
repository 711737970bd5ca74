"""The dissector: bytes of one frame in, a decoded Packet out. Never raises.

State kept across packets is only what Wireshark's columns need (TCP stream
numbers and initial sequence numbers per stream); it grows with the number of
conversations, not with the number of packets.

The engine sits above the protocol modules: it imports them (`load_protocols`, when
the first Dissector is made, so importing one decoder stays cheap), and they import
only what lies below it (`base`, `model`, `registry`).
"""

from __future__ import annotations

import struct
from typing import Any

import netlab.dissect.registry as registry
from netlab.dissect.base import data_rows
from netlab.dissect.model import Layer, Packet

# (bound once: compiled, a module name is a cached lookup, an attribute a search)
_IP_LEN_FRAG = struct.Struct("!H2xH")  # IPv4 total length and flags/fragment offset
_unpack_ip_len_frag = _IP_LEN_FRAG.unpack_from
# ... and the TTL, protocol and addresses: one call, where two slices cost more
_IP_COLUMNS = struct.Struct("!H2xHBB2x4s4s")
_unpack_ip_columns = _IP_COLUMNS.unpack_from
_UDP_HEAD = struct.Struct("!HHH")  # source port, destination port, length
_unpack_udp_head = _UDP_HEAD.unpack_from


def _decode_frame_data(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    """Unknown link type: the frame is shown undecoded, never an error."""
    layer = Layer("data", f"Data ({end - off} bytes)", off, end, None, data_rows)
    pkt.layers.append(layer)
    if not pkt.protocol:
        pkt.protocol = f"LINKTYPE {pkt.linktype}"
        pkt.info = f"undecoded frame, link type {pkt.linktype}"
    return None


def frame_columns(d, no: int, data: bytes, linktype: int, ts_ns: int | None = None) -> tuple | None:
    """The one-line view's columns of a plain Ethernet frame, read straight off the
    bytes without a Packet or layers, with the stream state updated as dissect()
    would: (src, dst, protocol, info), or None when the frame needs the dissector
    (the choice is made before any state changes). Plain: ARP, or IPv4 without
    options or fragmentation / IPv6 without extension headers, carrying TCP, UDP
    (DNS) or an ICMP/ICMPv6 echo. tests/test_columns.py holds it to dissect()'s lines.
    Dissector.columns; a function of its own so that engine.pxd can give it C types."""
    if linktype != 1 or len(data) < 34:
        return None
    ethertype = data[12] << 8 | data[13]
    if ethertype == 0x0800:
        if data[14] != 0x45:
            return None
        total, frag, hops, proto, src, dst = _unpack_ip_columns(data, 16)
        if total < 20 or frag & 0x3FFF:
            return None
        end, off = min(len(data), 14 + total), 34
    elif ethertype == 0x86DD:
        if len(data) < 54 or data[14] >> 4 != 6 or not (data[18] or data[19]):
            return None  # (a payload length of 0: a jumbogram, or TSO; see ipv6.py)
        end = min(len(data), 54 + (data[18] << 8 | data[19]))
        proto, hops, src, dst, off = data[20], data[21], data[22:38], data[38:54], 54
    elif ethertype == 0x0806:
        found = d._columns[3](data, 14, len(data))
        return None if found is None else (data[6:12], data[0:6], *found)
    else:
        return None
    if proto == 6:
        found = d._columns[0](d, no, data, off, end, src, dst, ts_ns)
    elif proto == 17:
        found = d._columns[1](d, no, data, off, end, src, dst, ts_ns)
    elif proto == 1 and off == 34:
        found = d._columns[2](d, no, data, off, end, hops, src, dst, ts_ns)
    elif proto == 58 and off == 54:
        found = d._columns[4](d, no, data, off, end, hops, src, dst, ts_ns)
    else:
        return None
    return None if found is None else (src, dst, *found)


class Dissector:
    """Decode frames one after another; holds the cross-packet state (TCP streams)."""

    def __init__(self, quick: bool = True, udp_streams: bool = True,
                 keylog: Any = None) -> None:  # fmt: skip
        load_protocols()
        # TLS secrets: an NSS key log file's path (tshark's tls.keylog_file), or a
        # wire.tls_crypto.KeyLog; read by dissect/tls.py when a session needs them
        # (`tls_keys`, made on first use).
        self.keylog = keylog
        self.tls_keys = None
        # tshark -o tcp.relative_sequence_numbers:FALSE: TCP shows its numbers as they
        # are (the relative ones still drive the heuristics and reassembly).
        self.absolute_seq = False
        # Shortcuts for views that show only the columns (DNS's info read straight off
        # the bytes, the message parsed later if ever): off when every packet's fields
        # are built anyway (-V, --json), where they would be work done twice.
        self.quick = quick
        # udp.stream numbers: a table of every UDP conversation, kept only when some
        # view may show them (the one-line and hex views never do); -1 when off, which
        # leaves the field out.
        self.number_udp = udp_streams
        # The Info column: off for a view that never shows it (-V alone, as tshark -V
        # makes no columns); TCP then skips its text, which nearly every packet has.
        self.info = True
        import netlab.dissect.arp as arp
        import netlab.dissect.dns as dns
        import netlab.dissect.icmp as icmp
        import netlab.dissect.icmpv6 as icmpv6
        import netlab.dissect.tcp as tcp
        import netlab.dissect.udp as udp

        self._columns = (tcp.columns, udp.columns, icmp.columns, arp.columns, icmpv6.columns)
        self.tcp = tcp.TcpTracker()
        self.echoes = icmp.EchoRequests()  # pings waiting for their reply (request in N)
        self.dns = dns.Transactions()  # DNS queries and their responses
        # tshark -2: the first pass gathers {request: response frame} of pings (the
        # request's frame) and DNS queries ((frame, ID)), which the second pass's
        # requests show ("reply in N", Response In).
        self.answers_found: dict[int, int] | None = None
        self.answers: dict[int, int] | None = None
        self._conversation_key = tcp.conversation_key
        self._track_segment = tcp.track_segment
        self.udp_streams: dict[bytes, int] = {}
        # Light mode (see dissect/jobs.py): decode only what keeps the cross-packet state
        # right (headers, TCP/UDP streams, reassembly), not the application payloads, for
        # packets another process is showing.
        self.light = False

    def udp_stream(self, src: bytes, sport: int, dst: bytes, dport: int) -> int:
        if not self.number_udp:
            return -1
        key = self._conversation_key(src, sport, dst, dport)[0]
        index = self.udp_streams.get(key)
        if index is None:
            index = self.udp_streams[key] = len(self.udp_streams)
        return index

    def dissect(
        self, no: int, ts_ns: int, data: bytes, wirelen: int, linktype: int,
        interface: int = 0, comment: str | None = None,
    ) -> Packet:  # fmt: skip
        pkt = Packet(no, ts_ns, data, wirelen, linktype, interface, comment)
        self.run(pkt, registry.LINKTYPES.get(linktype, _decode_frame_data), data, 0, len(data))
        return pkt

    columns = frame_columns  # (the one-line view's shortcut, a module function: engine.pxd)

    def track(self, no: int, data: bytes, wirelen: int, linktype: int, ts_ns: int = 0) -> None:
        """The light pass of `dissect --jobs` for a packet another process shows: only
        what changes the cross-packet state. Plain Ethernet frames are read at fixed
        offsets: IPv4 TCP and UDP update their streams; IPv4 ICMP and ICMPv6 straight
        after the IPv6 header note echo requests and answer them (EchoRequests), and
        nothing else (the datagram an ICMP error quotes never touches the stream
        tables); ARP changes nothing. Anything else takes the light
        dissect, which is exact by definition. tests/test_dissect_jobs.py checks the
        output against one process."""
        if linktype == 1 and len(data) >= 34:
            ethertype = data[12] << 8 | data[13]
            if ethertype == 0x0800 and data[14] == 0x45:
                if self._track_ipv4(no, data, ts_ns):
                    return
            elif ethertype == 0x0806:
                return
            elif ethertype == 0x86DD and data[20] == 58:
                self.columns(no, data, linktype, ts_ns)  # (notes an echo; nothing else)
                return
        light, self.light = self.light, True
        try:
            self.dissect(no, ts_ns, data, wirelen, linktype)
        finally:
            self.light = light

    def _track_ipv4(self, no: int, data: bytes, ts_ns: int) -> bool:
        """track() for an IPv4 header without options; False: take the light dissect."""
        total, frag = _unpack_ip_len_frag(data, 16)
        if total < 20 or frag & 0x3FFF:
            return False
        end = min(len(data), 14 + total)
        proto = data[23]
        if proto == 17:
            if end - 34 >= 8:
                sport, dport, length = _unpack_udp_head(data, 34)
                if length < 8:  # (bogus, or a jumbogram: decode_udp decides)
                    return False
                stop = min(end, 34 + length)
                # A payload whose decoder keeps state across datagrams runs too: through
                # its `note` (DNS's transactions), or the light dissect (QUIC's keys).
                found = registry.app_decoder("udp", sport, dport, data, 42, stop)
                note = getattr(found, "note", None)
                if note is None and getattr(found, "light", False):
                    return False
                if self.number_udp:
                    self.udp_stream(data[26:30], sport, data[30:34], dport)
                if note is not None and stop > 42:
                    note(self, no, ts_ns, data[26:30], sport, data[30:34], dport, data, 42, stop)
            return True
        if proto == 6:
            return self._track_segment(self, no, data, 34, end, data[26:30], data[30:34], ts_ns)
        if proto == 1:  # (an echo request waits for its reply; nothing else is kept)
            self._columns[2](self, no, data, 34, end, data[22], data[26:30], data[30:34], ts_ns)
            return True
        return proto not in (4, 41)  # IP in IP could carry TCP or UDP

    def run(self, pkt: Packet, decoder, buf: bytes, off: int, end: int) -> None:
        """Run a decoder chain: each decoder calls the one for its payload itself
        (a call per layer, no dispatch loop), so an exception anywhere below lands
        here and marks the layer it happened in; the capture goes on."""
        first_new = len(pkt.layers)
        try:
            decoder(self, pkt, buf, off, end)
        except (struct.error, IndexError, ValueError, UnicodeDecodeError) as err:
            self._malformed(pkt, f"{err}")
        except RecursionError:
            self._malformed(pkt, "too many nested layers")
        except Exception as err:  # a decoder bug must not stop the capture
            self._malformed(pkt, f"decoder error {type(err).__name__}: {err}")
        if buf is not pkt.buf:  # layers decoded from a reassembled buffer remember it
            for layer in pkt.layers[first_new:]:
                if layer.data is None:  # (one decoded from a buffer of its own keeps that)
                    layer.data = buf

    @staticmethod
    def _malformed(pkt: Packet, why: str) -> None:
        layer = pkt.layers[-1] if pkt.layers else None
        name = layer.proto if layer is not None else "frame"
        where = f" at byte {layer.off}" if layer is not None else ""
        pkt.mark_malformed(layer, f"{name}: malformed{where}: {why}")
        if pkt.info:
            pkt.info += " [Malformed Packet]"
        else:
            pkt.info = "[Malformed Packet]"


def load_protocols() -> None:
    """Import every protocol module so that each registers its decoders (and its
    display-filter names). Not at the top of this module: importing the package (as
    `ping` does for the ICMP names) then stays as cheap as it was."""
    import netlab.dissect.arp
    import netlab.dissect.bittorrent
    import netlab.dissect.bt_dht
    import netlab.dissect.dns
    import netlab.dissect.ftp
    import netlab.dissect.http
    import netlab.dissect.http2
    import netlab.dissect.icmp
    import netlab.dissect.icmpv6
    import netlab.dissect.ip
    import netlab.dissect.ipv6
    import netlab.dissect.link
    import netlab.dissect.quic
    import netlab.dissect.rtmp
    import netlab.dissect.tcp
    import netlab.dissect.tls
    import netlab.dissect.udp
    import netlab.dissect.udp_tracker  # noqa: F401
