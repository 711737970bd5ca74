"""A libtorrent client for the `p2p` lab's tests: the peer netlab's DHT code is compared with.

Run by Debian's /usr/bin/python3 (python3-libtorrent), inside a lab node, never by
pytest's interpreter; prints one JSON document:

    lt_client.py get-peers --bind IP:PORT --bootstrap IP:PORT --info-hash HEX [--timeout S]
        {"peers": ["ip:port", …], "found_s": 1.2, "routing_table": 20, "node_id": hex,
         "lookups": N}
    lt_client.py sample --bind IP:PORT --bootstrap IP:PORT --node IP:PORT --target HEX
        {"samples": [hex, …], "num_infohashes": N, "interval": S, "nodes": N}

Safe for any machine: the session binds the one address given, has no default
bootstrap node (``dht_bootstrap_nodes`` is the lab node given), no LSD, UPnP,
NAT-PMP, trackers or torrents. Every wait is bounded by --timeout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def endpoint(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def session(lt, bind: str, bootstrap: str):
    ip, port = endpoint(bind)
    mask = (
        lt.alert.category_t.dht_notification
        | lt.alert.category_t.dht_operation_notification
        | lt.alert.category_t.error_notification
    )
    ses = lt.session(
        {
            "listen_interfaces": f"{ip}:{port}",
            "outgoing_interfaces": ip,
            "enable_dht": True,
            "dht_bootstrap_nodes": bootstrap,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "enable_ip_notifier": False,
            "dht_restrict_routing_ips": False,
            "dht_restrict_search_ips": False,
            "dht_enforce_node_id": False,
            "dht_prefer_verified_node_ids": False,
            "dht_ignore_dark_internet": False,
            "dht_block_ratelimit": 100000,
            "alert_mask": int(mask),
        }
    )
    ses.add_dht_node(endpoint(bootstrap))
    return ses


def table_size(lt, ses, deadline: float) -> int:
    ses.post_dht_stats()
    while time.monotonic() < deadline:
        for alert in ses.pop_alerts():
            if isinstance(alert, lt.dht_stats_alert):
                return sum(b["num_nodes"] for b in alert.routing_table)
        time.sleep(0.05)
    return 0


def messages_out(lt, ses, deadline: float) -> int | None:
    """libtorrent's counter of DHT messages sent (session stats), or None."""
    ses.post_session_stats()
    while time.monotonic() < deadline:
        for alert in ses.pop_alerts():
            if isinstance(alert, lt.session_stats_alert):
                return alert.values.get("dht.dht_messages_out")  # the binding: name → value
        time.sleep(0.02)
    return None


def get_peers(lt, args) -> dict:
    t0 = time.monotonic()
    deadline = t0 + args.timeout
    ses = session(lt, args.bind, args.bootstrap)
    target = lt.sha1_hash(bytes.fromhex(args.info_hash))
    # Let the bootstrap lookup fill the table a little: a lookup from an empty table
    # would ask the bootstrap node alone.
    while time.monotonic() < deadline and table_size(lt, ses, deadline) < 8:
        time.sleep(0.2)
    peers: set[str] = set()
    lookups = 0
    found = None
    sent_before = messages_out(lt, ses, deadline)
    t_lookup = time.monotonic()
    while time.monotonic() < deadline and not peers:
        ses.dht_get_peers(target)
        lookups += 1
        wait = min(deadline, time.monotonic() + 3.0)
        while time.monotonic() < wait and not peers:
            for alert in ses.pop_alerts():
                if (
                    isinstance(alert, lt.dht_get_peers_reply_alert)
                    and str(alert.info_hash) == args.info_hash
                ):
                    peers.update(f"{ip}:{port}" for ip, port in alert.peers())
            time.sleep(0.05)
        if peers:
            found = round(time.monotonic() - t0, 3)
            lookup_s = round(time.monotonic() - t_lookup, 3)
    state = ses.save_state(lt.save_state_flags_t.save_dht_state).get(b"dht state", {})
    ids = [e[:20].hex() for e in state.get(b"node-id", [])]
    return {
        "peers": sorted(peers),
        "found_s": found,
        "lookups": lookups,
        "lookup_s": lookup_s if peers else None,
        # DHT messages sent from the lookup's start until the peer was found (libtorrent's
        # own counter; its routing-table upkeep in that time is counted too).
        "queries": messages_out(lt, ses, time.monotonic() + 1.0) - sent_before
        if sent_before is not None
        else None,
        "routing_table": table_size(lt, ses, time.monotonic() + 1.0),
        "node_id": ids[0] if ids else None,
    }


def sample(lt, args) -> dict:
    deadline = time.monotonic() + args.timeout
    ses = session(lt, args.bind, args.bootstrap)
    target = lt.sha1_hash(bytes.fromhex(args.target))
    # The DHT runs once the bootstrap node answered: a query sent before would be lost.
    while time.monotonic() < deadline and table_size(lt, ses, deadline) < 1:
        time.sleep(0.05)
    asked = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() - asked > 2.0:  # UDP: ask again if the answer was lost
            ses.dht_sample_infohashes(endpoint(args.node), target)
            asked = time.monotonic()
        for alert in ses.pop_alerts():
            if isinstance(alert, lt.dht_sample_infohashes_alert):
                return {
                    "endpoint": f"{alert.endpoint[0]}:{alert.endpoint[1]}",
                    "samples": [str(s) for s in alert.samples],
                    "num_infohashes": alert.num_infohashes,
                    "interval": alert.interval.total_seconds()
                    if hasattr(alert.interval, "total_seconds")
                    else alert.interval,
                    "nodes": alert.num_nodes,
                }
        time.sleep(0.05)
    return {"samples": None}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=("get-peers", "sample"))
    parser.add_argument("--bind", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--info-hash")
    parser.add_argument("--node")
    parser.add_argument("--target", default="00" * 20)
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args(argv)
    import libtorrent as lt

    result = get_peers(lt, args) if args.command == "get-peers" else sample(lt, args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
