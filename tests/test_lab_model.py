"""The topology model without root: loading, validation with line numbers, the plan.

Each validation rule has a test that checks the message *and* the line it points
at, because "which line is wrong" is the point of the error.
"""

from __future__ import annotations

import ipaddress
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netlab.errors import ExitStatus, InputError
from netlab.lab import plan
from netlab.lab.services.dns import DnsTree
from netlab.lab.services.hosts import hosts_text, resolv_text
from netlab.lab.topology import SourceMap, load_topology, parse_topology

LABS = Path(__file__).resolve().parent.parent / "labs"

BASE = """\
name = "t"
[nodes.a]
[nodes.b]
[[links]]
nodes = ["a", "b"]
subnet = "198.18.0.0/24"
"""


def error_of(text: str) -> str:
    with pytest.raises(InputError) as info:
        parse_topology(textwrap.dedent(text), source="x.toml")
    assert info.value.status == ExitStatus.ERROR
    assert "\n" not in info.value.message
    return info.value.message


# ---------------------------------------------------------------------------
# The bundled labs load and follow the address plan


@pytest.mark.parametrize("name", ["lan", "routed", "dns", "lossy"])
def test_bundled_labs_load(name):
    topo = load_topology(LABS / f"{name}.toml")
    assert topo.name == name and topo.description
    lab_ranges = [ipaddress.ip_network("198.18.0.0/15"), ipaddress.ip_network("2001:db8::/32")]
    for net in topo.subnets():
        assert any(net.version == r.version and net.subnet_of(r) for r in lab_ranges)
    assert (LABS / f"{name}.sh").exists()


def test_auto_addresses_and_interfaces():
    topo = parse_topology(BASE)
    assert [str(a) for a in topo.addresses_of("a")] == ["198.18.0.1/24"]
    assert [str(a) for a in topo.addresses_of("b")] == ["198.18.0.2/24"]
    assert [name for name, _ in topo.interfaces("a")] == ["eth0"]
    assert topo.links[0].name == "a-b" and topo.links[0].kind == "p2p"


def test_explicit_addresses_without_prefix_take_the_subnet_length():
    topo = parse_topology(BASE + 'addresses = { b = "198.18.0.9" }\n')
    assert str(topo.addresses_of("b")[0]) == "198.18.0.9/24"
    assert str(topo.addresses_of("a")[0]) == "198.18.0.1/24"  # auto skips taken ones


# ---------------------------------------------------------------------------
# One test per rule: message and line


def test_toml_syntax_error_has_line():
    assert error_of('name = "t"\n[nodes.a\n').startswith("x.toml:2: invalid TOML")


def test_unknown_node_in_link():
    message = error_of("""\
        name = "t"
        [nodes.a]

        [[links]]
        name = "c-r1"
        nodes = ["a", "r9"]
        """)
    assert message == "x.toml:6: link 'c-r1': node 'r9' is not defined"


def test_unknown_node_in_second_link_points_at_that_link():
    message = error_of(BASE + '[[links]]\nname = "two"\nnodes = ["a", "zz"]\n')
    assert message == "x.toml:9: link 'two': node 'zz' is not defined"


def test_overlapping_subnets():
    message = error_of(
        BASE
        + """\
        [nodes.c]
        [[links]]
        name = "second"
        nodes = ["b", "c"]
        subnet = "198.18.0.128/25"
        """.replace("        ", "")
    )
    assert message.startswith("x.toml:11: link 'second': subnet 198.18.0.128/25 overlaps")


def test_address_outside_subnet():
    message = error_of(BASE + 'addresses = { a = "198.18.1.5" }\n')
    assert message == "x.toml:7: link 'a-b': address 198.18.1.5 is outside its subnet 198.18.0.0/24"


def test_address_with_wrong_prefix_length():
    message = error_of(BASE + 'addresses = { a = "198.18.0.5/16" }\n')
    assert "outside its subnet" in message and message.startswith("x.toml:7:")


def test_network_address_is_refused():
    message = error_of(BASE + 'addresses = { a = "198.18.0.0" }\n')
    assert message.startswith("x.toml:7:") and "network or broadcast" in message


def test_duplicate_address():
    message = error_of(BASE + 'addresses = { a = "198.18.0.7", b = "198.18.0.7" }\n')
    assert message.startswith("x.toml:7:") and "already used by 'a'" in message


def test_address_outside_lab_ranges():
    message = error_of(BASE.replace("198.18.0.0/24", "10.0.0.0/24"))
    assert message.startswith("x.toml:6: link 'a-b': subnet 10.0.0.0/24 is outside the lab ranges")


def test_allow_addresses_opens_a_range():
    topo = parse_topology(
        'allow_addresses = ["10.0.0.0/8"]\n' + BASE.replace("198.18.0.0/24", "10.0.0.0/24")
    )
    assert str(topo.subnets()[0]) == "10.0.0.0/24"


def test_missing_gateway():
    message = error_of("""\
        name = "t"
        [nodes.a]
        [nodes.r]
        kind = "router"
        [nodes.b]
        gateway = "198.18.1.1"

        [[links]]
        nodes = ["r", "a"]
        subnet = "198.18.0.0/24"
        [[links]]
        nodes = ["r", "b"]
        subnet = "198.18.1.0/24"
        """)
    assert message == (
        "x.toml:2: node 'a': missing gateway: 198.18.1.0/24 is not on its links "
        "and it has no default gateway"
    )


def test_router_without_route():
    message = error_of("""\
        name = "t"
        [nodes.a]
        gateway = "198.18.0.1"
        [nodes.r1]
        kind = "router"
        [nodes.r2]
        kind = "router"
        [nodes.b]
        gateway = "198.18.2.1"
        [[links]]
        nodes = ["r1", "a"]
        subnet = "198.18.0.0/24"
        [[links]]
        nodes = ["r1", "r2"]
        subnet = "198.18.1.0/24"
        [[links]]
        nodes = ["r2", "b"]
        subnet = "198.18.2.0/24"
        """)
    assert message.startswith("x.toml:4: node 'r1': no route to 198.18.2.0/24")


def test_gateway_not_on_a_subnet():
    message = error_of(BASE.replace("[nodes.a]\n", '[nodes.a]\ngateway = "198.18.5.1"\n'))
    assert message == "x.toml:3: node 'a': next hop 198.18.5.1 is not on any of its subnets"


def test_gateway_not_a_neighbour():
    message = error_of(BASE.replace("[nodes.a]\n", '[nodes.a]\ngateway = "198.18.0.99"\n'))
    assert message.startswith("x.toml:3: node 'a': next hop 198.18.0.99 is not the address")


def test_route_via_points_at_its_line():
    text = BASE.replace(
        "[nodes.a]\n", '[nodes.a]\nroutes = [{ to = "198.18.9.0/24", via = "198.18.7.1" }]\n'
    )
    assert error_of(text).startswith("x.toml:3: node 'a': next hop 198.18.7.1")


def test_unknown_key_is_a_typo():
    message = error_of(BASE + "mtuu = 1400\n")
    assert message.startswith("x.toml:7: link 'a-b': unknown key 'mtuu'")


def test_mtu_range():
    assert error_of(BASE + "mtu = 20\n").startswith("x.toml:7: link 'a-b': mtu 20 is outside")


def test_impairment_from_must_be_on_link():
    message = error_of(BASE + 'impair = [{ from = "zz", loss_pct = 5 }]\n')
    assert message.startswith("x.toml:7: link 'a-b': impair: 'from' must name a node")


def test_impairment_ranges():
    message = error_of(BASE + 'impair = [{ from = "a", loss_pct = 150 }]\n')
    assert "loss_pct 150 is outside 0–100" in message and message.startswith("x.toml:7:")


def test_impairment_table_line():
    message = error_of(BASE + '\n[[links.impair]]\nfrom = "a"\nloss_pct = -1\n')
    assert message.startswith("x.toml:10: ")


def test_unknown_service_type():
    message = error_of(BASE.replace("[nodes.b]\n", '[nodes.b]\nservices = [{ type = "ftpx" }]\n'))
    assert message.startswith("x.toml:4: node 'b': service 'ftpx': unknown service type")


def test_service_in_array_of_tables_points_at_its_table():
    text = (
        BASE
        + '\n[[nodes.b.services]]\ntype = "tcp"\n\n[[nodes.b.services]]\ntype = "tcp"\nport = 0\n'
    )
    assert error_of(text).startswith("x.toml:11: node 'b': service 'tcp': ports must be within")


def test_dns_resolver_needs_a_root():
    text = BASE.replace(
        "[nodes.b]\n", '[nodes.b]\nservices = [{ type = "dns", role = "resolver" }]\n'
    )
    assert "a resolver needs a root server" in error_of(text)


def test_zone_needs_a_server():
    assert error_of(BASE + '[zones."x.lab"]\nrecords = ["www A 198.18.0.9"]\n').startswith(
        "x.toml:7: zone 'x.lab' is not served"
    )


def test_bad_record():
    text = BASE.replace(
        "[nodes.b]\n", '[nodes.b]\nservices = [{ type = "dns", role = "auth", zone = "x.lab" }]\n'
    )
    message = error_of(text + '[zones."x.lab"]\nrecords = ["www 198.18.0.9"]\n')
    assert message.startswith("x.toml:9: record 'www 198.18.0.9' must read")


def test_load_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read topology file"):
        load_topology(tmp_path / "nope.toml")


# ---------------------------------------------------------------------------
# The source map


def test_source_map_tables_keys_and_arrays():
    text = textwrap.dedent("""\
        name = "x"          # 1
        [nodes.a]           # 2
        kind = "router"     # 3
        routes = [          # 4
          { to = "198.18.0.0/24", via = "198.18.1.1" },
        ]
        [[links]]           # 7
        nodes = ["a"]       # 8
        [[links]]           # 9
        s = '''
        [not.a.table]
        '''
        mtu = 1             # 13
        [zones."ex.lab"]    # 14
        """)
    where = SourceMap(text)
    assert where.line(("name",)) == 1
    assert where.line(("nodes", "a", "kind")) == 3
    assert where.line(("nodes", "a", "routes", 0)) == 4
    assert where.line(("links", 0, "nodes")) == 8
    assert where.line(("links", 1)) == 9
    assert where.line(("links", 1, "mtu")) == 13
    assert where.line(("zones", "ex.lab")) == 14
    assert where.line(("nowhere",)) == 1


@given(st.lists(st.sampled_from(["[[links]]", "[nodes.n]", "k = 1", "", "# c"]), max_size=30))
def test_source_map_never_fails_and_counts_arrays(lines):
    where = SourceMap("\n".join(lines))
    headers = [i for i, line in enumerate(lines, 1) if line == "[[links]]"]
    for index, number in enumerate(headers):
        assert where.line(("links", index)) == number


# ---------------------------------------------------------------------------
# The plan: names and commands


def test_plan_names_fit_ifnamsiz_and_live_in_namespaces():
    topo = load_topology(LABS / "routed.toml")
    p = plan.build_plan(topo, "routed")
    assert "nl-routed-client" in p.namespaces and "nl-routed_sw" in p.namespaces
    for line in p.root_batch:
        words = line.split()
        if words[:2] == ["link", "add"]:
            # Both ends are created directly inside a namespace, never in the root one.
            assert words.count("netns") == 2
            assert len(words[2]) <= 15 and len(words[words.index("name") + 1]) <= 15
    assert "net.ipv4.ip_forward" in p.sysctls["nl-routed-r1"]
    assert "net.ipv4.ip_forward" not in p.sysctls["nl-routed-client"]
    assert "route add default via 198.18.1.1" in p.ns_batches["nl-routed-client"]
    assert "link set eth1 mtu 1400" in p.ns_batches["nl-routed-r2"]


def test_netem_arguments():
    topo = load_topology(LABS / "lossy.toml")
    p = plan.build_plan(topo, "lossy")
    first = p.impairments[0]
    # netem goes on the sender's interface; the no-netem loss rule on the switch port
    # the sender's packets enter (the wan link is a two-host LAN for that reason).
    assert (first.netns, first.dev, first.peer_netns) == (
        "nl-lossy-client",
        "eth0",
        "nl-lossy_sw",
    )
    assert plan.netem_args(first.imp) == ["delay", "20ms", "2ms", "loss", "20%", "reorder", "5%"]
    assert "numgen random mod 10000 < 2000 drop" in plan.nft_loss_ruleset("eth0", 20)


def test_hosts_and_resolv():
    topo = load_topology(LABS / "dns.toml")
    hosts = hosts_text(topo)
    assert "198.18.0.80\twww" in hosts and "127.0.0.1\tlocalhost" in hosts
    assert "nameserver 198.18.0.53" in resolv_text(topo)
    assert "nameserver 127.0.0.1" in resolv_text(load_topology(LABS / "lan.toml"))


def test_dns_tree_delegations_and_glue():
    tree = DnsTree(load_topology(LABS / "dns.toml"))
    root = tree.zone_text(".")
    assert "lab. IN NS ns1.lab." in root and "ns1.lab. 3600 IN A 198.18.0.2" in root
    tld = tree.zone_text("lab")
    assert "example.lab. IN NS ns1.example.lab." in tld
    assert "ns1.example.lab. 3600 IN A 198.18.0.3" in tld
    auth = tree.zone_text("example.lab")
    assert "www A 198.18.0.80" in auth and "@ IN NS ns1.example.lab." in auth
    big = next(r for r in auth.splitlines() if r.startswith("big TXT"))
    assert len(big) > 600 and all(len(c) <= 255 for c in big.split('"')[1::2])
    assert ". 3600000 IN NS a.root-servers.lab." in tree.hints_text()


def test_dns_tree_glueless_delegation():
    # `ns` names a server outside the zone it serves: the parent refers without glue,
    # and the zone that owns the name holds its address.
    tree = DnsTree(load_topology(Path(__file__).parent / "labs" / "dnsglueless.toml"))
    tld = tree.zone_text("lab")
    assert "other.lab. IN NS ns.example.lab." in tld and "ns.example.lab." not in tld.replace(
        "other.lab. IN NS ns.example.lab.", ""
    )
    assert "ns1.example.lab. 3600 IN A 198.18.0.3" in tld  # in-bailiwick glue stays
    assert "ns.example.lab. 3600 IN A 198.18.0.4" in tree.zone_text("example.lab")
    other = tree.zone_text("other.lab")
    assert "@ IN NS ns.example.lab." in other and " IN A 198.18.0.4" not in other
    bad = BASE.replace(
        "[nodes.b]\n",
        '[nodes.b]\nservices = [{ type = "dns", role = "root", ns = "ns.x.lab" }]\n',
    )
    assert "ns (the server's name) is for roles" in error_of(bad)
    bad = bad.replace('role = "root"', 'role = "auth", zone = "x.lab"').replace("ns.x.lab", "ns")
    assert "ns must be a server name with a dot" in error_of(bad)
