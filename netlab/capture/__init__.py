"""Capture files: streaming pcap/pcapng reader and pcapng writer.

    with open_capture("trace.pcapng.gz") as cap:
        for frame in cap:          # a Frame: ts_ns, caplen, wirelen, linktype,
            ...                    #   data, interface, comment
        cap.warnings               # why reading stopped early, if it did

`open_capture` raises `CaptureFormatError` (an `InputError`: exit status 2) for a
file that is not a capture, and `InputError` for one that cannot be opened;
iterating never raises.
"""

from netlab.capture.linktypes import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
    linktype_name,
)
from netlab.capture.reader import Capture, CaptureFormatError, Frame, Interface, open_capture
from netlab.capture.writer import PcapngWriter

__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_IPV4",
    "LINKTYPE_IPV6",
    "LINKTYPE_LINUX_SLL",
    "LINKTYPE_LINUX_SLL2",
    "LINKTYPE_LOOP",
    "LINKTYPE_NULL",
    "LINKTYPE_RAW",
    "Capture",
    "CaptureFormatError",
    "Frame",
    "Interface",
    "PcapngWriter",
    "linktype_name",
    "open_capture",
]
