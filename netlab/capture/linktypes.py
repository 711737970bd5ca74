"""Link-layer header types (LINKTYPE_* values of the tcpdump.org registry).

These are the values stored in the pcap file header and in the pcapng Interface
Description Block. Only the ones netlab names somewhere are listed; any other
value is still passed through as a plain int.
"""

from __future__ import annotations

LINKTYPE_NULL = 0  # BSD loopback: 4-byte host-order address family
LINKTYPE_ETHERNET = 1
LINKTYPE_IEEE802_5 = 6
LINKTYPE_PPP = 9
LINKTYPE_FDDI = 10
LINKTYPE_RAW = 101  # raw IPv4 or IPv6, version from the first nibble
LINKTYPE_C_HDLC = 104
LINKTYPE_IEEE802_11 = 105
LINKTYPE_LOOP = 108  # OpenBSD loopback: 4-byte network-order address family
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IEEE802_11_RADIOTAP = 127
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_NETLINK = 253
LINKTYPE_LINUX_SLL2 = 276

LINKTYPE_NAMES: dict[int, str] = {
    LINKTYPE_NULL: "NULL",
    LINKTYPE_ETHERNET: "ETHERNET",
    LINKTYPE_IEEE802_5: "IEEE802_5",
    LINKTYPE_PPP: "PPP",
    LINKTYPE_FDDI: "FDDI",
    LINKTYPE_RAW: "RAW",
    LINKTYPE_C_HDLC: "C_HDLC",
    LINKTYPE_IEEE802_11: "IEEE802_11",
    LINKTYPE_LOOP: "LOOP",
    LINKTYPE_LINUX_SLL: "LINUX_SLL",
    LINKTYPE_IEEE802_11_RADIOTAP: "IEEE802_11_RADIOTAP",
    LINKTYPE_IPV4: "IPV4",
    LINKTYPE_IPV6: "IPV6",
    LINKTYPE_NETLINK: "NETLINK",
    LINKTYPE_LINUX_SLL2: "LINUX_SLL2",
}

# The pcap file header's link-type field carries more than the type
# (draft-ietf-opsawg-pcap §4): bits 0-15 are the link type, bit 26 (F) says that
# bits 28-31 hold the FCS length in 16-bit words. Old writers left junk in the
# upper bits (tcpdump's test corpus has 0x30000001), so only the low 16 bits name
# the type, and the FCS length is believed only when F is set.
LINKTYPE_MASK = 0xFFFF
LINKTYPE_FCS_PRESENT = 0x04000000


def linktype_name(linktype: int) -> str:
    """The registry name without its LINKTYPE_ prefix, or the number."""
    return LINKTYPE_NAMES.get(linktype, str(linktype))


def pcap_fcs_len(linktype_field: int) -> int | None:
    """FCS length in bytes from a pcap link-type field, None when not stated."""
    if linktype_field & LINKTYPE_FCS_PRESENT:
        return ((linktype_field >> 28) & 0xF) * 2
    return None
