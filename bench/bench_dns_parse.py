"""DNS message decoding speed: netlab.wire.dns against scapy on the same bytes.

The messages are real responses captured from BIND 9.18 serving the test zones of
tests/test_wire_dns.py (a typical ~100-byte answer, glue, NXDOMAIN, DNSSEC). For each:
messages per second for
  - netlab   parse_message(buf)                  (structure decoded, text lazy)
  - netlab+  parse_message(buf) and to_text() of every record (what `dig` prints)
  - scapy    scapy.layers.dns.DNS(buf)          (scapy's full dissection)
and the ratio scapy-time / netlab-time. Not a test: machines are noisy.

Run: .venv/bin/python bench/bench_dns_parse.py [--quick]
"""

from __future__ import annotations

import statistics
import sys
import time

from netlab.wire.dns import parse_message

MESSAGES = [
    (
        "A, no EDNS",
        "www.example.lab A",
        (
            "12348400000100010001000103777777076578616d706c65036c61620000010001c00c00010001000001"
            "2c0004c0000201c010000200010000012c0006036e7331c010c03d000100010000012c00047f000001"
        ),
    ),
    (
        "A + EDNS",
        "www.example.lab A",
        (
            "12348400000100010001000203777777076578616d706c65036c61620000010001c00c00010001000001"
            "2c0004c0000201c010000200010000012c0006036e7331c010c03d000100010000012c00047f00000100"
            "002904d0000080000000"
        ),
    ),
    (
        "5 x AAAA",
        "v6.example.lab AAAA",
        (
            "123484000001000500010002027636076578616d706c65036c616200001c0001c00c001c00010000012c"
            "001000000000000000000000ffffc0000201c00c001c00010000012c001020010db80000000100000000"
            "00000001c00c001c00010000012c0010fe800000000000000000000000000000c00c001c00010000012c"
            "0010000000000000000000000000c0000201c00c001c00010000012c001020010db80001000000010000"
            "00000001c00f000200010000012c0006036e7331c00fc0b8000100010000012c00047f00000100002904"
            "d0000080000000"
        ),
    ),
    (
        "MX + glue",
        "example.lab MX",
        (
            "123484000001000100010003076578616d706c65036c616200000f0001c00c000f00010000012c000900"
            "0a046d61696cc00cc00c000200010000012c0006036e7331c00cc02b000100010000012c0004c0000219"
            "c03e000100010000012c00047f00000100002904d0000080000000"
        ),
    ),
    (
        "SRV + glue",
        "_sip._udp.example.lab SRV",
        (
            "123484000001000100010003045f736970045f756470076578616d706c65036c61620000210001c00c00"
            "2100010000012c00170000000513c403736970076578616d706c65036c616200c03d000200010000012c"
            "0006036e7331c03dc039000100010000012c0004c0000232c056000100010000012c00047f0000010000"
            "2904d0000080000000"
        ),
    ),
    (
        "NXDOMAIN + SOA",
        "nope.example.lab A",
        (
            "123484030001000000010001046e6f7065076578616d706c65036c61620000010001c011000600010000"
            "012c0027036e7331c0110a686f73746d6173746572c01178a3f17500000e100000038400093a80000001"
            "2c00002904d0000080000000"
        ),
    ),
    (
        "DNSKEY + RRSIG",
        "signed.example.lab DNSKEY",
        (
            "123484000001000400000001067369676e6564076578616d706c65036c61620000300001c00c00300001"
            "0000012c00440101030d25ac57ce4154b61cd4fff00a4b6eda5980b189d84efc99b9296c1a6f557e4dfd"
            "a76eb4bd529a9a647520db0204632233970f962847f5160a7072a2ca8ef96a73c00c003000010000012c"
            "00440100030d276eb36bd8cd6a5ff82a8a3ec3f730c263ce2b1fbeb369a5894735d08779d25f08fc07b4"
            "ba975dcf8eade619c0420c7bede9b7d3367fe2671530311b781960ecc00c002e00010000012c00660030"
            "0d030000012c7e06e400659200809629067369676e6564076578616d706c65036c61620045885e5e81bd"
            "5680b42a1ce9afda09d17ad45b2ba2ea6645487e95a385988f5442832a6297c3e2591854273a303417b8"
            "0bba507c1ff531a1a4b75b3d45ceb288c00c002e00010000012c006600300d030000012c7e06e4006592"
            "0080b201067369676e6564076578616d706c65036c616200c2efb949b163554b9d9bee6c5bde3607c9a3"
            "ab9116d0467f0be8aeeb680f93da65c3590f22015d86148d579c1f4b65d4434ed68f9a5b1d8fcc59f8e2"
            "9224f60100002904d0000080000000"
        ),
    ),
    (
        "NXDOMAIN + NSEC proof",
        "nope.signed.example.lab A",
        (
            "123484030001000000040001046e6f7065067369676e6564076578616d706c65036c61620000010001c0"
            "11000600010000012c0032036e7331076578616d706c65036c6162000a686f73746d6173746572c03900"
            "00000100000e100000038400093a800000012cc011002e00010000012c006600060d030000012c7e06e4"
            "0065920080b201067369676e6564076578616d706c65036c616200aaf83743172b30639646ba5553b08f"
            "215f006e4a305ff389c3637e0024ab9cb87cb3e7dda07f61501fc3dca0353be994e63885086a3e1518b0"
            "c7320c41c3190fc085002f00010000012c002203747874067369676e6564076578616d706c65036c6162"
            "0000082201000000038018c0e9002e00010000012c0066002f0d030000012c7e06e40065920080b20106"
            "7369676e6564076578616d706c65036c61620024c6de957e1b96c7c93a5521e6ac589e77272c2be78d8c"
            "03dc79b4804ce37efb381225ced7de5f75813553dbf10024a5632507a3273e9e91f3eff97d0194693f00"
            "002904d0000080000000"
        ),
    ),
]


def per_call(func, arg: bytes, budget: float) -> float:
    """Median seconds per call over 5 rounds of about budget/5 seconds each."""
    calls = 1
    while True:  # size one round
        start = time.perf_counter()
        for _ in range(calls):
            func(arg)
        elapsed = time.perf_counter() - start
        if elapsed > budget / 50:
            break
        calls *= 2
    per_round = max(1, int(calls * (budget / 5) / elapsed))
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(per_round):
            func(arg)
        rounds.append((time.perf_counter() - start) / per_round)
    return statistics.median(rounds)


def parse_and_text(buf: bytes) -> list[str]:
    msg = parse_message(buf)
    return [rr.to_text() for _, rr in msg.records()]


def main() -> int:
    budget = 0.2 if "--quick" in sys.argv else 1.0
    from scapy.layers.dns import DNS

    header = (
        f"{'message':24} {'bytes':>5} {'netlab':>13} {'netlab+text':>13} {'scapy':>13} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    totals = [0.0, 0.0, 0.0]
    for label, _question, hex_parts in MESSAGES:
        buf = bytes.fromhex("".join(hex_parts))
        ours = per_call(parse_message, buf, budget)
        ours_text = per_call(parse_and_text, buf, budget)
        scapy = per_call(DNS, buf, budget)
        for i, value in enumerate((ours, ours_text, scapy)):
            totals[i] += value
        print(
            f"{label:24} {len(buf):5} {1 / ours:9,.0f} m/s {1 / ours_text:9,.0f} m/s "
            f"{1 / scapy:9,.0f} m/s {scapy / ours:5.1f}x"
        )
    n = len(MESSAGES)
    print("-" * len(header))
    print(
        f"{'mix (mean time)':24} {'':5} {n / totals[0]:9,.0f} m/s {n / totals[1]:9,.0f} m/s "
        f"{n / totals[2]:9,.0f} m/s {totals[2] / totals[0]:5.1f}x"
    )
    typical = bytes.fromhex("".join(MESSAGES[1][2]))
    print(
        f"\ntypical {len(typical)}-byte response: "
        f"{per_call(parse_message, typical, budget) * 1e6:.1f} us per parse_message "
        f"(target 10-20 us), Python {sys.version.split()[0]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
