"""`netlab dissect -o PREF:VALUE` against `tshark -o` on the same files (issue 20):
absolute TCP numbers (tcp.relative_sequence_numbers:FALSE) in the one-line view,
-T fields, -Y and the -V tree; tls.keylog_file as --keylog; the preferences netlab
always has accepted with that value only; anything else refused in tshark's words
(one line, exit 2)."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import ROOT, netlab_bin, require_tool

ABSOLUTE = ("-o", "tcp.relative_sequence_numbers:FALSE")
TCP_SAMPLES = ("tcp-udp.pcap", "http.pcapng", "ftp.pcapng", "bittorrent.pcapng", "tls.pcapng")
SEQ_FIELDS = ("tcp.seq", "tcp.ack", "tcp.nxtseq", "tcp.seq_raw", "tcp.ack_raw", "tcp.len")


def _netlab(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([netlab_bin(), "dissect", *args], capture_output=True, text=True,
                          check=check, timeout=60)  # fmt: skip


def _tshark(*args: str) -> str:
    return subprocess.run([require_tool("tshark"), "-n", *args], capture_output=True,
                          text=True, check=True, timeout=60).stdout  # fmt: skip


def _columns(text: str) -> list[str]:
    return [" ".join(line.split()[2:]) for line in text.splitlines()]  # no number, time


@pytest.mark.parametrize("name", TCP_SAMPLES)
def test_absolute_numbers_in_lines_and_fields_as_tshark(name):
    path = str(ROOT / "pcaps" / name)
    ours = _netlab(*ABSOLUTE, path).stdout
    assert _columns(ours) == _columns(_tshark(*ABSOLUTE, "-r", path))
    assert ours != _netlab(path).stdout  # (the preference changed something)
    fields = ["-T", "fields", *[a for f in SEQ_FIELDS for a in ("-e", f)]]
    assert _netlab(*ABSOLUTE, *fields, path).stdout == _tshark(*ABSOLUTE, "-r", path, *fields)


def test_absolute_numbers_in_filters_and_the_tree():
    path = str(ROOT / "pcaps" / "tcp-udp.pcap")
    seq = _tshark(*ABSOLUTE, "-r", path, "-c", "1", "-T", "fields", "-e", "tcp.seq").strip()
    flt = ["-Y", f"tcp.seq == {seq} || tcp.ack == {int(seq) + 1}"]
    assert _columns(_netlab(*ABSOLUTE, *flt, path).stdout) == _columns(
        _tshark(*ABSOLUTE, "-r", path, *flt)
    )
    assert _netlab(*flt, path).stdout == ""  # relative numbers: no such segment

    def numbers(text: str) -> list[str]:
        keep = ("Transmission Control Protocol", "    Sequence Number: ",
                "    Acknowledgment Number: ", "    [Next Sequence Number: ")  # fmt: skip
        return [line for line in text.splitlines() if line.startswith(keep)]

    ours = numbers(_netlab(*ABSOLUTE, "-V", path).stdout)
    assert ours and ours == numbers(_tshark(*ABSOLUTE, "-r", path, "-V"))
    assert not any("relative" in line for line in ours)


def test_keylog_preference_is_keylog(tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text("")
    path = str(ROOT / "pcaps" / "tls.pcapng")
    pref = _netlab("-o", f"tls.keylog_file:{keys}", "-V", path).stdout
    assert pref == _netlab("--keylog", str(keys), "-V", path).stdout
    both = _netlab("-o", f"tls.keylog_file:{keys}", "--keylog", "/nonexistent", path,
                   check=False)  # fmt: skip
    assert both.returncode == 2 and len(both.stderr.splitlines()) == 1
    missing = _netlab("-o", "tls.keylog_file:/nonexistent/keys", path, check=False)
    assert missing.returncode == 2 and "cannot read the key log" in missing.stderr


@pytest.mark.parametrize("pref", ["tcp.analyze_sequence_numbers:TRUE",
                                  "tcp.desegment_tcp_streams:TRUE", "tcp.check_checksum:FALSE",
                                  "udp.check_checksum:FALSE",
                                  "tcp.relative_sequence_numbers:TRUE"])  # fmt: skip
def test_netlabs_own_ways_are_accepted_and_change_nothing(pref):
    path = str(ROOT / "pcaps" / "tcp-udp.pcap")
    assert _netlab("-o", pref, path).stdout == _netlab(path).stdout
    assert _columns(_netlab("-o", pref, path).stdout) == _columns(_tshark("-o", pref, "-r", path))


@pytest.mark.parametrize("pref,message", [
    ("foo.bar:1", 'specifies unknown preference'),
    ("nocolon", 'Invalid -o flag "nocolon"'),
    ("tcp.relative_sequence_numbers:maybe", "expected TRUE or FALSE"),
    ("tcp.analyze_sequence_numbers:FALSE", "netlab always has"),
    ("tcp.check_checksum:TRUE", "netlab always has"),
])  # fmt: skip
def test_other_preferences_are_one_line_errors(pref, message):
    path = str(ROOT / "pcaps" / "tcp-udp.pcap")
    bad = _netlab("-o", pref, path, check=False)
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.splitlines()) == 1 and message in bad.stderr
    if message == "specifies unknown preference":  # tshark's words for it
        err = subprocess.run([require_tool("tshark"), "-o", pref, "-r", path],
                             capture_output=True, text=True).stderr  # fmt: skip
        assert f'-o flag "{pref}" specifies unknown preference' in err
