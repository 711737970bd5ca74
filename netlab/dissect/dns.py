"""DNS in the dissector: UDP and TCP port 53, fields named as Wireshark names them.

The wire format is decoded by `netlab.wire.dns` (shared with `netlab dns-query`),
which never raises on hostile input: a bad message comes back partly decoded with
`.malformed` set, and the layer is marked malformed where it broke.

Over TCP a message has a two-byte length prefix (RFC 1035 4.2.2, RFC 7766) and
may span several segments: DNS registers a `StreamProtocol` and the TCP code
reassembles, without knowing anything about DNS.
"""

from __future__ import annotations

import re
import struct
from typing import Any

from netlab.dissect import registry
from netlab.dissect.model import Layer, Packet, cut_rows, flag_rows, row
from netlab.wire import dns as wire

OPCODE_INFO = {
    0: "Standard query",
    1: "Inverse query",
    2: "Server status request",
    4: "Zone change notification",
    5: "Dynamic update",
}
RCODE_INFO = {  # Wireshark's words for the info column
    1: "Format error", 2: "Server failure", 3: "No such name", 4: "Not implemented",
    5: "Refused", 6: "Name exists", 7: "RRset exists", 8: "RRset does not exist",
    9: "Not authoritative", 10: "Name out of zone", 16: "Bad OPT version or TSIG error",
}  # fmt: skip
FLAG_BITS = [
    ("response", 0x8000, "Response"), ("authoritative", 0x0400, "Authoritative"),
    ("truncated", 0x0200, "Truncated"), ("recdesired", 0x0100, "Recursion desired"),
    ("recavail", 0x0080, "Recursion available"), ("z", 0x0040, "Z"),
    ("authenticated", 0x0020, "Answer authenticated"), ("checkdisable", 0x0010, "Non-authenticated data"),
]  # fmt: skip
_U16 = struct.Struct("!H")


def ws_name(name: str) -> str:
    """Wireshark's spelling of a domain name: no trailing dot, "<Root>" for the root."""
    if name in (".", ""):
        return "<Root>"
    return name[:-1] if name.endswith(".") else name


# --- decoders -------------------------------------------------------------------------
def decode_dns_udp(d, pkt: Packet, buf: bytes, off: int, end: int):
    _decode(pkt, buf, off, end, tcp_length=None)
    return None


def decode_dns_tcp(d, pkt: Packet, buf: bytes, off: int, end: int):
    """One DNS-over-TCP PDU: the length prefix, then the message."""
    length = _U16.unpack_from(buf, off)[0] if end - off >= 2 else None
    _decode(pkt, buf, off + 2, end, tcp_length=(off, length))
    return None


def dns_tcp_pdu_length(data: bytes) -> int | None:
    return 2 + _U16.unpack_from(data, 0)[0] if len(data) >= 2 else None


# --- heuristic: DNS on a port no decoder claims ---------------------------------------
_HEADER = struct.Struct("!HHHHHH")
_NETBIOS_LABEL = re.compile(rb"\x20[A-P]{32}")  # NBNS names: 32 letters A-P (RFC 1001 14.1)


def dns_udp_heuristic(buf: bytes, off: int, end: int):
    """DNS over UDP on any port, found as Wireshark's UDP heuristic for DNS finds it (listed
    by `tshark -G heuristic-decodes`; its limits in tshark 4.0 found by experiment): a
    standard query with one question and no answers or authority records, or a response
    with at most 1 question, 100 answers and 10 authority records; in both at most 10
    additional records, and some question or answer.

    netlab is stricter, because a false positive is worse than a miss: the message must
    also decode cleanly to its last byte, and a NetBIOS name (NBNS on port 137 shares the
    format) does not count. So the SOME/IP-SD packets tshark takes for DNS in tcpdump's
    someip1.pcap stay undecoded here.
    """
    if end - off <= 12 or buf[off + 2] & 0x78:  # an opcode other than a standard query
        return None  # (the common exit, so it comes before any unpacking)
    _id, flags, qd, an, ns, ar = _HEADER.unpack_from(buf, off)
    if ar > 10 or qd + an == 0:
        return None
    if flags & 0x8000:
        if qd > 1 or an > 100 or ns > 10:
            return None
    elif qd != 1 or an or ns:
        return None
    if _NETBIOS_LABEL.match(buf, off + 12, end):
        return None
    msg = wire.parse_message_partial(buf, off, end)
    if msg.malformed or msg.trailing:
        return None
    return decode_dns_udp


def _decode(pkt: Packet, buf: bytes, off: int, end: int, tcp_length) -> None:
    msg = wire.parse_message_partial(buf, off, end)
    layer = Layer("dns", _title, off if tcp_length is None else tcp_length[0], end,
                  (msg, tcp_length), _rows)  # fmt: skip
    pkt.layers.append(layer)
    if pkt.quoted:
        return
    pkt.protocol = "DNS"
    pkt.info = _info(msg)
    if msg.malformed:
        pkt.mark_malformed(layer, f"dns: {msg.malformed}")


def _info(msg: wire.DnsMessage) -> str:
    if not msg.header_complete:
        return "DNS (truncated header)"
    parts = [OPCODE_INFO.get(msg.opcode, f"Unknown operation ({msg.opcode})")]
    if msg.qr:
        parts[0] += " response"
    parts.append(f"0x{msg.id:04x}")
    if msg.qr and msg.rcode:
        parts.append(RCODE_INFO.get(msg.rcode, f"Unknown error ({msg.rcode})"))
    for q in msg.questions:
        parts.append(f"{q.type_name} {ws_name(q.name)}")
    for _section, rr in msg.records():
        parts.append(_rr_info(rr))
    return " ".join(parts)


def _rr_info(rr: wire.ResourceRecord) -> str:
    try:
        return _rr_info_typed(rr)
    except AttributeError:  # rdata too damaged for its type: the parser kept it generic
        return rr.type_name


def _rr_info_typed(rr: wire.ResourceRecord) -> str:
    data = rr.data
    t = rr.rtype
    if t in (1, 28):
        return f"{rr.type_name} {data.address}"
    if t in (2, 5, 12, 39):  # NS, CNAME, PTR, DNAME
        return f"{rr.type_name} {ws_name(data.target)}"
    if t == 15:
        return f"MX {data.preference} {ws_name(data.exchange)}"
    if t == 6:
        return f"SOA {ws_name(data.mname)}"
    if t == 33:
        return f"SRV {data.priority} {data.weight} {data.port} {ws_name(data.target)}"
    return rr.type_name


def _title(layer: Layer) -> str:
    msg = layer.hdr[0]
    kind = "response" if msg.header_complete and msg.qr else "query"
    return f"Domain Name System ({kind})"


# --- fields ---------------------------------------------------------------------------
# fmt: off  (field tables: one Wireshark field per line reads best)
def _rows(layer: Layer, buf: bytes):
    msg, tcp_length = layer.hdr
    rows = []
    if tcp_length is not None:
        at, length = tcp_length
        rows.append(row("dns.length", length, f"Length: {length}", at, 2))
    if not msg.header_complete:
        # Wireshark adds the header fields that are there (rtp-seg-fault-1.pcapng).
        return rows + cut_rows(_header_rows(_short_header(buf, msg.offset)), end=layer.end)
    rows += _header_rows(msg)
    rows += _question_rows(msg)
    for section, rr in msg.records():
        rows += _rr_rows(section, rr)
    return rows


def _header_rows(msg: wire.DnsMessage) -> list:
    o = msg.offset
    flags = msg.flags
    rows = [
        row("dns.id", msg.id, f"Transaction ID: 0x{msg.id:04x}", o, 2),
        row("dns.flags", flags, f"Flags: 0x{flags:04x} {_flags_summary(msg)}", o + 2, 2),
    ]
    bits = (
        FLAG_BITS if msg.qr else [b for b in FLAG_BITS if b[0] not in ("authoritative", "recavail")]
    )
    rows += flag_rows("dns.flags", flags, bits, o + 2, 2, 16)
    rows.append(
        row(
            "dns.flags.opcode", msg.opcode, f"Opcode: {msg.opcode_name} ({msg.opcode})", o + 2, 2, 1
        )
    )
    if msg.qr:
        rows.append(
            row(
                "dns.flags.rcode",
                msg.rcode,
                f"Reply code: {msg.rcode_name} ({msg.rcode})",
                o + 2,
                2,
                1,
            )
        )
    rows += [
        row("dns.count.queries", msg.qdcount, f"Questions: {msg.qdcount}", o + 4, 2),
        row("dns.count.answers", msg.ancount, f"Answer RRs: {msg.ancount}", o + 6, 2),
        row("dns.count.auth_rr", msg.nscount, f"Authority RRs: {msg.nscount}", o + 8, 2),
        row("dns.count.add_rr", msg.arcount, f"Additional RRs: {msg.arcount}", o + 10, 2),
    ]
    return rows


def _short_header(buf: bytes, o: int) -> wire.DnsMessage:
    """A header cut short, zero-padded to 12 bytes (cut_rows drops what was not there)."""
    msg = wire.DnsMessage(o, 12)
    fields = _HEADER.unpack(bytes(buf[o : o + 12]).ljust(12, b"\0"))
    msg.id, msg.flags, msg.qdcount, msg.ancount, msg.nscount, msg.arcount = fields
    msg.end = o + 12
    return msg


def _question_rows(msg: wire.DnsMessage) -> list:
    rows = []
    for q in msg.questions:
        name = ws_name(q.name)
        rows.append(
            row(
                "dns.qry.name",
                name,
                f"Query: {name}: type {q.type_name}, class {q.class_name}",
                q.offset,
                0,
            )
        )
        rows.append(
            row(
                "dns.qry.name.len",
                len(name) if name != "<Root>" else 0,
                f"[Name Length: {len(name)}]",
                depth=1,
            )
        )
        rows.append(
            row(
                "dns.count.labels",
                0 if name == "<Root>" else name.count(".") + 1,
                "[Label Count]",
                depth=1,
            )
        )
        rows.append(row("dns.qry.type", q.qtype, f"Type: {q.type_name} ({q.qtype})", depth=1))
        rows.append(
            row("dns.qry.class", q.qclass, f"Class: {q.class_name} (0x{q.qclass:04x})", depth=1)
        )
    return rows


def _flags_summary(msg: wire.DnsMessage) -> str:
    kind = "response" if msg.qr else "query"
    text = f"{OPCODE_INFO.get(msg.opcode, 'Unknown operation')} {kind}"
    if msg.qr and msg.rcode:
        text += f", {RCODE_INFO.get(msg.rcode, 'Unknown error')}"
    elif msg.qr:
        text += ", No error"
    return text


def _rr_rows(section: str, rr: wire.ResourceRecord) -> list:
    name = ws_name(rr.name)
    heading = {
        "answers": "Answer",
        "authority": "Authoritative nameserver",
        "additional": "Additional record",
    }
    rows = [
        row(
            "dns.resp.name",
            name,
            f"{heading.get(section, section)}: {name}: type {rr.type_name}",
            rr.offset,
            0,
        )
    ]
    rows.append(row("dns.resp.type", rr.rtype, f"Type: {rr.type_name} ({rr.rtype})", depth=1))
    if rr.rtype == 41:  # OPT: the class and TTL fields carry EDNS parameters
        return rows + _opt_rows(rr)
    rows.append(
        row("dns.resp.class", rr.rclass, f"Class: {rr.class_name} (0x{rr.rclass:04x})", depth=1)
    )
    rows.append(
        row(
            "dns.resp.ttl",
            rr.ttl,
            f"Time to live: {rr.ttl} ({wire.duration_text(rr.ttl)})",
            depth=1,
        )
    )
    rows.append(row("dns.resp.len", rr.rdlength, f"Data length: {rr.rdlength}", depth=1))
    try:
        return rows + _rdata_rows(rr)
    except AttributeError:  # rdata too damaged for its type: show it generically
        text = rr.data.to_text() if hasattr(rr.data, "to_text") else ""
        return [*rows, row("dns.resp.data", text, f"Data: {text}", depth=1)]


def _opt_rows(rr: wire.ResourceRecord) -> list:
    rows = [
        row("dns.rr.udp_payload_size", rr.rclass, f"UDP payload size: {rr.rclass}", depth=1),
        row("dns.resp.ext_rcode", rr.ttl >> 24, f"Higher bits in extended RCODE: 0x{rr.ttl >> 24:02x}", depth=1),
        row("dns.resp.edns0_version", rr.ttl >> 16 & 0xFF, f"EDNS0 version: {rr.ttl >> 16 & 0xFF}", depth=1),
        row("dns.resp.z", rr.ttl & 0xFFFF, f"Z: 0x{rr.ttl & 0xFFFF:04x}", depth=1),
        row("dns.resp.z.do", bool(rr.ttl & 0x8000), f"DO bit: {'Accepts DNSSEC security RRs' if rr.ttl & 0x8000 else 'Cannot handle DNSSEC security RRs'}", depth=2),
        row("dns.resp.len", rr.rdlength, f"Data length: {rr.rdlength}", depth=1),
    ]  # fmt: skip
    edns = rr.data
    for opt in getattr(edns, "options", ()):
        rows.append(row("dns.opt.code", opt.code, f"Option: {opt.name}", depth=1))
        rows.append(row("dns.opt.len", len(opt.data), f"Option Length: {len(opt.data)}", depth=2))
        rows.append(
            row("dns.opt.data", bytes(opt.data), f"Option Data: {bytes(opt.data).hex()}", depth=2)
        )
    return rows


def _rdata_rows(rr: wire.ResourceRecord) -> list:
    data: Any = rr.data
    t = rr.rtype
    r = []

    def add(name: str, value: Any, label: str) -> None:
        r.append(
            row(
                name,
                value,
                f"{label}: {value if not isinstance(value, bytes) else value.hex()}",
                depth=1,
            )
        )

    if t == 1:
        add("dns.a", data.address, "Address")
    elif t == 28:
        add("dns.aaaa", data.address, "AAAA Address")
    elif t == 2:
        add("dns.ns", ws_name(data.target), "Name Server")
    elif t == 5:
        add("dns.cname", ws_name(data.target), "CNAME")
    elif t == 12:
        add("dns.ptr.domain_name", ws_name(data.target), "Domain Name")
    elif t == 15:
        add("dns.mx.preference", data.preference, "Preference")
        add("dns.mx.mail_exchange", ws_name(data.exchange), "Mail Exchange")
    elif t == 6:
        add("dns.soa.mname", ws_name(data.mname), "Primary name server")
        add("dns.soa.rname", ws_name(data.rname), "Responsible authority's mailbox")
        add("dns.soa.serial_number", data.serial, "Serial Number")
        add("dns.soa.refresh_interval", data.refresh, "Refresh Interval")
        add("dns.soa.retry_interval", data.retry, "Retry Interval")
        add("dns.soa.expire_limit", data.expire, "Expire limit")
        add("dns.soa.minimum_ttl", data.minimum, "Minimum TTL")
    elif t in (16, 99):
        for s in data.strings:
            add("dns.txt.length", len(s), "TXT Length")
            add("dns.txt", s.decode("utf-8", "replace"), "TXT")
    elif t == 33:
        add("dns.srv.priority", data.priority, "Priority")
        add("dns.srv.weight", data.weight, "Weight")
        add("dns.srv.port", data.port, "Port")
        add("dns.srv.target", ws_name(data.target), "Target")
    elif t == 257:
        add("dns.caa.flags", data.flags, "CAA Flags")
        add("dns.caa.tag", data.tag.decode("ascii", "replace"), "Tag")
        add("dns.caa.value", data.value.decode("utf-8", "replace"), "Value")
    elif t == 43:
        add("dns.ds.key_id", data.key_tag, "Key id")
        add("dns.ds.algorithm", data.algorithm, "Algorithm")
        add("dns.ds.digest_type", data.digest_type, "Digest Type")
        add("dns.ds.digest", bytes(data.digest), "Digest")
    elif t == 48:
        add("dns.dnskey.flags", data.flags, "Flags")
        add("dns.dnskey.protocol", data.protocol, "Protocol")
        add("dns.dnskey.algorithm", data.algorithm, "Algorithm")
        add("dns.dnskey.public_key", bytes(data.key), "Public Key")
    elif t == 46:
        add("dns.rrsig.type_covered", data.type_covered, "Type Covered")
        add("dns.rrsig.algorithm", data.algorithm, "Algorithm")
        add("dns.rrsig.labels", data.labels, "Labels")
        add("dns.rrsig.original_ttl", data.original_ttl, "Original TTL")
        add("dns.rrsig.signature_expiration", data.expiration, "Signature Expiration")
        add("dns.rrsig.signature_inception", data.inception, "Signature Inception")
        add("dns.rrsig.key_tag", data.key_tag, "Key Tag")
        add("dns.rrsig.signers_name", ws_name(data.signer), "Signer's name")
        add("dns.rrsig.signature", bytes(data.signature), "Signature")
    elif t == 47:
        add("dns.nsec.next_domain_name", ws_name(data.next_name), "Next Domain Name")
    elif data is not None and hasattr(data, "to_text"):
        add("dns.resp.data", data.to_text(), "Data")
    return r


# fmt: on


registry.UDP_PORTS[53] = decode_dns_udp
registry.HEURISTICS["udp"].append(dns_udp_heuristic)
registry.TCP_PORTS[53] = registry.StreamProtocol(decode_dns_tcp, dns_tcp_pdu_length)
