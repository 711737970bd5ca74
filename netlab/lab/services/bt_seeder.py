"""A libtorrent peer seeding one torrent: the `seeder` lab service's program.

Run by Debian's /usr/bin/python3 (python3-libtorrent), inside the lab node, as
``/usr/bin/python3 bt_seeder.py CONFIG.json``; it imports nothing from netlab (its
sibling lt_program.py is standard library only).
The config (written by `netlab.lab.services.seeder`):

    {"torrent": ".../NAME.torrent", "save_path": ".../data",
     "listen": ["198.18.17.31", 6881], "info_hash": "<40 hex>", "state": ".../state.json"}

One session: the torrent in seed mode (the file is the one the service wrote), its
tracker only, no DHT, LSD, UPnP or NAT-PMP, no default bootstrap node. It writes
the state file (atomically) every STATE_S and prints tracker replies and errors.
"""

from __future__ import annotations

import os
import sys
import time

try:  # run as a program: Python put this file's folder first on sys.path
    import lt_program
except ModuleNotFoundError:  # imported as a module of netlab (the tests read its helpers)
    from netlab.lab.services import lt_program

STATE_S = 1.0
POLL_S = 0.2


def main(argv: list[str]) -> int:
    config = lt_program.start(argv, "bt_seeder.py")
    if config is None:
        return 2
    import libtorrent as lt

    ip, port = config["listen"]
    mask = (
        lt.alert.category_t.error_notification
        | lt.alert.category_t.status_notification
        | lt.alert.category_t.tracker_notification
    )
    session = lt.session(
        {
            "listen_interfaces": f"{ip}:{port}",
            "outgoing_interfaces": ip,
            "max_retry_port_bind": 0,
            "enable_dht": False,
            "dht_bootstrap_nodes": "",
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "enable_ip_notifier": False,
            "allow_multiple_connections_per_ip": True,
            "aio_threads": 1,
            "alert_mask": int(mask),
        }
    )
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(config["torrent"])
    params.save_path = config["save_path"]
    params.flags |= lt.torrent_flags.seed_mode
    params.flags &= ~lt.torrent_flags.auto_managed
    params.flags &= ~lt.torrent_flags.paused
    handle = session.add_torrent(params)
    t0 = time.time()
    trackers = [t.url for t in params.ti.trackers()]
    tracker: dict = {"url": trackers[0] if trackers else None}
    errors: list[str] = []
    print(f"seeder: {config['info_hash']} on {ip}:{port}", flush=True)
    next_state = 0.0
    while True:  # until SIGTERM (the lab going down)
        for alert in session.pop_alerts():
            if isinstance(alert, lt.tracker_reply_alert):
                tracker.update(ok=True, peers=alert.num_peers, time=round(time.time(), 3))
                print(f"seeder: {alert.message()}", flush=True)
            elif isinstance(alert, lt.tracker_error_alert | lt.listen_failed_alert):
                errors.append(alert.message())
                if isinstance(alert, lt.tracker_error_alert):
                    tracker["ok"] = False
                print(f"seeder: {alert.message()}", flush=True)
        now = time.time()
        if now >= next_state:
            st = handle.status()
            state = {
                "format": 1,
                "pid": os.getpid(),
                "started": round(t0, 3),
                "updated": round(now, 3),
                "info_hash": config["info_hash"],
                "listen": f"{ip}:{session.listen_port()}",
                "state": str(st.state),
                "seeding": bool(st.is_seeding),
                "peers": st.num_peers,
                "uploaded": st.all_time_upload,
                "tracker": tracker,
                "errors": errors[-10:],
            }
            lt_program.write_state(config["state"], state)
            next_state = now + STATE_S
        time.sleep(POLL_S)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
