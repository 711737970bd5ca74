"""A plain TCP echo server (RFC 862 style), the `tcp` service's program.

Run as its own process inside a lab node:
``python -m netlab.lab.services.tcp_echo 7 9000``. It listens on every given
port on both IPv4 and IPv6 and sends back whatever it receives, one thread per
connection. Stopped by SIGTERM (the engine signals its pid).
"""

from __future__ import annotations

import signal
import socket
import socketserver
import sys
import threading


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            sock.sendall(data)


class DualStackServer(socketserver.ThreadingTCPServer):
    address_family = socket.AF_INET6
    allow_reuse_address = True
    daemon_threads = True

    def server_bind(self) -> None:
        # One socket for both families: IPv4 clients arrive as ::ffff:a.b.c.d.
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def main(argv: list[str]) -> int:
    ports = [int(p) for p in argv] or [7]
    servers = [DualStackServer(("::", port), EchoHandler) for port in ports]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"tcp echo listening on {', '.join(map(str, ports))}", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    return 0


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    sys.exit(main(sys.argv[1:]))
