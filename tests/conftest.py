"""Shared pytest set-up.

The CI rule (developers' guide): with CI=true, a test that needs root, namespaces
or a lab peer must run, and fail if it cannot. So under CI every skip becomes a
failure, whatever raised it (pytest.skip, importorskip, a skipif marker).
Locally, tests that lack root or a Debian peer skip with a reason.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# tcpdump's test captures, vendored (BSD licence): many deliberately malformed.
CORPUS = ROOT / "tests" / "corpus" / "tcpdump"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Samples in pcaps/ of a protocol tshark 4.0 does not decode (Wireshark 4.2 added
# bt-tracker): left out where netlab is held to tshark packet by packet.
TSHARK_LACKS = frozenset({"bt-tracker.pcapng"})


def tshark_samples() -> list[Path]:
    """pcaps/*.pcap* that tshark 4.0 decodes as netlab does (all but TSHARK_LACKS)."""
    return [p for p in sorted((ROOT / "pcaps").glob("*.pcap*")) if p.name not in TSHARK_LACKS]


def netlab_bin() -> str:
    """The installed console script of the venv the tests run in."""
    candidate = Path(sys.executable).parent / "netlab"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("netlab")
    if found is None:
        pytest.fail("the netlab console script is not installed (run `make test`)")
    return found


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (raw sockets, namespaces)")


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"needs {name!r} (installed by `make test`)")
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which is a failure: {reason}"


def pytest_sessionfinish(session, exitstatus):
    # "No tests collected" must never pass silently (pytest already exits 5; keep it so
    # even if someone adds `|| true`-style wrappers around a subset run).
    if session.testscollected == 0 and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
    _fail_on_internal_errors(session)


pytest_plugins = ["tests.labfixtures"]


# --- three processes (`make test` runs pytest -n 3 --dist loadgroup) --------------------------
# Modules that only read files (captures, certificates, source) run beside the rest,
# each whole in one worker (its module fixtures made once). So do the modules whose
# traffic stays inside lab namespaces of their own (LAB_MODULES: unique lab names, their
# own interfaces and ports; nothing sent on the host's `lo`). Everything else — loopback
# servers, live captures on `lo`, signals — runs in order in one of two groups:
# "loopback" holds the modules with captures that take every packet on `lo` (or count
# them), which would see another test's packets; PORT_MODULES, which send on `lo` only
# between their own sockets on ports of their own and capture with port filters (or not
# at all), are the other, "loopback-ports", beside it (one group was the critical path:
# 10 of the suite's 10.5 minutes).
OFFLINE_MODULES = {
    "test_cert", "test_cidr", "test_cli_spine", "test_columns", "test_core_base",
    "test_corpus_tshark", "test_dissect", "test_dissect_jobs",
    "test_dissect_scripting", "test_dissect_tcp_options", "test_dissect_tcp_repeats",
    "test_dns_info", "test_fast_views",
    "test_field_names", "test_filter", "test_filter_corpus", "test_fragments", "test_fuzz",
    "test_layers", "test_ndisc", "test_packaging", "test_pdml", "test_stats_more",
    "test_torrent_meta", "test_tshark_prefs", "test_wire_bittorrent",
    "test_wire_hpack",
}  # fmt: skip
LAB_MODULES = {
    "test_dht_lab", "test_dig_habits", "test_dissect_bittorrent", "test_dissect_progress",
    "test_ftp", "test_http_lab", "test_lab_engine", "test_lab_model", "test_lab_p2p",
    "test_lab_quic", "test_lab_scripts", "test_lab_stream", "test_lab_tls", "test_lab_web",
    "test_linkemu", "test_ping", "test_tcp_analysis", "test_tcp_handshake",
    # loopback, but only TCP between peers of the module's own on ports of its own,
    # recorded with port filters (`tcp port N`); the loopback group's captures that
    # take all of `lo` compare readers on one file, which extra packets do not upset
    "test_dissect_http", "test_dissect_rtmp", "test_dissect_tls",
}  # fmt: skip


PORT_MODULES = {
    "test_dht", "test_dnsquery", "test_http", "test_http_brotli", "test_json_vocabulary",
    "test_ping_habits", "test_quic", "test_stats_follow", "test_tcp_scan", "test_torrent_net",
    "test_traceroute", "test_wire_dns",
}  # fmt: skip


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups off the markers
def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if module in OFFLINE_MODULES | LAB_MODULES:
            group = module
        else:
            group = "loopback-ports" if module in PORT_MODULES else "loopback"
        item.add_marker(pytest.mark.xdist_group(group))


# --- an "internal error" in any netlab a test runs fails the suite -----------------------------
# Every netlab process started by a test inherits NETLAB_INTERNAL_ERROR_LOG and appends
# the traceback of an unexpected exception there (cli/main.py); the session fails if the
# file is not empty at the end, even when the test that ran it looked only at the exit
# status. Tests that provoke an internal error on purpose unset it for that process.
INTERNAL_ERRORS = Path(os.environ.setdefault(
    "NETLAB_INTERNAL_ERROR_LOG", f"/tmp/netlab-internal-errors-{os.getpid()}.log"))  # fmt: skip
if "PYTEST_XDIST_WORKER" not in os.environ:  # (workers share the controller's file)
    INTERNAL_ERRORS.unlink(missing_ok=True)


def _fail_on_internal_errors(session) -> None:
    if INTERNAL_ERRORS.exists() and INTERNAL_ERRORS.stat().st_size:
        text = INTERNAL_ERRORS.read_text(encoding="utf-8", errors="replace")
        sys.stderr.write(f"\n\ninternal errors in netlab commands run by the tests:\n{text}\n")
        session.exitstatus = 1
