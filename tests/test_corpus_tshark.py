"""Where tshark decodes a corpus capture, netlab agrees: field by field, file by file.

Every tcpdump test capture whose link types netlab decodes and that tshark reads
with the same frame count is compared on the FIELDS of tests/test_dissect.py,
packet by packet. The files that agree on every field must include each name in
tests/corpus/tshark_agree.txt, so a regression fails here and an improvement only
needs its file name appended there (the test prints the names to append).
Files that disagree for a known reason are in KNOWN_DIFFERENT: protocols netlab
does not decode yet, and the few places where netlab differs on purpose.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from netlab.capture.reader import CaptureFormatError, open_capture
from netlab.dissect import Dissector, registry
from tests.conftest import CORPUS, require_tool
from tests.test_dissect import FIELDS, field_row, norm, tshark_texts
from tests.test_tcp_analysis import ANALYSIS_FIELDS, netlab_row, tshark_row
from tests.test_tcp_analysis import check as check_tcp_analysis

AGREE_LIST = CORPUS.parent / "tshark_agree.txt"
MIN_AGREE = 338  # files agreeing when the list was last regenerated
# tshark runs in threads (the work is in its processes): 3 keeps 2 cores busy.
WORKERS = min(3, (os.cpu_count() or 2) + 1)
# netlab presumes TCP segmentation offload ("BIG TCP") when an IPv6 payload length is 0
# without a jumbo option, as tshark does for IPv4 by default and for IPv6 with this
# preference (bigtcp-ipv6.pcap, icmpv6-length-zero.pcapng).
TSHARK_OPTIONS = ("-o", "ipv6.tso_support:TRUE")

# TCP sequence analysis is compared too, frame by frame (tests/test_tcp_analysis.py),
# but for bytes_in_flight and push_bytes_sent: tshark counts a segment cut short by the
# capture at its length from the IP header, netlab at the bytes captured (tcp.len
# differs there too), and a few fuzzed files in the corpus are cut that way.
TCP_ANALYSIS = [
    name
    for name in ANALYSIS_FIELDS
    if name not in ("tcp.analysis.bytes_in_flight", "tcp.analysis.push_bytes_sent")
]
_TUNNEL = "a tunnel netlab does not decode yet"
KNOWN_DIFFERENT = {
    # Protocols netlab does not decode yet: tshark shows the layers inside them.
    "arista_ether.pcap": "Arista vendor ethertype 0xd28b (timestamp header)",
    "bigtcp-ipv6-geneve-ipv4.pcap": f"Geneve, {_TUNNEL}",
    "bigtcp-ipv6-vxlan-ipv6.pcap": f"VXLAN, {_TUNNEL}",
    "erspan-type-i-2.pcap": f"ERSPAN over GRE, {_TUNNEL}",
    "erspan-type-i-4.pcap": f"ERSPAN over GRE, {_TUNNEL}",
    "erspan-type-ii-2.pcap": f"ERSPAN over GRE, {_TUNNEL}",
    "erspan-type-iii-ft-0.pcap": f"ERSPAN over GRE, {_TUNNEL}",
    "geneve-gcp.pcap": f"Geneve, {_TUNNEL}",
    "gso-ipv4-geneve-ipv4.pcap": f"Geneve, {_TUNNEL}",
    "gso-ipv4-geneve-ipv6.pcap": f"Geneve, {_TUNNEL}",
    "gso-ipv4-vxlan-ipv4.pcap": f"VXLAN, {_TUNNEL}",
    "gso-ipv4-vxlan-ipv6.pcap": f"VXLAN, {_TUNNEL}",
    "gso-ipv6-geneve-ipv4.pcap": f"Geneve, {_TUNNEL}",
    "gso-ipv6-vxlan-ipv6.pcap": f"VXLAN, {_TUNNEL}",
    "icmp-rfc8335-missing-bytes.pcap": "MACsec (802.1AE), not decoded yet",
    "ipv6-srh-ipproto-ether.pcap": f"Ethernet in IPv6 (IP protocol 143), {_TUNNEL}",
    "macsec-short-shorter.pcap": "MACsec (802.1AE), not decoded yet",
    "nsh-over-vxlan-gpe.pcap": f"VXLAN-GPE and NSH, {_TUNNEL}",
    "of10_s4810.pcap": "OpenFlow 1.0 carrying Ethernet frames, not decoded yet",
    "sflow-print-v6.pcap": "sFlow samples carrying frames, not decoded yet",
    "sflow_expanded.pcap": "sFlow samples carrying frames, not decoded yet",
    "tok2str-oobr-2.pcap": "MPLS, not decoded yet",
    "various_gre.pcap": f"GRE, {_TUNNEL}",
    "vxlan.pcap": f"VXLAN, {_TUNNEL}",
    "wccp_redirect_gre.pcap": f"WCCP redirect over GRE, {_TUNNEL}",
    # Deliberate differences.
    "dns_fwdptr.pcap": "forward compression pointers: tshark follows them ('<Name too long>'); "
    "netlab rejects them (RFC 1035 4.1.4: a pointer is to a prior occurrence)",
    "someip1.pcap": "SOME/IP-SD that tshark's DNS heuristic takes for DNS (and marks malformed); "
    "netlab's heuristic also needs a clean parse",
}


def netlab_rows(path: Path) -> tuple[list[dict[str, list[str]]], list] | None:
    """netlab's FIELDS per packet, like test_dissect.netlab_fields but in this process
    (a process per file would cost more than the decoding), and its TCP analysis rows
    (test_tcp_analysis.netlab_row); None if netlab cannot decode one of the file's link
    types."""
    dissector = Dissector()  # loads the protocol modules, which fill registry.LINKTYPES
    rows, analysis = [], []
    with open_capture(path) as cap:
        for no, frame in enumerate(cap, 1):
            if frame.linktype not in registry.LINKTYPES:
                return None
            pkt = dissector.dissect(no, frame.ts_ns, frame.data, frame.wirelen, frame.linktype,
                                    frame.interface, frame.comment)  # fmt: skip
            fields = pkt.field_dict()
            row = {}
            for name in FIELDS:
                if name in fields:
                    values = fields[name] if isinstance(fields[name], list) else [fields[name]]
                    row[name] = [norm(name, v) for v in values]
            rows.append(row)
            analysis.append(netlab_row(pkt, fields, TCP_ANALYSIS))
    return rows, analysis


def tshark_rows(path: Path) -> tuple[list[dict[str, list[str]]], list]:
    """tshark's FIELDS per packet (test_dissect.tshark_fields) and its TCP analysis
    rows (test_tcp_analysis.tshark_analysis), from one run."""
    names = [*FIELDS, "_ws.col.Info", *TCP_ANALYSIS]
    texts = tshark_texts(path, names, TSHARK_OPTIONS, check=False)
    rows, analysis = [], []
    for values in texts:
        rows.append(field_row(FIELDS, values))
        firsts = {n: v.split(",")[0] for n, v in zip(TCP_ANALYSIS, values[len(FIELDS) + 1 :],
                                                     strict=False)}  # fmt: skip
        info = values[len(FIELDS)] if len(values) > len(FIELDS) else ""
        analysis.append(tshark_row(firsts, info))
    return rows, analysis


def compare(path: Path) -> tuple[str, str]:
    """("agree" | "differ" | "skip", what): the first difference, or why it was skipped."""
    try:
        found = netlab_rows(path)
    except CaptureFormatError:
        return "skip", "not a capture"
    if found is None:
        return "skip", "a link type netlab does not decode"
    ours, our_analysis = found
    theirs, their_analysis = tshark_rows(path)
    if len(theirs) != len(ours):
        return "skip", f"tshark reads {len(theirs)} frames, netlab {len(ours)}"
    for no, (a, b) in enumerate(zip(ours, theirs, strict=True), 1):
        if a != b:
            keys = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
            diff = {k: (a.get(k), b.get(k)) for k in keys}
            return "differ", f"packet {no}: (netlab, tshark) {str(diff)[:300]}"
    if any("tcp.stream" in row for row in ours):
        try:
            check_tcp_analysis(path.name, their_analysis, our_analysis, False)
        except AssertionError as err:
            return "differ", f"TCP analysis: {str(err)[:300]}"
    return "agree", ""


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*") if p.suffix in (".pcap", ".pcapng"))


@pytest.mark.slow
def test_corpus_fields_agree_with_tshark():
    require_tool("tshark")
    files = corpus_files()
    if not files:
        pytest.skip(f"corpus not found at {CORPUS}")
    with ThreadPoolExecutor(WORKERS) as pool:
        results = dict(zip((p.name for p in files), pool.map(compare, files), strict=True))
    agree = {name for name, (status, _) in results.items() if status == "agree"}
    expected = set(AGREE_LIST.read_text().split())
    differ = {name for name, (status, _) in results.items() if status == "differ"}
    print(f"\n{len(agree)} corpus files agree with tshark on every field "
          f"({len(differ)} differ, {len(files) - len(agree) - len(differ)} skipped)")  # fmt: skip
    if agree - expected:
        print(f"agree but not yet in {AGREE_LIST.name} (append them):", *sorted(agree - expected))
    unexplained = sorted(differ - KNOWN_DIFFERENT.keys())
    for name in unexplained:
        print(f"differs, reason unknown: {name}: {results[name][1]}")
    lost = sorted(expected - agree)
    assert not lost, "no longer agree with tshark:\n" + "\n".join(
        f"{name}: {results.get(name, ('missing', 'not in the corpus'))[1]}" for name in lost
    )
    assert len(agree) >= MIN_AGREE
