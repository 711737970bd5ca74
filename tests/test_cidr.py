"""`netlab cidr` against Python's ipaddress (independent oracle) and the course's example."""

from __future__ import annotations

import ipaddress
import json
import os
import pty
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netlab.core.cidr import parse_prefix
from netlab.errors import InputError
from tests.conftest import netlab_bin


def netlab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [netlab_bin(), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, **(env or {})),
    )


# --- the course's example -------------------------------------------------------------


def test_course_example_human_output():
    proc = netlab("cidr", "10.100.122.2/24")
    assert proc.returncode == 0, proc.stderr
    fields = {}
    for line in proc.stdout.splitlines()[1:]:
        label, _, value = line.strip().partition("  ")
        fields[label] = value.strip()
    assert fields["Network"] == "10.100.122.0/24"
    assert fields["Broadcast"] == "10.100.122.255"
    assert fields["Hosts"].startswith("254 ")
    assert fields["Netmask"].startswith("255.255.255.0")
    assert fields["Wildcard"] == "0.0.0.255"
    assert fields["First host"] == "10.100.122.1"
    assert fields["Last host"] == "10.100.122.254"
    assert "host 2 of 254" in fields["Address"]
    assert fields["Scope"].startswith("private: Private-Use, RFC 1918")
    assert fields["Class"].startswith("A ")


def test_course_example_json():
    proc = netlab("cidr", "--json", "10.100.122.2/24")
    doc = json.loads(proc.stdout)
    assert doc["network"] == "10.100.122.0/24"
    assert doc["broadcast"] == "10.100.122.255"
    assert doc["num_hosts"] == 254
    assert doc["host_number"] == 2
    assert doc["scope"] == "private" and doc["class"] == "A"


def test_several_arguments_give_a_json_array_in_order():
    args = ["10.0.0.1/8", "2001:db8::1/64", "192.168.1.1"]
    docs = json.loads(netlab("cidr", "--json", *args).stdout)
    assert [d["input"] for d in docs] == args
    assert [d["version"] for d in docs] == [4, 6, 4]


def test_ipv6_prefix():
    doc = json.loads(netlab("cidr", "--json", "2001:db8:a::1/48").stdout)
    assert doc["network"] == "2001:db8:a::/48"
    assert doc["broadcast"] is None
    assert doc["num_addresses"] == 2**80
    assert doc["scope"] == "documentation"


# --- arithmetic against ipaddress ----------------------------------------------------------


def check_against_ipaddress(version: int, address: int, prefixlen: int) -> None:
    addr = ipaddress.ip_address(address) if version == 4 else ipaddress.IPv6Address(address)
    text = f"{addr}/{prefixlen}"
    ours = parse_prefix(text)
    iface = ipaddress.ip_interface(text)
    net = iface.network
    assert ours.version == version
    assert ours.cidr == str(net)
    assert ours.fmt(ours.netmask) == str(net.netmask)
    assert ours.fmt(ours.wildcard) == str(net.hostmask)
    assert ours.num_addresses == net.num_addresses
    assert ours.fmt(ours.last_address) == str(net.broadcast_address)
    if version == 4 and prefixlen <= 30:
        assert ours.fmt(ours.broadcast) == str(net.broadcast_address)
    hosts = net.hosts()
    assert ours.fmt(ours.first_host) == str(next(iter(hosts)))
    if net.num_addresses <= 4096:  # small enough to enumerate: count and last host exactly
        all_hosts = list(net.hosts())
        assert ours.num_hosts == len(all_hosts)
        assert ours.fmt(ours.last_host) == str(all_hosts[-1])
    assert (ours.scope.scope == "loopback") == addr.is_loopback
    assert (ours.scope.scope == "link-local") == addr.is_link_local
    assert (ours.scope.scope == "multicast") == addr.is_multicast
    if version == 6:
        assert (ours.scope.scope == "unspecified") == addr.is_unspecified


# Bias towards the interesting edges: short and long prefixes and the special blocks.
v4_prefix = st.one_of(st.integers(0, 32), st.sampled_from([0, 1, 8, 16, 24, 30, 31, 32]))
v6_prefix = st.one_of(st.integers(0, 128), st.sampled_from([0, 1, 48, 64, 120, 126, 127, 128]))


@settings(max_examples=1000, deadline=None)
@given(address=st.integers(0, 2**32 - 1), prefixlen=v4_prefix)
def test_ipv4_agrees_with_ipaddress(address, prefixlen):
    check_against_ipaddress(4, address, prefixlen)


@settings(max_examples=1000, deadline=None)
@given(address=st.integers(0, 2**128 - 1), prefixlen=v6_prefix)
def test_ipv6_agrees_with_ipaddress(address, prefixlen):
    check_against_ipaddress(6, address, prefixlen)


@settings(max_examples=300, deadline=None)
@given(address=st.integers(0, 2**32 - 1), prefixlen=st.integers(0, 32))
def test_netmask_and_wildcard_notation_mean_what_ipaddress_says(address, prefixlen):
    addr = ipaddress.IPv4Address(address)
    net = ipaddress.ip_network(f"0.0.0.0/{prefixlen}")
    for mask in (net.netmask, net.hostmask):
        text = f"{addr}/{mask}"
        assert parse_prefix(text).cidr == str(ipaddress.ip_interface(text).network)


# --- scope and class --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scope"),
    [
        ("10.1.2.3/8", "private"),
        ("172.31.255.254/12", "private"),
        ("172.32.0.1/16", "public"),
        ("192.168.7.7/24", "private"),
        ("100.64.0.1/10", "shared"),
        ("100.128.0.1/10", "public"),
        ("127.0.0.1/8", "loopback"),
        ("169.254.1.1/16", "link-local"),
        ("192.0.2.10/24", "documentation"),
        ("198.51.100.10/24", "documentation"),
        ("203.0.113.10/24", "documentation"),
        ("198.18.0.1/15", "benchmarking"),
        ("198.19.255.1/24", "benchmarking"),
        ("8.8.8.8/24", "public"),
        ("224.0.0.251", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("240.0.0.1/4", "reserved"),
        ("fe80::1/64", "link-local"),
        ("fd00::1/8", "private"),
        ("2001:db8::1/32", "documentation"),
        ("2001:2::1/48", "benchmarking"),
        ("2606:4700::1111/32", "public"),
        ("::1", "loopback"),
        ("ff02::1", "multicast"),
    ],
)
def test_scope(text, scope):
    assert parse_prefix(text).scope.scope == scope


def test_network_wider_than_its_block_is_flagged():
    wide = parse_prefix("10.0.0.1/7")  # 10.0.0.0/7 spans 10/8 (private) and 11/8 (public)
    assert wide.scope.scope == "private"
    assert not wide.scope_covers_network
    assert parse_prefix("10.0.0.1/8").scope_covers_network


@pytest.mark.parametrize(
    ("text", "klass", "default"),
    [
        ("1.0.0.0", "A", 8),
        ("127.255.255.255", "A", 8),
        ("128.0.0.0", "B", 16),
        ("191.255.0.1", "B", 16),
        ("192.0.0.1", "C", 24),
        ("223.255.255.255", "C", 24),
        ("224.0.0.1", "D", None),
        ("240.0.0.1", "E", None),
    ],
)
def test_classful_class(text, klass, default):
    assert parse_prefix(text).ip_class == (klass, default)


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("10.0.0.0/24", "network address"),
        ("10.0.0.255/24", "broadcast address"),
        ("10.0.0.7/24", "host"),
        ("10.0.0.1/31", "host (point-to-point, RFC 3021)"),
        ("10.0.0.1/32", "single address"),
        ("2001:db8::/64", "Subnet-Router anycast address"),
    ],
)
def test_role_of_the_address(text, role):
    assert parse_prefix(text).role == role


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("300.1.1.1/24", "octet 300"),
        ("foo", "not an IPv4 or IPv6"),
        ("10.0.0.0/33", "/33 is too long for IPv4"),
        ("2001:db8::/129", "/129 is too long for IPv6"),
        ("10.0.0.1/255.0.255.0", "not contiguous"),
        ("1.2.3", "four dot-separated octets"),
        ("10.0.0.1/", "no prefix length"),
        ("/8", "no address"),
        ("10.0.0.1/24/8", "more than one '/'"),
        ("10.0.0.1/x", "not a prefix length"),
        ("fe80::1%eth0/64", "zone"),
    ],
)
def test_bad_prefixes_explain_themselves(text, needle):
    with pytest.raises(InputError) as err:
        parse_prefix(text)
    assert needle in err.value.message
    assert "\n" not in err.value.message


# --- output modes ---------------------------------------------------------------------


def run_on_tty(args: list[str], env: dict[str, str]) -> str:
    """Run netlab with stdout on a pseudo-terminal and return what it wrote."""
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [netlab_bin(), *args], stdout=child, stderr=child, env=dict(os.environ, **env)
    )
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=30)
    os.close(main)
    return b"".join(chunks).decode()


def test_piped_output_is_plain_text():
    proc = netlab("cidr", "10.100.122.2/24")
    assert "\x1b[" not in proc.stdout
    assert all(line == line.rstrip() for line in proc.stdout.splitlines())


def test_terminal_output_has_colour_and_no_color_removes_it():
    env = {"TERM": "xterm-256color", "COLUMNS": "120"}
    env_clean = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    os.environ.pop("NO_COLOR", None)
    coloured = run_on_tty(["cidr", "10.100.122.2/24"], {**env_clean, **env})
    assert "\x1b[36m" in coloured  # cyan values
    for variant in (["cidr", "--no-color", "10.100.122.2/24"], ["cidr", "10.100.122.2/24"]):
        extra = {} if "--no-color" in variant else {"NO_COLOR": "1"}
        plain = run_on_tty(variant, {**env_clean, **env, **extra})
        assert "10.100.122.255" in plain
        assert "\x1b[36m" not in plain and "\x1b[32m" not in plain
