"""The `quic` service beyond what `labs/quic.sh` asserts: its options are checked at load
time, the bundled lab follows the address plan, `retry = true` makes gtlsserver answer
with a Retry first, and the readiness probe reads a real Version Negotiation."""

from __future__ import annotations

import ipaddress
import json
import textwrap

import pytest

from netlab.errors import InputError
from netlab.lab.services.quic import PROBE_VERSION, version_negotiation
from netlab.lab.topology import load_topology, parse_topology
from tests.conftest import ROOT, netlab_bin

LAB = """\
name = "q"
[nodes.client]
[nodes.server]
services = [{ type = "quic", port = 4433, retry = true }]
[[links]]
nodes = ["client", "server"]
subnet = "198.18.91.0/24"
subnet6 = "2001:db8:91::/64"
"""


def test_bundled_lab_follows_the_address_plan():
    topo = load_topology(ROOT / "labs" / "quic.toml")
    ranges = [ipaddress.ip_network("198.18.0.0/15"), ipaddress.ip_network("2001:db8::/32")]
    nets = list(topo.subnets())
    assert len(nets) == 2
    assert all(any(n.version == r.version and n.subnet_of(r) for r in ranges) for n in nets)
    (spec,) = topo.nodes["server"].services
    assert spec.type == "quic"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ('port = "443"', "port must be an integer within 1–65535, not '443'"),
        ("port = 70000", "port must be an integer within 1–65535, not 70000"),
        ('retry = "yes"', "retry must be true or false, not 'yes'"),
        ("alpn = 'h3'", "unknown option 'alpn' (known: port, retry)"),
    ],
)
def test_bad_options_are_one_line(option, message):
    text = LAB.replace("port = 4433, retry = true", option)
    with pytest.raises(InputError) as info:
        parse_topology(textwrap.dedent(text), source="x.toml")
    assert message in info.value.message and "\n" not in info.value.message


def test_retry_server_and_the_readiness_probe(lab, tmp_path):
    path = tmp_path / "q.toml"
    path.write_text(LAB)
    handle = lab(str(path))
    (service,) = [s for s in handle.status()["services"] if s.get("program") == "gtlsserver"]
    assert service["retry"] is True and service["port"] == 4433
    # the probe from the client node, over the link (IPv6): the server lists version 1
    server6 = handle.addr("server", 6)
    versions = version_negotiation(handle.netns("client"), server6, 4433)
    assert versions and 0x00000001 in versions and PROBE_VERSION not in versions
    assert version_negotiation(handle.netns("client"), server6, 4434, timeout=0.2) is None
    run = handle.exec("client", netlab_bin(), "quic-hello", f"{handle.addr('server', 4)}:4433",
                      "--sni", "server", "--json")  # fmt: skip
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["retry"], doc  # a Retry first, then our Initial again with its token
    assert doc["alpn"] == "h3"
