"""Text and NDJSON for `netlab arp`: arping's lines for probes, arp-scan's for scans.

Plain strings, no rich: scripts grep these lines, and the peers' own formats are
the reference (`arping` from iputils, `arp-scan`), so the two can be compared line
by line.
"""

from __future__ import annotations

from netlab.core.arp import ArpReply, ArpTimeout, LocalError, ProbeSummary, ScanSummary


# --- arping modes ----------------------------------------------------------------------------
def probe_header(target: str, src: str, iface: str) -> str:
    return f"ARPING {target} from {src} {iface}"


def probe_line(event: ArpReply) -> str:
    """arping's reply line: "Unicast reply from 198.18.0.20 [4A:8A:F1:23:B0:EF]  0.578ms"."""
    kind = "Broadcast" if event.broadcast else "Unicast"
    line = f"{kind} {event.op} from {event.ip} [{event.mac.upper()}]"
    if event.op == "request":
        line += f" for {event.target_ip}"
    if event.rtt_ms is not None:
        line += f"  {event.rtt_ms:.3f}ms"
    if event.dup:
        line += f" (DUP: {event.dup})"
    return line


def probe_summary_lines(s: ProbeSummary) -> list[str]:
    lines = [
        f"Sent {s.sent} probes ({s.broadcasts} broadcast(s))",
        f"Received {s.received} response(s)",
    ]
    if s.errors:
        lines.append(f"{s.errors} probe(s) could not be sent")
    if s.mode == "dad":
        if s.conflict_mac:
            lines.append(f"{s.ip} is already in use by {s.conflict_mac}")
        else:
            lines.append(f"no duplicate: nobody else answered for {s.ip}")
    return lines


# --- scans -------------------------------------------------------------------------------------
def scan_header(iface: str, mac: str, src: str, hosts: int, what: str, rate: float,
                tries: int, timeout: float) -> list[str]:  # fmt: skip
    rate_text = f"{rate:.0f}" if rate >= 10 else f"{rate:.3g}"
    return [
        f"Interface: {iface}, MAC: {mac}, IPv4: {src}",
        f"Scanning {hosts} hosts ({what}) at {rate_text} packets/s, {tries} tries, "
        f"timeout {timeout * 1000:.0f} ms",
    ]


def scan_line(event: ArpReply, vendor: str | None) -> str:
    """arp-scan's line: IP, MAC, vendor, tab-separated; " (DUP: n)" on further answers.
    VENDOR None: arp-scan -q's line, address and MAC only."""
    line = f"{event.ip}\t{event.mac}" + ("" if vendor is None else f"\t{vendor}")
    return f"{line} (DUP: {event.dup})" if event.dup else line


def scan_summary_line(s: ScanSummary) -> str:
    return f"{s.hosts} hosts scanned in {s.time_ms / 1000:.3f} s; {s.responded} responded"


# --- shared -------------------------------------------------------------------------------------
def local_error_line(event: LocalError) -> str:
    where = f" (to {event.ip})" if event.ip else ""
    return f"arp: local error{where}: {event.reason}"


def json_record(event, vendor: str | None = None, **extra) -> dict:
    """The NDJSON shapes: reply, timeout, local_error, and the final summary."""
    if isinstance(event, ArpReply):
        record = {"type": "reply", "addr": event.ip, "mac": event.mac, "vendor": vendor,
                  "rtt_ms": event.rtt_ms, "dup": event.dup}  # fmt: skip
        if event.seq is not None:
            record["seq"] = event.seq
        if event.op != "reply":
            record["op"] = event.op
            record["target_addr"] = event.target_ip
        return record
    if isinstance(event, ArpTimeout):
        return {"type": "timeout", "addr": event.ip, "seq": event.seq}
    if isinstance(event, LocalError):
        return {"type": "local_error", "addr": event.ip, "reason": event.reason}
    if isinstance(event, ScanSummary):
        return {"type": "summary", "mode": "scan", **extra, "hosts": event.hosts,
                "responded": event.responded, "sent": event.sent, "received": event.replies,
                "duplicates": event.duplicates, "errors": event.errors,
                "time_ms": event.time_ms}  # fmt: skip
    assert isinstance(event, ProbeSummary)
    mode = "gratuitous" if event.mode == "announce" else event.mode
    record = {"type": "summary", "mode": mode, "addr": event.ip, "src": event.src, **extra,
              "sent": event.sent, "broadcasts": event.broadcasts, "received": event.received,
              "answered": event.answered, "duplicates": event.duplicates,
              "errors": event.errors, "time_ms": event.time_ms}  # fmt: skip
    if event.mode == "resolve":  # probes no answer came for (received counts duplicates too)
        record["lost"] = max(event.sent - event.answered, 0)
    if event.mode == "dad":
        record["in_use"] = event.conflict_mac is not None
        record["mac"] = event.conflict_mac
    return record


class ProbePresenter:
    """Shows arping's events as they come (iputils arping's lines, or NDJSON). OUT has
    `text`, `emit` and `note` (the command's `cli.run.Session`)."""

    def __init__(self, out, *, json: bool, interface: str, quiet: bool = False) -> None:
        self.out, self.json, self.interface = out, json, interface
        self.quiet = quiet  # arping -q: nothing shown, the exit status says it
        self.summary = None

    def __call__(self, event) -> None:
        if event.type == "summary":
            self.summary = event
        if event.type == "local_error":
            self.out.note(local_error_line(event), "warning")
        elif self.quiet:
            return
        elif self.json:
            extra = {"interface": self.interface} if event.type == "summary" else {}
            self.out.emit(json_record(event, **extra))
        elif event.type == "reply":
            self.out.text(probe_line(event))
        elif event.type == "summary":
            self.out.text(*probe_summary_lines(event))


class ScanPresenter:
    """Shows a sweep's events as they come (arp-scan's lines, or NDJSON), each answer
    with the vendor of its MAC from VENDORS (`net.oui`: warned about once if missing)."""

    def __init__(self, out, vendors, *, json: bool, interface: str, source: str,
                 vendor_column: bool = True) -> None:  # fmt: skip
        self.out, self.vendors, self.json = out, vendors, json
        self.vendor_column = vendor_column  # arp-scan -q: address and MAC only
        self.interface, self.source = interface, source
        self.summary = None
        self._warned = False

    def vendor(self, mac: str) -> str:
        name = self.vendors.lookup(mac)
        if self.vendors.warning and not self._warned:
            self._warned = True
            self.out.note(self.vendors.warning, "warning")
        return name

    def __call__(self, event) -> None:
        if event.type == "local_error":
            self.out.note(local_error_line(event), "warning")
            return
        if event.type == "summary":
            self.summary = event
        if self.json:
            if event.type == "reply":
                self.out.emit(json_record(event, self.vendor(event.mac)))
            else:
                self.out.emit(json_record(event, interface=self.interface, src=self.source))
        elif event.type == "reply" and not self.vendor_column:
            self.out.text(scan_line(event, None))
        elif event.type == "reply":
            self.out.text(scan_line(event, self.vendor(event.mac)))
        elif event.type == "summary":
            self.out.text("", scan_summary_line(event))
