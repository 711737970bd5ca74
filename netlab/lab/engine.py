"""Bring labs up and down, as root, with a ledger that makes both trustworthy.

`up(topo)`:
  1. claim the run folder /run/netlab/<lab>/ and write the ledger (owner = this pid);
  2. record the namespaces and veth pairs, then create them with one `ip -batch`;
  3. configure every namespace in parallel (`ip -n NS -batch`), set sysctls,
     impairments (netem; where the kernel has no netem, a link emulator process
     per impaired link, `linkemu`, recorded and stopped like a service);
  4. write the name files under /etc/netns/<ns>/ (hosts, resolv.conf);
  5. start the services, record their pids, wait until each answers (in groups of
     equal `Service.order()`: a lower group answers before the next starts).
  Any failure, Ctrl-C or SIGTERM on the way runs `teardown` on the ledger so far
  and re-raises: an interrupted `up` leaves nothing behind.

`teardown(ledger)` (what `down` does): stop the recorded processes by pid
(checking their start time), end anything else still running inside the lab's
namespaces, remove the recorded files, delete the namespaces (their veths go
with them) and finally the run folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from netlab.errors import ExitStatus, InputError, NetlabError, PrivilegeError
from netlab.lab import ledger as ledger_mod
from netlab.lab import netns, plan
from netlab.lab.ledger import Ledger, starttime
from netlab.lab.services import Service, ServiceContext, service_class
from netlab.lab.services.hosts import hosts_text, resolv_text
from netlab.lab.topology import NAME_RE, Topology, parse_topology

ETC_NETNS = Path("/etc/netns")


class LabInterrupted(NetlabError):
    status = ExitStatus.INTERRUPTED


def labs_dir() -> Path:
    """The bundled labs: $NETLAB_LABS, else labs/ of the source checkout."""
    env = os.environ.get("NETLAB_LABS")
    if env:
        return Path(env)
    import netlab

    return Path(netlab.__file__).resolve().parent.parent / "labs"


def resolve_file(spec: str) -> Path:
    """A topology path, or the name of a bundled lab (`routed` → labs/routed.toml)."""
    path = Path(spec)
    if path.exists() or "/" in spec or spec.endswith(".toml"):
        return path
    bundled = labs_dir() / f"{spec}.toml"
    return bundled if bundled.exists() else path


def require_root() -> None:
    """Labs need root with CAP_SYS_ADMIN (mounts of a namespace) and CAP_NET_ADMIN
    (links, addresses): asked of the kernel, since root in a container or under
    `setpriv --inh-caps=-all` may lack them (exit 3, not a mount error)."""
    from netlab.net.privilege import CAP_NET_ADMIN, CAP_SYS_ADMIN, has_capability

    missing = [name for cap, name in ((CAP_SYS_ADMIN, "CAP_SYS_ADMIN"),
                                      (CAP_NET_ADMIN, "CAP_NET_ADMIN"))
               if not has_capability(cap)]  # fmt: skip
    if os.geteuid() != 0 or missing:
        lacking = " and ".join(missing or ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"])
        raise PrivilegeError(
            f"labs need root with CAP_SYS_ADMIN and CAP_NET_ADMIN to create namespaces "
            f"({lacking} missing): run with sudo, outside a container that drops them"
        )


# ---------------------------------------------------------------------------
# Signals: turn SIGINT/SIGTERM into an exception, except inside critical sections


SIGNALS = {signal.SIGINT, signal.SIGTERM}


def release_signals() -> None:
    """After `up(hold_signals=True)` has been reported: drop a Ctrl-C that came after the
    commit (setting SIG_IGN discards a pending signal) and unblock the signals."""
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in SIGNALS}
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
    for sig, handler in saved.items():
        signal.signal(sig, handler)


class _SignalGuard:
    """Raise LabInterrupted on SIGINT/SIGTERM, deferred while a critical section runs.

    A critical section is "spawn a process + record its pid": an exception between
    the two would leak the process. Signal masks are not used because children
    would inherit them (a service that cannot receive SIGTERM).
    """

    def __init__(self) -> None:
        self.depth = 0
        self.pending: int | None = None
        self.saved: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        if self.depth:
            self.pending = signum
            return
        raise LabInterrupted(f"interrupted by {signal.Signals(signum).name}")

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # handlers can only be set from the main thread
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.saved[sig] = signal.signal(sig, self._handler)

    def restore(self) -> None:
        for sig, old in self.saved.items():
            signal.signal(sig, old)
        self.saved.clear()

    @contextlib.contextmanager
    def critical(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if not self.depth and self.pending is not None:
                signum, self.pending = self.pending, None
                raise LabInterrupted(f"interrupted by {signal.Signals(signum).name}")


# ---------------------------------------------------------------------------
# up


def run_dir_for(name: str) -> Path:
    return ledger_mod.RUN_ROOT / name


def up(
    topo: Topology,
    name: str | None = None,
    hold: bool = False,
    source_text: str | None = None,
    hold_signals: bool = False,
) -> Ledger:
    """Build the lab; return its ledger. `hold`: this process stays the owner.

    A held lab whose owner dies is stale (`down --stale` clears it); a lab brought up
    by `netlab lab up` is detached (no owner) and lives until `netlab lab down`.
    """
    require_root()
    if name is not None and not name.strip():
        raise InputError("--name: a lab name cannot be empty")
    name = name or topo.name
    if not NAME_RE.match(name):
        raise InputError(f"lab name '{name}' must match {NAME_RE.pattern}")
    run_dir = run_dir_for(name)
    if (run_dir / ledger_mod.LEDGER).exists():
        old = Ledger.load(run_dir)
        if not old.stale:
            raise InputError(f"lab '{name}' is already up (netlab lab down {name})")
        teardown(old)  # its owner died half-way: clear the leftovers, then start afresh
    elif run_dir.exists():
        shutil.rmtree(run_dir)  # a run folder without a ledger holds nothing of a lab

    guard = _SignalGuard()
    guard.install()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    book = Ledger(lab=name, run_dir=run_dir, owner=ledger_mod.me())
    try:
        with guard.critical():
            run_dir.mkdir(parents=True)
            book.info = describe(topo, name)
            book.save()
        if source_text is not None:
            (run_dir / "topology.toml").write_text(source_text)
        _build(topo, name, book, guard, timings)
        with guard.critical():  # a signal during the commit rolls back, when it ends
            book.state = "up"
            book.owner = ledger_mod.me() if hold else None
            timings["total"] = time.perf_counter() - t0
            book.info["timings_ms"] = {k: round(v * 1000, 1) for k, v in timings.items()}
            book.save()
            if hold_signals:
                # Committed: the lab is up. A Ctrl-C from now on must not make the command
                # say "interrupted" (exit 130) while the lab stays: it waits, blocked,
                # until the caller has reported "up" and calls release_signals().
                signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        return book
    except BaseException:
        guard.depth = 1  # from here on signals are only noted: the rollback must finish
        teardown(book)
        raise
    finally:
        guard.restore()


IMPAIR_ENV = "NETLAB_IMPAIR"
MECHANISMS = ("netem", "emulator", "nft+tbf")


def impair_mechanism(topo: Topology) -> str | None:
    """How this lab's impairments are applied: netem where the kernel has it, else the
    link emulator. $NETLAB_IMPAIR=netem|emulator|nft+tbf forces one (tests, benchmarks;
    `nft+tbf` is the old loss-and-rate-only fallback)."""
    if not any(link.impair for link in topo.links):
        return None
    forced = os.environ.get(IMPAIR_ENV, "auto") or "auto"
    if forced != "auto" and forced not in MECHANISMS:
        raise InputError(f"${IMPAIR_ENV}: '{forced}' is not one of auto, {', '.join(MECHANISMS)}")
    if forced != "auto":
        return forced
    return "netem" if netns.netem_available() else "emulator"


def _build(
    topo: Topology, name: str, book: Ledger, guard: _SignalGuard, timings: dict[str, float]
) -> None:
    t = time.perf_counter()
    mechanism = impair_mechanism(topo)
    the_plan = plan.build_plan(topo, name, emulate=mechanism == "emulator")
    with guard.critical():
        for ns in the_plan.namespaces:
            book.items.append({"kind": "netns", "name": ns})
        for link in the_plan.links:
            # veths live inside the namespaces and vanish with them; recorded to be seen.
            book.items.append({"kind": "link", **link})
        book.save()
    netns.batch(the_plan.root_batch)
    timings["namespaces_links"] = time.perf_counter() - t

    t = time.perf_counter()
    # Sysctls first: the switch must drop IPv6 before its bridges come up.
    for ns, values in the_plan.sysctls.items():
        netns.write_sysctls(ns, values)
    netns.batches_parallel(the_plan.ns_batches)
    _impair(the_plan, book, mechanism)
    _start_emulators(the_plan, book, guard)
    timings["configure"] = time.perf_counter() - t

    t = time.perf_counter()
    _name_files(topo, name, book)
    (book.run_dir / "logs").mkdir(exist_ok=True)
    timings["files"] = time.perf_counter() - t

    t = time.perf_counter()
    _wait_links_up(book)
    timings["carrier"] = time.perf_counter() - t

    t = time.perf_counter()
    _start_services(topo, name, book, guard)
    timings["services"] = time.perf_counter() - t


LINK_UP_TIMEOUT = 3.0


def _wait_links_up(book: Ledger) -> None:
    """Return once every veth end is operationally up (bounded).

    The kernel's link watch applies carrier changes at most once a second, and a
    bridge port forwards nothing until then: right after the links are set up, the
    first packets across a LAN could be lost. A lab that says "up" must forward.
    """
    import json
    import subprocess

    ends: dict[str, set[str]] = {}
    for item in book.of_kind("link"):
        for end in (item["a"], item["b"]):
            ns, dev = end.split(":")
            ends.setdefault(ns, set()).add(dev)
    deadline = time.monotonic() + LINK_UP_TIMEOUT
    while ends and time.monotonic() < deadline:
        for ns in list(ends):
            out = subprocess.run(["ip", "-n", ns, "-j", "link", "show"], capture_output=True,
                                 text=True, check=False).stdout  # fmt: skip
            up = {link["ifname"] for link in json.loads(out or "[]")
                  if link.get("operstate") in ("UP", "UNKNOWN")}  # fmt: skip
            ends[ns] -= up
            if not ends[ns]:
                del ends[ns]
        if ends:
            time.sleep(0.02)


def _impair(the_plan: plan.Plan, book: Ledger, mechanism: str | None) -> None:
    notes = book.info.setdefault("impairments", [])
    for emu in the_plan.emulations:
        for splice in emu.splices:
            for src_ns, src_dev, imp in ((splice.a_ns, splice.a_dev, splice.ab),
                                         (splice.b_ns, splice.b_dev, splice.ba)):  # fmt: skip
                if imp is not None:
                    notes.append({"link": emu.link, "netns": src_ns, "dev": src_dev,
                                  "applied": "emulator", "not_applied": [],
                                  **imp.to_dict()})  # fmt: skip
    if not the_plan.impairments:
        book.save()
        return
    use_netem = mechanism == "netem"
    for where in the_plan.impairments:
        imp = where.imp
        applied = "netem"
        missing: list[str] = []
        if use_netem:
            _root_qdisc(where, "netem", *plan.netem_args(imp))
        else:
            # No sch_netem in this kernel: loss by nftables, rate by tbf; the rest cannot
            # be emulated and is reported, never silently pretended.
            applied = "nft+tbf"
            if imp.loss_pct:
                netns.run(
                    ["ip", "netns", "exec", where.peer_netns, "nft", "-f", "-"],
                    stdin=plan.nft_loss_ruleset(where.peer_dev, imp.loss_pct),
                )
            if imp.rate_kbit:
                _root_qdisc(where, *plan.tbf_args(imp.rate_kbit))
            missing = [
                k
                for k in ("delay_ms", "jitter_ms", "duplicate_pct", "reorder_pct", "corrupt_pct",
                          "loss_corr_pct")
                if getattr(imp, k)
            ]  # fmt: skip
        notes.append(
            {
                "netns": where.netns,
                "dev": where.dev,
                "applied": applied,
                "not_applied": missing,
                **imp.to_dict(),
            }
        )
    book.save()


def _root_qdisc(where: plan.Impairing, *qdisc: str) -> None:
    """`tc qdisc add … root QDISC` on the impaired device, in its namespace."""
    netns.run(["tc", "-n", where.netns, "qdisc", "add", "dev", where.dev, "root", *qdisc])


EMULATOR_READY_TIMEOUT = 10.0


def _start_emulators(the_plan: plan.Plan, book: Ledger, guard: _SignalGuard) -> None:
    """One `linkemu` process per emulated link, in the wire namespace; return once each
    has its sockets bound (a lab that says "up" forwards from its first packet)."""
    if not the_plan.emulations:
        return
    import json

    import netlab

    for ns, dev in the_plan.csum_off:
        netns.set_tx_checksum(ns, dev, False)
    (book.run_dir / "logs").mkdir(exist_ok=True)
    root = str(Path(netlab.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH")) if p)}  # fmt: skip
    started = []
    for index, emu in enumerate(the_plan.emulations):
        base = book.run_dir / f"linkemu-{index}"
        splices = [
            {"a": s.wire_a, "b": s.wire_b,
             "ab": s.ab.to_dict() if s.ab else None,
             "ba": s.ba.to_dict() if s.ba else None}
            for s in emu.splices
        ]  # fmt: skip
        config = {
            "link": emu.link,
            "lab": book.lab,
            "splices": splices,
            "ready": f"{base}.ready",
            "stats": f"{base}.stats.json",
            "watch": [str(book.path)],
        }
        Path(f"{base}.json").write_text(json.dumps(config, indent=1))
        argv = [sys.executable, "-m", "netlab.lab.linkemu", f"{base}.json"]
        log_path = book.run_dir / "logs" / f"linkemu-{index}.log"
        with open(log_path, "ab") as log, guard.critical():
            proc = subprocess.Popen(
                ["ip", "netns", "exec", emu.netns, *argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
            book.add("emulator", pid=proc.pid, starttime=starttime(proc.pid) or 0,
                     link=emu.link, netns=emu.netns, argv=argv, log=str(log_path),
                     stats=config["stats"])  # fmt: skip
        started.append((emu, proc, Path(config["ready"]), log_path))
    deadline = time.monotonic() + EMULATOR_READY_TIMEOUT
    for emu, proc, ready, log_path in started:
        while not ready.exists():
            if proc.poll() is not None:
                raise NetlabError(
                    f"link emulator for '{emu.link}' exited with status {proc.returncode}: "
                    f"{_last_line(log_path)} (log: {log_path})"
                )
            if time.monotonic() > deadline:
                raise NetlabError(f"link emulator for '{emu.link}' not ready after "
                                  f"{EMULATOR_READY_TIMEOUT:g} s (log: {log_path})")  # fmt: skip
            time.sleep(0.01)


def _name_files(topo: Topology, name: str, book: Ledger) -> None:
    if not ETC_NETNS.exists():
        book.add("dir", path=str(ETC_NETNS), remove="if-empty")
        ETC_NETNS.mkdir(exist_ok=True)
    hosts, resolv = hosts_text(topo, name), resolv_text(topo, name)
    (book.run_dir / "hosts").write_text(hosts)
    for node in topo.nodes:
        folder = ETC_NETNS / plan.netns_name(name, node)
        book.items.append({"kind": "dir", "path": str(folder), "remove": "if-empty"})
        book.items.append({"kind": "file", "path": str(folder / "hosts")})
        book.items.append({"kind": "file", "path": str(folder / "resolv.conf")})
    book.save()
    for node in topo.nodes:
        folder = ETC_NETNS / plan.netns_name(name, node)
        folder.mkdir(exist_ok=True)
        (folder / "hosts").write_text(hosts)
        (folder / "resolv.conf").write_text(resolv)


def _services(topo: Topology, name: str, run_dir: Path) -> list[Service]:
    out = []
    for node in topo.nodes.values():
        for spec in node.services:
            cls = service_class(spec.type)
            assert cls is not None  # validated at load time
            ctx = ServiceContext(
                topo=topo,
                node=node,
                spec=spec,
                netns=plan.netns_name(name, node.name),
                dir=run_dir,
                run_dir=run_dir,
            )
            ctx.dir = run_dir / "services" / ctx.label
            out.append(cls(ctx))
    return sorted(out, key=lambda s: s.order())


def _start_services(topo: Topology, name: str, book: Ledger, guard: _SignalGuard) -> None:
    services = _services(topo, name, book.run_dir)
    started: list[tuple[Service, subprocess.Popen, Path]] = []
    for svc in services:
        if started and svc.order() > started[-1][0].order():
            # Services of one order start together; the next order starts once they all
            # answer (an RTMP server before the ffmpeg that publishes into it).
            _await_ready(started)
            started = []
        svc.ctx.dir.mkdir(parents=True, exist_ok=True)
        argv = svc.prepare()
        log_path = book.run_dir / "logs" / f"{svc.ctx.label}.log"
        with open(log_path, "ab") as log, guard.critical():
            proc = subprocess.Popen(
                ["ip", "netns", "exec", svc.ctx.netns, *argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=svc.ctx.dir,
                start_new_session=True,  # own group: signalled as one
            )
            # `ip netns exec` execs the program: same pid, same start time.
            book.add(
                "process",
                pid=proc.pid,
                starttime=starttime(proc.pid) or 0,
                node=svc.ctx.node.name,
                service=svc.ctx.spec.label,
                argv=argv,
                log=str(log_path),
                details=svc.describe(),
            )
        started.append((svc, proc, log_path))
    _await_ready(started)


def _await_ready(started: list[tuple[Service, subprocess.Popen, Path]]) -> None:
    """Poll every service until it answers; fail early if its process exits."""
    t0 = time.monotonic()
    waiting = list(started)
    while waiting:
        still = []
        for svc, proc, log_path in waiting:
            if proc.poll() is not None:
                raise NetlabError(
                    f"service {svc.ctx.spec.label} on '{svc.ctx.node.name}' exited "
                    f"with status {proc.returncode}: {_last_line(log_path)} "
                    f"(log: {log_path})"
                )
            if not svc.ready():
                if time.monotonic() - t0 > svc.ready_timeout:
                    raise NetlabError(
                        f"service {svc.ctx.spec.label} on '{svc.ctx.node.name}' "
                        f"not ready after {svc.ready_timeout:g} s (log: {log_path})"
                    )
                still.append((svc, proc, log_path))
        waiting = still
        if waiting:
            time.sleep(0.02)


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    return lines[-1][-200:] if lines else "no output"


# ---------------------------------------------------------------------------
# down


def teardown(book: Ledger) -> None:
    """Remove exactly what the ledger lists; items that never came to exist are skipped."""
    if book.path.exists():
        book.state = "stopping"
        book.save()
    procs = [(p["pid"], p["starttime"]) for p in book.of_kind("process")]
    procs += [(p["pid"], p["starttime"]) for p in book.of_kind("emulator")]
    ledger_mod.stop_processes(procs)
    # Anything else still inside the lab (a `lab exec` left running): found by its
    # namespace inode, never by name.
    names = [item["name"] for item in book.of_kind("netns")]
    inodes = {i for i in (netns.netns_inode(ns) for ns in names) if i is not None}
    if inodes:
        others = [pid for pid in netns.pids_in(inodes) if pid != os.getpid()]
        ledger_mod.stop_processes([(pid, starttime(pid)) for pid in others], grace=1.0)
    for item in reversed(book.items):
        if item["kind"] == "file":
            with contextlib.suppress(FileNotFoundError):
                os.unlink(item["path"])
        elif item["kind"] == "dir":
            with contextlib.suppress(OSError):
                os.rmdir(item["path"])  # only when empty: never a folder we share
    existing = [ns for ns in names if netns.exists(ns)]
    netns.batch([f"netns del {ns}" for ns in existing], force=True)
    shutil.rmtree(book.run_dir, ignore_errors=True)


def find(name: str | None = None) -> Ledger:
    """The lab called `name`, or the only lab up when no name is given."""
    books = ledger_mod.all_ledgers()
    if name is not None:
        for book in books:
            if book.lab == name:
                return book
        up_names = ", ".join(b.lab for b in books) or "none"
        raise InputError(f"no lab named '{name}' is up (up: {up_names})")
    if not books:
        raise InputError("no lab is up (start one with: netlab lab up FILE)")
    if len(books) > 1:
        names = ", ".join(b.lab for b in books)
        raise InputError(f"several labs are up ({names}): name one with --lab NAME")
    return books[0]


def down(name: str | None = None, every: bool = False, stale_only: bool = False) -> list[str]:
    require_root()
    if every or stale_only:
        books = [b for b in ledger_mod.all_ledgers() if every or b.stale]
    else:
        books = [find(name)]
    # Ctrl-C or SIGTERM during `down` is held until the teardown is complete: half a
    # teardown would leave exactly the leftovers the ledger exists to prevent.
    guard = _SignalGuard()
    guard.install()
    try:
        with guard.critical():
            for book in books:
                teardown(book)
    finally:
        guard.restore()
    return [b.lab for b in books]


# ---------------------------------------------------------------------------
# exec and status


def exec_argv(book: Ledger, node: str, command: list[str]) -> list[str]:
    nodes = book.info.get("nodes", {})
    if node not in nodes:
        raise InputError(f"lab '{book.lab}' has no node '{node}' (nodes: {', '.join(nodes)})")
    return ["ip", "netns", "exec", nodes[node]["netns"], *command]


def describe(topo: Topology, name: str) -> dict[str, Any]:
    """The resolved lab as plain data: what status shows and exec/fixtures look up."""
    nodes = {}
    for node in topo.nodes.values():
        nodes[node.name] = {
            "kind": node.kind,
            "netns": plan.netns_name(name, node.name),
            "interfaces": [
                {
                    "name": ifname,
                    "link": link.name,
                    "addresses": [a.with_prefixlen for a in link.addresses.get(node.name, [])],
                    "mtu": link.mtu or 1500,
                }
                for ifname, link in topo.interfaces(node.name)
            ],
            "gateway": str(node.gateway4) if node.gateway4 else None,
            "gateway6": str(node.gateway6) if node.gateway6 else None,
            "routes": [{"to": str(r.to), "via": str(r.via)} for r in node.routes],
            "services": [s.label for s in node.services],
        }
    return {
        "name": name,
        "topology": topo.name,
        "description": topo.description,
        "source": topo.source,
        "created": time.time(),
        "nodes": nodes,
        "links": [plan.link_summary(link) for link in topo.links],
    }


def status(book: Ledger, probe: bool = True) -> dict[str, Any]:
    info = book.info
    services = []
    probes = _probes(book) if probe and os.geteuid() == 0 else {}
    for item in book.of_kind("process"):
        alive = ledger_mod.alive(item["pid"], item["starttime"])
        health = "dead"
        if alive:
            check = probes.get((item["node"], item["service"]))
            health = "unknown" if check is None else ("healthy" if check() else "unhealthy")
        services.append(
            {
                "node": item["node"],
                "service": item["service"],
                "pid": item["pid"],
                "running": alive,
                "health": health,
                "log": item.get("log"),
                **item.get("details", {}),
            }
        )
    missing = [i["name"] for i in book.of_kind("netns") if not netns.exists(i["name"])]
    emulators = [
        {"link": item["link"], "pid": item["pid"],
         "running": ledger_mod.alive(item["pid"], item["starttime"]),
         "log": item.get("log"), "stats": _read_json(item.get("stats"))}
        for item in book.of_kind("emulator")
    ]  # fmt: skip
    return {
        "name": book.lab,
        "state": book.state,
        "stale": book.stale,
        "owner_pid": book.owner["pid"] if book.owner else None,
        "run_dir": str(book.run_dir),
        "description": info.get("description", ""),
        "source": info.get("source"),
        "nodes": [{"name": n, **v} for n, v in info.get("nodes", {}).items()],
        "links": info.get("links", []),
        "impairments": info.get("impairments", []),
        "emulators": emulators,
        "services": services,
        "missing_namespaces": missing,
        "timings_ms": info.get("timings_ms", {}),
    }


def _read_json(path: str | None) -> Any:
    import json

    try:
        return json.loads(Path(path).read_text()) if path else None
    except (OSError, ValueError):
        return None


def _probes(book: Ledger) -> dict[tuple[str, str], Any]:
    """Readiness probes rebuilt from the copy of the topology kept in the run folder."""
    path = book.run_dir / "topology.toml"
    if not path.exists():
        return {}
    try:
        topo = parse_topology(path.read_text(), source=str(path), default_name=book.lab)
    except NetlabError:
        return {}
    return {
        (s.ctx.node.name, s.ctx.spec.label): s.ready
        for s in _services(topo, book.lab, book.run_dir)
    }
