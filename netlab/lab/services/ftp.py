"""`ftp`: an FTP server, Debian's vsftpd: anonymous read-only, and a local user who may write.

    [nodes.server]
    services = [{ type = "ftp" }]                       # ftp://server/pub/hello.txt
    services = [{ type = "ftp", port = 21, pasv_ports = [40000, 40100],
                  user = "student", password = "netlab", data_bytes = 1048576 }]

Options:

- ``port`` (21): the control connection, on IPv4 and IPv6 (``listen_ipv6``);
- ``pasv_ports`` ([40000, 40100]): the range a 227/229 reply picks the data port
  from (``pasv_min_port``/``pasv_max_port``); active mode connects from port 20
  (``connect_from_port_20``);
- ``user``/``password`` ("student"/"netlab"): the local user, who logs in to
  ``home/`` (chrooted there) and may store files (STOR);
- ``data_bytes`` (1 MiB): the size of ``pub/data.bin``, pseudo-random bytes made
  from a fixed seed, next to ``pub/hello.txt``, for anonymous FTP (``anon/``).

vsftpd runs in the foreground (``background=NO``) with its own config file in the
service folder; its log is ``vsftpd.log`` there. The local user exists only for
vsftpd: `ip netns exec` gives the process a mount namespace of its own, in which
``/etc/passwd`` and ``/etc/shadow`` are bound to copies in the service folder that add
the user (and vsftpd's anonymous ``ftp`` user when the machine lacks one), so nothing
on the machine changes. PAM is Debian's ``/etc/pam.d/vsftpd`` (pam_unix reads the
bound shadow file).

Ready: a TCP connection to the port from inside the node gets the 220 greeting.
"""

from __future__ import annotations

import random
import shlex
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

from netlab.errors import NetlabError
from netlab.lab import netns
from netlab.lab.services import Service, options_problem
from netlab.lab.topology import Node, ServiceSpec, Topology

OPTIONS = {"port", "pasv_ports", "user", "password", "data_bytes"}
DEFAULTS: dict[str, Any] = {
    "port": 21,
    "pasv_ports": [40000, 40100],
    "user": "student",
    "password": "netlab",
    "data_bytes": 1024 * 1024,
}
UID = 64021  # the local user's (an id the machine is unlikely to use)
MAX_DATA = 256 * 1024 * 1024
HELLO = b"Hello from the lab's vsftpd.\n"


def ftp_options(spec: ServiceSpec) -> dict[str, Any]:
    return {**DEFAULTS, **spec.options}


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class FtpService(Service):
    type = "ftp"
    ready_timeout = 5.0

    @classmethod
    def check(cls, topo: Topology, node: Node, spec: ServiceSpec) -> str | None:
        o = ftp_options(spec)
        if problem := options_problem(spec, OPTIONS, o["port"]):
            return problem
        pasv = o["pasv_ports"]
        if (not isinstance(pasv, list) or len(pasv) != 2 or not all(_int(p) for p in pasv)
                or not 1024 <= pasv[0] <= pasv[1] <= 65535):  # fmt: skip
            return f"pasv_ports must be [LOW, HIGH] within 1024–65535, not {pasv!r}"
        for key in ("user", "password"):
            text = o[key]
            if (
                not isinstance(text, str)
                or not text
                or not text.isascii()
                or not all(c.isalnum() or c in "-_." for c in text)
            ):
                return f"{key} must be letters, digits, '-', '_' or '.', not {text!r}"
        if not _int(o["data_bytes"]) or not 0 <= o["data_bytes"] <= MAX_DATA:
            return f"data_bytes must be an integer within 0–{MAX_DATA}, not {o['data_bytes']!r}"
        return None

    @classmethod
    def listens(cls, spec: ServiceSpec) -> list[tuple[str, int]]:
        port = ftp_options(spec)["port"]
        return [("tcp", port)] if _int(port) else []

    @property
    def options(self) -> dict[str, Any]:
        return ftp_options(self.ctx.spec)

    def config(self) -> str:
        d, o = self.ctx.dir, self.options
        low, high = o["pasv_ports"]
        lines = [
            "# written by netlab: the lab's vsftpd",
            "listen=NO",
            "listen_ipv6=YES",  # one socket, IPv4 too (as ::ffff:a.b.c.d)
            f"listen_port={o['port']}",
            "background=NO",
            "anonymous_enable=YES",
            f"anon_root={d / 'anon'}",
            "anon_upload_enable=NO",
            "anon_mkdir_write_enable=NO",
            "no_anon_password=NO",  # USER, 331, PASS, 230: the dialogue as RFC 959 has it
            "local_enable=YES",
            "write_enable=YES",
            "local_umask=022",
            "chroot_local_user=YES",
            "allow_writeable_chroot=YES",
            f"local_root={d / 'home'}",
            "pasv_enable=YES",
            f"pasv_min_port={low}",
            f"pasv_max_port={high}",
            "port_enable=YES",
            "connect_from_port_20=YES",
            "ftp_data_port=20",
            f"secure_chroot_dir={d / 'empty'}",
            "pam_service_name=vsftpd",
            "seccomp_sandbox=NO",
            "xferlog_enable=YES",
            f"vsftpd_log_file={d / 'vsftpd.log'}",
            "dual_log_enable=NO",
            "use_localtime=NO",
        ]
        return "\n".join(lines) + "\n"

    def _tree(self) -> None:
        d, o = self.ctx.dir, self.options
        (d / "empty").mkdir(mode=0o755, exist_ok=True)
        pub = d / "anon" / "pub"
        pub.mkdir(parents=True, exist_ok=True)
        (pub / "hello.txt").write_bytes(HELLO)
        (pub / "data.bin").write_bytes(random.Random(20).randbytes(o["data_bytes"]))
        for path in (d, d / "anon", pub, pub / "hello.txt", pub / "data.bin", d / "empty"):
            path.chmod(0o755 if path.is_dir() else 0o644)  # anonymous: read, never write
        home = d / "home"
        home.mkdir(exist_ok=True)
        (home / "hello.txt").write_bytes(HELLO)
        for path in (home, home / "hello.txt"):
            shutil.chown(path, UID, UID)

    def _accounts(self) -> tuple[Path, Path]:
        """Copies of /etc/passwd and /etc/shadow with the local user (and `ftp`) added."""
        d, o = self.ctx.dir, self.options
        user = o["user"]
        passwd = [x for x in Path("/etc/passwd").read_text().splitlines()
                  if not x.startswith(f"{user}:")]  # fmt: skip
        shadow = [x for x in Path("/etc/shadow").read_text().splitlines()
                  if not x.startswith(f"{user}:")]  # fmt: skip
        passwd.append(f"{user}:x:{UID}:{UID}:netlab lab FTP user:{d / 'home'}:/bin/sh")
        shadow.append(f"{user}:{_crypt(o['password'])}:19000:0:99999:7:::")
        if not any(x.startswith("ftp:") for x in passwd):
            passwd.append(f"ftp:x:{UID + 1}:{UID + 1}:ftp:{d / 'anon'}:/usr/sbin/nologin")
        paths = (d / "passwd", d / "shadow")
        paths[0].write_text("\n".join(passwd) + "\n")
        paths[1].write_text("\n".join(shadow) + "\n")
        paths[0].chmod(0o644)
        paths[1].chmod(0o600)
        return paths

    def prepare(self) -> list[str]:
        vsftpd = shutil.which("vsftpd") or "/usr/sbin/vsftpd"
        if not Path(vsftpd).exists():
            raise NetlabError("ftp service: vsftpd is not installed (apt-get install vsftpd)")
        d = self.ctx.dir
        self._tree()
        passwd, shadow = self._accounts()
        conf = d / "vsftpd.conf"
        conf.write_text(self.config())
        # The bind mounts live in this process's own mount namespace (ip netns exec made
        # it, private): vsftpd sees the lab's user, the machine does not.
        script = (
            f"mount --bind {shlex.quote(str(passwd))} /etc/passwd && "
            f"mount --bind {shlex.quote(str(shadow))} /etc/shadow && "
            f"exec {shlex.quote(vsftpd)} {shlex.quote(str(conf))}"
        )
        return ["/bin/sh", "-c", script]

    def ready(self) -> bool:
        return greeting(self.ctx.netns, "127.0.0.1", self.options["port"]) is not None

    def describe(self) -> dict[str, Any]:
        o, d = self.options, self.ctx.dir
        node = self.ctx.node.name
        port = "" if o["port"] == 21 else f":{o['port']}"
        return {
            "program": "vsftpd",
            "ports": [o["port"]],
            "port": o["port"],
            "pasv_ports": o["pasv_ports"],
            "url": f"ftp://{node}{port}/pub/",
            "user": o["user"],
            "password": o["password"],
            "anon_root": str(d / "anon"),
            "home": str(d / "home"),
            "files": {"pub/hello.txt": len(HELLO), "pub/data.bin": o["data_bytes"]},
            "vsftpd_log": str(d / "vsftpd.log"),
        }


def _crypt(password: str) -> str:
    """A SHA-512 crypt(3) hash for /etc/shadow (openssl passwd -6)."""
    try:
        out = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password,
                             capture_output=True, text=True, check=True, timeout=10)  # fmt: skip
    except (OSError, subprocess.SubprocessError) as err:
        raise NetlabError(f"ftp service: cannot hash the password with openssl: {err}") from None
    return out.stdout.strip()


def greeting(ns: str, addr: str, port: int, timeout: float = 0.3) -> bytes | None:
    """The server's first line (its 220), or None."""
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    sock = netns.socket_in(ns, family, socket.SOCK_STREAM)
    with sock:
        sock.settimeout(timeout)
        try:
            sock.connect((addr, port))
            line = sock.recv(512)
            sock.sendall(b"QUIT\r\n")
        except OSError:
            return None
    return line if line.startswith(b"220") else None
