"""Link layers: Ethernet II (+ 802.1Q/802.1ad tags), Linux cooked v1/v2, BSD loopback, raw IP."""

from __future__ import annotations

import struct
from typing import NamedTuple

import netlab.dissect.registry as registry
from netlab.dissect.base import decode_data, too_deep
from netlab.dissect.model import (
    Layer,
    Packet,
    flag_rows,
    remember,
    row,
)  # fmt: skip

ETHERTYPE_NAMES = {
    0x0800: "IPv4",
    0x0806: "ARP",
    0x86DD: "IPv6",
    0x8100: "802.1Q Virtual LAN",
    0x88A8: "802.1ad Provider Bridge (Q-in-Q)",
    0x9100: "802.1Q-in-Q (legacy)",
    0x8035: "RARP",
    0x88CC: "802.1 Link Layer Discovery Protocol (LLDP)",
    0x8847: "MPLS label switched packet",
    0x8863: "PPPoE Discovery",
    0x8864: "PPPoE Session",
    0x888E: "802.1X Authentication",
}
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)

_ETH = struct.Struct("!6s6sH")
_VLAN = struct.Struct("!HH")
_SLL = struct.Struct("!HHH8sH")
_SLL2 = struct.Struct("!HHIHBB8s")
_U32_BE = struct.Struct("!I")
_U32_LE = struct.Struct("<I")
_new = tuple.__new__  # a header type over an unpacked tuple, without a copy


class EthHeader(NamedTuple):
    dst: bytes
    src: bytes
    type: int  # an ethertype, or (up to 1500) an IEEE 802.3 length


class VlanHeader(NamedTuple):
    tci: int  # priority (3 bits), DEI (1), VLAN ID (12)
    type: int


class SllHeader(NamedTuple):
    """Linux cooked capture, v1 and v2 in one shape."""

    version: int
    pkttype: int
    hatype: int
    halen: int
    addr: bytes
    protocol: int  # an ethertype
    ifindex: int | None  # v2 only


class NullHeader(NamedTuple):
    family: int  # the address family (AF_NAMES)


def mac(b: bytes) -> str:
    return b.hex(":")


def ethertype_text(value: int) -> str:
    return f"{ETHERTYPE_NAMES.get(value, 'Unknown')} (0x{value:04x})"


def next_by_ethertype(d, pkt: Packet, buf: bytes, etype: int, off: int, end: int) -> None:
    decoder = registry.ETHERTYPES.get(etype)
    if decoder is not None:
        decoder(d, pkt, buf, off, end)
    else:
        decode_data(d, pkt, buf, off, end)


def _too_short(pkt: Packet, proto: str, title: str, off: int, end: int, need: int):
    layer = Layer(proto, title, off, end, None, None)
    pkt.layers.append(layer)
    pkt.mark_malformed(
        layer, f"{proto}: needs {need} bytes at offset {off}, only {end - off} captured"
    )
    pkt.info = pkt.info or f"[Malformed {proto.upper()}: truncated]"
    return None


# --- Ethernet II -----------------------------------------------------------------------
def decode_eth(d, pkt: Packet, buf: bytes, off: int, end: int):
    if end - off < 14:
        return _too_short(pkt, "eth", "Ethernet II (truncated)", off, end, 14)
    hdr = _new(EthHeader, _ETH.unpack_from(buf, off))
    dst, src, etype = hdr
    layer = Layer("eth", eth_title, off, off + 14, hdr, _eth_rows)
    pkt.layers.append(layer)
    pkt.src_raw, pkt.dst_raw = src, dst
    if etype <= 1500:
        # IEEE 802.3 length field: LLC follows, which netlab shows as data for now.
        pkt.protocol = pkt.protocol or "LLC"
        return decode_data(d, pkt, buf, off + 14, min(end, off + 14 + etype))
    return next_by_ethertype(d, pkt, buf, etype, off + 14, end)


def _eth_rows(layer: Layer, buf: bytes):
    dst, src, etype = layer.hdr
    o = layer.off
    rows = [row("eth.dst", mac(dst), f"Destination: {mac(dst)}", o, 6)]
    rows += flag_rows("eth.dst", dst[0], [
        ("lg", 0x02, "LG bit (locally administered)"),
        ("ig", 0x01, "IG bit (group address)"),
    ], o, 1, 8)  # fmt: skip
    rows.append(row("eth.src", mac(src), f"Source: {mac(src)}", o + 6, 6))
    if etype <= 1500:
        rows.append(row("eth.len", etype, f"Length: {etype}", o + 12, 2))
    else:
        rows.append(row("eth.type", etype, f"Type: {ethertype_text(etype)}", o + 12, 2))
    return rows


def eth_title(layer: Layer) -> str:
    dst, src, _ = layer.hdr
    return f"Ethernet II, Src: {mac(src)}, Dst: {mac(dst)}"


# --- 802.1Q / 802.1ad tags ------------------------------------------------------------
def decode_vlan(d, pkt: Packet, buf: bytes, off: int, end: int):
    if too_deep(pkt):  # stacked tags: bounded
        return None
    if end - off < 4:
        return _too_short(pkt, "vlan", "802.1Q Virtual LAN (truncated)", off, end, 4)
    hdr = _new(VlanHeader, _VLAN.unpack_from(buf, off))
    pkt.layers.append(Layer("vlan", _vlan_title, off, off + 4, hdr, _vlan_rows))
    return next_by_ethertype(d, pkt, buf, hdr.type, off + 4, end)


def _vlan_title(layer: Layer) -> str:
    tci, _ = layer.hdr
    return f"802.1Q Virtual LAN, PRI: {tci >> 13}, DEI: {tci >> 12 & 1}, ID: {tci & 0x0FFF}"


def _vlan_rows(layer: Layer, buf: bytes):
    tci, etype = layer.hdr
    o = layer.off
    return [
        row("vlan.priority", tci >> 13, f"Priority: {tci >> 13}", o, 2, 1),
        row("vlan.dei", bool(tci >> 12 & 1), f"DEI: {tci >> 12 & 1}", o, 2, 1),
        row("vlan.id", tci & 0x0FFF, f"ID: {tci & 0x0FFF}", o, 2, 1),
        row("vlan.etype", etype, f"Type: {ethertype_text(etype)}", o + 2, 2),
    ]


# --- Linux cooked capture (SLL v1 and v2) ----------------------------------------------
SLL_PKTTYPES = {
    0: "Unicast to us",
    1: "Broadcast",
    2: "Multicast",
    3: "Unicast to another host",
    4: "Sent by us",
}


def decode_sll(d, pkt: Packet, buf: bytes, off: int, end: int):
    if end - off < 16:
        return _too_short(pkt, "sll", "Linux cooked capture v1 (truncated)", off, end, 16)
    pkttype, hatype, halen, addr, proto = _SLL.unpack_from(buf, off)
    hdr = SllHeader(1, pkttype, hatype, halen, addr, proto, None)
    return _sll_common(d, pkt, buf, hdr, off, off + 16, end)


def decode_sll2(d, pkt: Packet, buf: bytes, off: int, end: int):
    if end - off < 20:
        return _too_short(pkt, "sll", "Linux cooked capture v2 (truncated)", off, end, 20)
    proto, _reserved, ifindex, hatype, pkttype, halen, addr = _SLL2.unpack_from(buf, off)
    hdr = SllHeader(2, pkttype, hatype, halen, addr, proto, ifindex)
    return _sll_common(d, pkt, buf, hdr, off, off + 20, end)


def _sll_common(d, pkt: Packet, buf: bytes, hdr: SllHeader, off: int, payload: int, end: int):
    title = f"Linux cooked capture v{hdr.version}"
    layer = Layer("sll", title, off, payload, hdr, _sll_rows)
    pkt.layers.append(layer)
    _version, _pkttype, hatype, halen, addr, proto, _ifindex = hdr
    if hatype in (1, 772) and halen == 6:  # Ethernet / loopback: a MAC source
        pkt.src_raw = addr[:6]
    if proto == 0x0004:  # 802.2 LLC frames (e.g. STP) ride in cooked captures like this
        pkt.protocol = pkt.protocol or "LLC"
        return decode_data(d, pkt, buf, payload, end)
    return next_by_ethertype(d, pkt, buf, proto, payload, end)


def _sll_rows(layer: Layer, buf: bytes):
    version, pkttype, hatype, halen, addr, proto, ifindex = layer.hdr
    o = layer.off
    rows = []
    if version == 2:
        rows.append(row("sll.etype", proto, f"Protocol: {ethertype_text(proto)}", o, 2))
        rows.append(row("sll.ifindex", ifindex, f"Interface index: {ifindex}", o + 4, 4))
    kind = SLL_PKTTYPES.get(pkttype, "Unknown")
    rows.append(row("sll.pkttype", pkttype, f"Packet type: {kind} ({pkttype})"))
    rows.append(row("sll.hatype", hatype, f"Link-layer address type: {hatype}"))
    rows.append(row("sll.halen", halen, f"Link-layer address length: {halen}"))
    if halen == 6:
        rows.append(row("sll.src.eth", mac(addr[:6]), f"Source: {mac(addr[:6])}"))
    if version == 1:
        rows.append(row("sll.etype", proto, f"Protocol: {ethertype_text(proto)}", o + 14, 2))
    return rows


# --- BSD loopback (NULL: host byte order; LOOP: network byte order) -----------------------
AF_NAMES = {2: "IP", 24: "IPv6", 28: "IPv6", 30: "IPv6", 10: "IPv6"}


def _decode_null_like(d, pkt: Packet, buf: bytes, off: int, end: int, network_order: bool):
    if end - off < 4:
        return _too_short(pkt, "null", "Null/Loopback (truncated)", off, end, 4)
    if network_order:
        family = _U32_BE.unpack_from(buf, off)[0]
    else:
        # Written in the capturing host's byte order: a small number tells which one.
        little = _U32_LE.unpack_from(buf, off)[0]
        family = little if little < 0x10000 else _U32_BE.unpack_from(buf, off)[0]
    layer = Layer("null", "Null/Loopback", off, off + 4, NullHeader(family), _null_rows)
    pkt.layers.append(layer)
    if family == 2:
        return registry.ETHERTYPES[0x0800](d, pkt, buf, off + 4, end)
    if family in (10, 24, 28, 30):
        return registry.ETHERTYPES[0x86DD](d, pkt, buf, off + 4, end)
    return decode_data(d, pkt, buf, off + 4, end)


def _null_rows(layer: Layer, buf: bytes):
    family = layer.hdr.family
    name = AF_NAMES.get(family, "Unknown")
    return [row("null.family", family, f"Family: {name} ({family})", layer.off, 4)]


def decode_null(d, pkt, buf, off, end):
    return _decode_null_like(d, pkt, buf, off, end, network_order=False)


def decode_loop(d, pkt, buf, off, end):
    return _decode_null_like(d, pkt, buf, off, end, network_order=True)


# --- Raw IP (no link header) ---------------------------------------------------------------
def decode_raw(d, pkt: Packet, buf: bytes, off: int, end: int):
    if end <= off:
        return None
    version = buf[off] >> 4
    decoder = registry.ETHERTYPES.get(0x0800 if version == 4 else 0x86DD if version == 6 else -1)
    if decoder is None:
        pkt.protocol = pkt.protocol or "Raw"
        return decode_data(d, pkt, buf, off, end)
    return decoder(d, pkt, buf, off, end)


def decode_raw4(d, pkt, buf, off, end):
    # Wireshark hands LINKTYPE_IPV4 to its IPv4 dissector, which passes a version-6
    # header on to IPv6 (tcpdump's LINKTYPE_IPV4_invalid test); ip.py does the same.
    return registry.ETHERTYPES[0x0800](d, pkt, buf, off, end)


def decode_raw6(d, pkt, buf, off, end):
    # LINKTYPE_IPV6 goes to IPv6 only: an IPv4 header there is a bogus IPv6 version.
    return registry.ETHERTYPES[0x86DD](d, pkt, buf, off, end)


# --- fast writers (model.JSON_WRITERS): the link headers as text ------------------------
# Every frame of an Ethernet capture starts with this header, and a capture repeats a
# few (dst, src, type) triples over and over: its texts are cached per header tuple,
# so a frame costs one dict look-up. Bounded: a scan of many addresses stays flat.
_ETH_JSON: dict[tuple, str] = {}
_ETH_TREE: dict[tuple, str] = {}
_CACHE_LIMIT = 4096
_JSON_BOOL = ("false", "true")
_SET = ("Not set", "Set")


def _eth_json(layer: Layer, buf: bytes) -> str:
    hdr = layer.hdr
    return _ETH_JSON.get(hdr) or remember(_ETH_JSON, hdr, _eth_json_text(hdr), _CACHE_LIMIT)


def _eth_json_text(hdr: EthHeader) -> str:
    dst, src, etype = hdr
    kind = "len" if etype <= 1500 else "type"
    return (
        f'"eth.dst":"{mac(dst)}","eth.dst.lg":{_JSON_BOOL[dst[0] >> 1 & 1]},'
        f'"eth.dst.ig":{_JSON_BOOL[dst[0] & 1]},"eth.src":"{mac(src)}","eth.{kind}":{etype}'
    )


def _eth_tree(layer: Layer, buf: bytes) -> str:
    hdr = layer.hdr
    return _ETH_TREE.get(hdr) or remember(_ETH_TREE, hdr, _eth_tree_text(hdr), _CACHE_LIMIT)


def _eth_tree_text(hdr: EthHeader) -> str:
    dst, src, etype = hdr
    d, s = mac(dst), mac(src)
    lg, ig = dst[0] >> 1 & 1, dst[0] & 1
    kind = f"Length: {etype}" if etype <= 1500 else f"Type: {ethertype_text(etype)}"
    return (
        f"Ethernet II, Src: {s}, Dst: {d}\n"
        f"    Destination: {d}\n"
        f"        .... ..{lg}. = LG bit (locally administered): {_SET[lg]}\n"
        f"        .... ...{ig} = IG bit (group address): {_SET[ig]}\n"
        f"    Source: {s}\n"
        f"    {kind}"
    )


def _vlan_json(layer: Layer, buf: bytes) -> str:
    tci, etype = layer.hdr
    return (
        f'"vlan.priority":{tci >> 13},"vlan.dei":{_JSON_BOOL[tci >> 12 & 1]},'
        f'"vlan.id":{tci & 0x0FFF},"vlan.etype":{etype}'
    )


def _vlan_tree(layer: Layer, buf: bytes) -> str:
    tci, etype = layer.hdr
    pri, dei, vid = tci >> 13, tci >> 12 & 1, tci & 0x0FFF
    return (
        f"802.1Q Virtual LAN, PRI: {pri}, DEI: {dei}, ID: {vid}\n"
        f"        Priority: {pri}\n"
        f"        DEI: {dei}\n"
        f"        ID: {vid}\n"
        f"    Type: {ethertype_text(etype)}"
    )


def _sll_json(layer: Layer, buf: bytes) -> str:
    version, pkttype, hatype, halen, addr, proto, ifindex = layer.hdr
    # v2 puts the protocol first (with the interface index), v1 last.
    head = f'"sll.etype":{proto},"sll.ifindex":{ifindex},' if version == 2 else ""
    src = f',"sll.src.eth":"{mac(addr[:6])}"' if halen == 6 else ""
    tail = f',"sll.etype":{proto}' if version == 1 else ""
    return f'{head}"sll.pkttype":{pkttype},"sll.hatype":{hatype},"sll.halen":{halen}{src}{tail}'


def _sll_tree(layer: Layer, buf: bytes) -> str:
    version, pkttype, hatype, halen, addr, proto, ifindex = layer.hdr
    etype = f"\n    Protocol: {ethertype_text(proto)}"
    head = f"{etype}\n    Interface index: {ifindex}" if version == 2 else ""
    src = f"\n    Source: {mac(addr[:6])}" if halen == 6 else ""
    return (
        f"Linux cooked capture v{version}{head}\n"
        f"    Packet type: {SLL_PKTTYPES.get(pkttype, 'Unknown')} ({pkttype})\n"
        f"    Link-layer address type: {hatype}\n"
        f"    Link-layer address length: {halen}{src}{etype if version == 1 else ''}"
    )


def _null_json(layer: Layer, buf: bytes) -> str:
    return f'"null.family":{layer.hdr.family}'


def _null_tree(layer: Layer, buf: bytes) -> str:
    family = layer.hdr.family
    return f"Null/Loopback\n    Family: {AF_NAMES.get(family, 'Unknown')} ({family})"


registry.register("eth", linktypes={1: decode_eth}, writers={_eth_rows: (_eth_json, _eth_tree)})
registry.register("vlan", ethertypes=dict.fromkeys(VLAN_TPIDS, decode_vlan),
                  writers={_vlan_rows: (_vlan_json, _vlan_tree)})  # fmt: skip
registry.register("sll", linktypes={113: decode_sll, 276: decode_sll2},
                  writers={_sll_rows: (_sll_json, _sll_tree)})  # fmt: skip
registry.register("null", linktypes={0: decode_null, 108: decode_loop},
                  writers={_null_rows: (_null_json, _null_tree)})  # fmt: skip
registry.register(linktypes={  # raw IP: the layers are IPv4's or IPv6's
    12: decode_raw,  # DLT_RAW on some BSDs
    14: decode_raw,  # OpenBSD DLT_RAW
    101: decode_raw,
    228: decode_raw4,
    229: decode_raw6,
})  # fmt: skip
