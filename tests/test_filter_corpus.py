"""A corpus of display filters selects exactly the frames tshark selects.

tests/filters/corpus.txt holds the filters (Wireshark's documentation and filters
users type: frame, eth, arp, ip, ipv6, tcp, udp, icmp, icmpv6, dns, http, tls). They
run on pcaps/ and a set of tcpdump-corpus captures that cover those protocols and on
which netlab's fields agree with tshark's (tests/corpus/tshark_agree.txt).

tshark answers every filter of a file in one run: tests/filters/listen.lua registers
one tap listener per filter (a listener's filter is a display filter, as -Y's is) and
writes the frames each selected, so the oracle costs one tshark run per file, not one
per filter and file. `test_listeners_answer_as_dash_y` holds that method to -Y itself.
A filter tshark refuses must be refused by netlab too (InputError, exit 2), and the
other way round, except for KNOWN_DIFFERENT.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from netlab.capture.reader import open_capture
from netlab.dissect import Dissector
from netlab.dissect.filter import compile_filter
from netlab.errors import InputError
from tests.conftest import CORPUS, ROOT, netlab_bin, require_tool

HERE = ROOT / "tests" / "filters"
FILTERS = [
    line.strip()
    for line in (HERE / "corpus.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]
CORPUS_FILES = [
    "dns-uri.pcap", "dns_udp.pcap", "print-flags.pcap", "icmp-rfc8335.pcap",
    "icmp6-rfc8335.pcap", "icmpv6-ni-flags.pcap", "isakmp4500.pcap", "802.1ad_QinQ.pcap",
    "mptcp-fclose.pcap", "ntp-control.pcap", "bgp-bgpsec.pcap", "pptp.pcap",
    "HSRP_election.pcap", "nfs-write-verf-cookie.pcapng",
    "ipv6_mobility_1.pcap", "mptcp-v1.pcap", "tcp_rst_data.pcap", "arp-too-long-tha.pcap",
]  # fmt: skip
WORKERS = min(3, (os.cpu_count() or 2) + 1)

_OLD_SETS = "sets without commas: Wireshark before 4.0 wrote them so, netlab reads both"
KNOWN_DIFFERENT = {
    # netlab accepts more than tshark 4.0 here, on purpose.
    "eth.type in {0x0800 0x86dd}": _OLD_SETS,
    "ip.ttl in {1 2 3}": _OLD_SETS,
    "tcp.stream in {0 1}": _OLD_SETS,
    "udp.port in {53 123 161 162}": _OLD_SETS,
    "dns.qry.type in {1 28}": _OLD_SETS,
    'http.request.method in {"GET" "HEAD"}': _OLD_SETS,
    "tcp.flags.syn == 1 xor tcp.flags.ack == 1": "xor / ^^ came with Wireshark 4.2; netlab "
    "has it, the tshark 4.0 here does not",
}
# Where netlab's decoders differ from tshark's on a file (not the filters): {file: (why,
# filters that may differ there)}.
_DATA = ("data", "data.data", "len(data.data) > 4", "data.len > 10")
_PROTOCOLS = ('frame.protocols == "eth:ethertype:ip:tcp"',)
_RST = ("tcp.payload", "len(tcp.payload) > 10", "http", "!http", "tcp.len > 0 && !http",
        "_ws.malformed", "!_ws.malformed", "http || tls", *_PROTOCOLS)  # fmt: skip
DECODED_DIFFERENTLY = {
    "bt-tracker.pcapng": (
        "BEP 15 (UDP tracker): tshark 4.0 has no bt-tracker dissector and shows data, "
        "netlab decodes it as Wireshark 4.2 does",
        _DATA,
    ),
    "ping.pcap": (
        "an ICMPv6 echo's payload: tshark hands it to its data dissector, netlab "
        "keeps it in the ICMPv6 layer",
        _DATA,
    ),
    "tcp-udp.pcap": (
        "the UDP datagram an ICMP error quotes: tshark decodes its payload "
        "and numbers its stream, netlab stops at its header",
        (*_DATA, "udp.stream == 0"),
    ),
    "icmp-rfc8335.pcap": (
        "RFC 8335 extended echo: tshark decodes its identifier and "
        "extension objects, netlab shows the body as data",
        (*_DATA, "icmp.ident > 0"),
    ),
    "icmp6-rfc8335.pcap": (
        "RFC 8335 extended echo over ICMPv6, as above",
        ("icmpv6.echo.identifier > 0",),
    ),
    "isakmp4500.pcap": ("ISAKMP, which netlab does not decode (data)", _DATA),
    "mptcp-fclose.pcap": ("MPTCP options: tshark adds an mptcp layer", _PROTOCOLS),
    "pptp.pcap": ("PPTP, which netlab does not decode (data)", (*_PROTOCOLS, *_DATA)),
    "tcp_rst_data.pcap": (
        "data in a TCP RST: tshark shows it as the reset cause, netlab "
        "hands it to HTTP (port 80), which finds it malformed",
        (*_RST, *_DATA),
    ),
    "ntp-control.pcap": ("NTP, which netlab does not decode (data)", _DATA),
    "bgp-bgpsec.pcap": ("BGP, which netlab does not decode (data)", _DATA),
    "HSRP_election.pcap": ("HSRP, which netlab does not decode (data)", _DATA),
    "ipv6_mobility_1.pcap": ("IPv6 mobility headers, not decoded by netlab (data)", _DATA),
    "arp-too-long-tha.pcap": (
        "802.1ad (QinQ) tags: tshark names them ieee8021ad, netlab vlan",
        ("vlan", "vlan.id > 0"),
    ),
}


def captures() -> list[Path]:
    files = sorted((ROOT / "pcaps").glob("*.pcap*"))
    return files + [CORPUS / name for name in CORPUS_FILES if (CORPUS / name).exists()]


def tshark_answers(path: Path, filters: list[str]) -> list[list[int] | str]:
    """For each filter, the frames tshark selects in PATH, or "error …"."""
    with tempfile.TemporaryDirectory() as tmp:
        listed, answers = Path(tmp) / "filters", Path(tmp) / "answers"
        listed.write_text("\n".join(filters) + "\n")
        env = dict(os.environ, NETLAB_FILTERS=str(listed), NETLAB_OUT=str(answers))
        subprocess.run([require_tool("tshark"), "-n", "-q", "-r", str(path), "-X",
                        f"lua_script:{HERE / 'listen.lua'}"], env=env, capture_output=True,
                       check=True, timeout=120)  # fmt: skip
        lines = answers.read_text().splitlines()
    assert len(lines) == len(filters), f"{path.name}: tshark answered {len(lines)} filters"
    return [line if line.startswith("error") else [int(n) for n in line.split()]
            for line in lines]  # fmt: skip


def netlab_answers(path: Path, filters: list[str]) -> list[list[int] | str]:
    dissector = Dissector(False)
    with open_capture(path) as cap:
        packets = [dissector.dissect(no, f.ts_ns, f.data, f.wirelen, f.linktype, f.interface,
                                     f.comment) for no, f in enumerate(cap, 1)]  # fmt: skip
        pcapng = cap.format == "pcapng"
    out: list[list[int] | str] = []
    for text in filters:
        try:
            compiled = compile_filter(text)
            compiled.clock.pcapng = pcapng
        except InputError as err:
            out.append(f"error {err.message}")
            continue
        out.append([pkt.no for pkt in packets if compiled.matches(pkt)])
    return out


def _compare(path: Path) -> tuple[list, list[tuple[str, str, object, object]]]:
    """netlab's answers on PATH, and where they differ from tshark's."""
    ours, theirs = netlab_answers(path, FILTERS), tshark_answers(path, FILTERS)
    differ = []
    for text, a, b in zip(FILTERS, ours, theirs, strict=True):
        same = a == b or (isinstance(a, str) and isinstance(b, str))
        if not same:
            differ.append((path.name, text, a, b))
    return ours, differ


@pytest.fixture(scope="module")
def results():
    require_tool("tshark")
    files = captures()
    with ThreadPoolExecutor(WORKERS) as pool:
        found = list(pool.map(_compare, files))
    return files, [d for _ours, per_file in found for d in per_file], [o for o, _ in found]


def test_corpus_is_large_and_varied():
    assert len(FILTERS) >= 200 and len(set(FILTERS)) == len(FILTERS)
    protos = {"frame", "eth", "arp", "ip", "ipv6", "tcp", "udp", "icmp", "icmpv6", "dns",
              "http", "tls"}  # fmt: skip
    used = {f.split(".")[0].split()[0].strip("!()") for f in FILTERS}
    assert protos <= used, protos - used


def test_filters_select_what_tshark_selects(results):
    files, differ, _answers = results
    unexplained = [d for d in differ if d[1] not in KNOWN_DIFFERENT
                   and d[1] not in DECODED_DIFFERENTLY.get(d[0], ("", ()))[1]]  # fmt: skip
    agree = len(FILTERS) - len({d[1] for d in differ})
    print(f"\n{agree} of {len(FILTERS)} filters select the same frames as tshark on all "
          f"{len(files)} files; {len(differ)} (filter, file) pairs differ, each explained: "
          f"{len(KNOWN_DIFFERENT)} filters netlab accepts and tshark 4.0 does not, "
          f"the rest where the decoders differ")  # fmt: skip
    assert not unexplained, "\n".join(
        f"{name}: {text!r}: netlab {str(a)[:120]}, tshark {str(b)[:120]}"
        for name, text, a, b in unexplained[:40]
    )
    assert len(files) >= len(CORPUS_FILES)  # the corpus was found


def test_known_differences_still_differ(results):
    _files, differ, _answers = results
    stale = set(KNOWN_DIFFERENT) - {d[1] for d in differ}
    assert not stale, f"no longer different, take them out of KNOWN_DIFFERENT: {stale}"


def test_the_filters_are_not_trivial(results):
    # Most filters select some frames somewhere and not every frame everywhere.
    files, _differ, answers = results
    sizes = [len(netlab_answers(path, ["frame"])[0]) for path in files]
    useful = 0
    for i in range(len(FILTERS)):
        counts = [len(a[i]) for a in answers if isinstance(a[i], list)]
        if any(counts) and any(n < size for n, size in zip(counts, sizes, strict=False)):
            useful += 1
    assert useful >= 0.75 * len(FILTERS), useful


SAMPLE = ['tcp contains "hello"', "frame.time_delta > 0.0001", "tcp.flags & 0x02",
          "eth.src[0:3] == 00:00:00", 'frame matches "(?i)HELLO"', "ip.src != 127.0.0.1",
          "udp.payload", "frame.time_relative > 0.0002"]  # fmt: skip


def test_listeners_answer_as_dash_y():
    # The oracle's method: a tap listener's filter selects what -Y selects.
    tshark = require_tool("tshark")
    path = ROOT / "pcaps" / "tcp-udp.pcap"
    listened = tshark_answers(path, SAMPLE)
    for text, frames in zip(SAMPLE, listened, strict=True):
        out = subprocess.run([tshark, "-n", "-r", str(path), "-Y", text, "-T", "fields", "-e",
                              "frame.number"], capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
        assert [int(n) for n in out.split()] == frames, text


def test_time_delta_displayed_counts_from_the_last_shown_frame():
    # With -Y, "displayed" means "passed the filter so far" (tshark's one pass).
    tshark = require_tool("tshark")
    path = ROOT / "pcaps" / "tcp-udp.pcap"
    for text in ("frame.time_delta_displayed > 0.0001", "frame.time_delta_displayed == 0",
                 "tcp && frame.time_delta_displayed < 0.0001"):  # fmt: skip
        theirs = subprocess.run([tshark, "-n", "-r", str(path), "-Y", text, "-T", "fields",
                                 "-e", "frame.number"], capture_output=True, text=True,
                                check=True).stdout.split()  # fmt: skip
        ours = subprocess.run([netlab_bin(), "dissect", "-Y", text, str(path)],
                              capture_output=True, text=True, check=True).stdout  # fmt: skip
        assert [line.split()[0] for line in ours.splitlines()] == theirs, text


@pytest.mark.parametrize("option", ["-Y", "-R", "-e"])
def test_an_unknown_field_is_an_error_naming_it(option):
    args = [netlab_bin(), "dissect", option, "foo.bar", str(ROOT / "pcaps" / "ping.pcap")]
    if option == "-R":
        args[2:2] = ["-2"]
    if option == "-e":
        args[2:2] = ["-T", "fields"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert "'foo.bar' is neither a field nor a protocol name" in proc.stderr
    assert proc.stdout == "" and len(proc.stderr.splitlines()) == 1
