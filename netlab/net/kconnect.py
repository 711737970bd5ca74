"""`tcp-handshake --connect`: the kernel's own handshake, timed and read back from TCP_INFO.

No raw sockets and no privileges: connect() with the kernel's SYN retries
(TCP_SYNCNT), then the handshake's outcome from Linux's struct tcp_info (RTT,
SACK, timestamps, window scales, MSS), then an orderly close (FIN; the kernel
does the rest, TIME_WAIT included).
"""

from __future__ import annotations

import contextlib
import errno
import socket
import time
from dataclasses import dataclass
from typing import Any

from netlab.core.tcp_handshake import TcpInfo, parse_tcp_info


@dataclass
class ConnectResult:
    result: str  # "open", "closed" or "filtered"
    reason: str
    errno: str | None
    info: TcpInfo | None
    elapsed_ns: int
    source: str
    sport: int | None
    interrupted: bool

    def document(self) -> dict[str, Any]:
        info = self.info
        return {
            "src": self.source,
            "sport": self.sport,
            "result": self.result,
            "reason": self.reason,
            "errno": self.errno,
            "rtt_ms": info.rtt_ms if info else None,
            "rttvar_ms": info.rttvar_us / 1000 if info else None,
            "connect_ms": self.elapsed_ns / 1e6,
            "options": info.options_dict() if info else None,
        }


def kernel_connect(addr: str, port: int, family: int, *, tries: int, hold: float,
                   iface: str | None, source: str) -> ConnectResult:  # fmt: skip
    """connect() to ADDR:PORT with TRIES SYNs, keep it HOLD seconds if open, close it."""
    wait = float(2**tries - 1)  # SYNs after 0 s, 1 s, 3 s …, each given 1 s, 2 s, 4 s …
    result, reason, err_name, info = "filtered", "", None, None
    elapsed_ns, sport, interrupted = 0, None, False
    sock = socket.socket(socket.AF_INET if family == 4 else socket.AF_INET6, socket.SOCK_STREAM)
    try:
        if iface:
            with contextlib.suppress(OSError):  # refused without CAP_NET_RAW on older kernels
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
            sock.bind((source, 0))  # the source address of that interface's route
        with contextlib.suppress(OSError):  # the kernel's SYN retries: tries - 1
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, max(1, min(255, tries - 1)))
        sock.settimeout(wait)
        started = time.monotonic_ns()
        try:
            sock.connect((addr, port))
            result = "open"
        except ConnectionRefusedError:
            result, err_name = "closed", "ECONNREFUSED"
            reason = "ECONNREFUSED (reset by the server: port closed)"
        except TimeoutError as err:
            if err.errno is None:  # our timeout, not the kernel's ETIMEDOUT
                reason = f"no answer within {wait:g} s ({tries} SYN(s))"
            else:
                err_name = errno.errorcode.get(err.errno, str(err.errno))
                reason = f"{err_name} ({err.strerror})"
        except OSError as err:  # EHOSTUNREACH, ENETUNREACH, EACCES (a local firewall) …
            err_name = errno.errorcode.get(err.errno or 0, str(err.errno))
            reason = f"{err_name} ({err.strerror})"
        except KeyboardInterrupt:
            interrupted, reason = True, "interrupted"
        elapsed_ns = time.monotonic_ns() - started
        with contextlib.suppress(OSError):
            source, sport = sock.getsockname()[:2]
        if result == "open":
            info = parse_tcp_info(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104))
            try:
                time.sleep(hold)
            except KeyboardInterrupt:
                interrupted = True
    finally:
        sock.close()  # an orderly close (FIN): the kernel does the rest, TIME_WAIT included
    return ConnectResult(result, reason, err_name, info, elapsed_ns, source, sport, interrupted)
