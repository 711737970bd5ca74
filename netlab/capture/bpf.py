"""Capture filters in tcpdump syntax, compiled by libpcap, attached to a socket.

The filter language (pcap-filter(7)) is libpcap's: we call its compiler through
ctypes on a "dead" handle (no device opened, no privilege needed) and hand the
classic-BPF instructions it produces to the kernel with SO_ATTACH_FILTER. That
way `netlab sniff -f EXPR` accepts exactly what `tcpdump EXPR` accepts, and the
kernel drops unwanted packets before they are ever copied to us.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import select
import signal
import socket
import struct
import time

from netlab.errors import InputError

SO_ATTACH_FILTER = 26  # <asm-generic/socket.h>
SO_DETACH_FILTER = 27
PCAP_NETMASK_UNKNOWN = 0xFFFFFFFF  # "ip broadcast" needs a netmask; we do not guess one
BPF_RET_K = 0x06  # BPF_RET | BPF_K

# pcap_open_dead takes a DLT_* value, which differs from the LINKTYPE_* stored in
# files for a few types: LINKTYPE_RAW (101) is DLT_RAW, 12 on Linux.
_DLT_OF_LINKTYPE = {101: 12}

Insn = tuple[int, int, int, int]  # (code, jt, jf, k), as `tcpdump -dd` prints them

REJECT_ALL: list[Insn] = [(BPF_RET_K, 0, 0, 0)]  # "accept 0 bytes" = drop every packet


class bpf_insn(ctypes.Structure):  # the C name, from <pcap/bpf.h>
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint32),
    ]


class bpf_program(ctypes.Structure):  # the C name, from <pcap/bpf.h>
    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(bpf_insn))]


@functools.cache
def _libpcap() -> ctypes.CDLL:
    # Debian's runtime package (libpcap0.8) ships only the versioned name. find_library
    # runs `ldconfig -p` (a process, ~10 ms): asked only when the usual names fail.
    def names():
        yield from ("libpcap.so.0.8", "libpcap.so.1")
        import ctypes.util  # shutil, tempfile, bz2, lzma …: only when needed

        yield ctypes.util.find_library("pcap")

    for name in names():
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        break
    else:
        raise InputError("capture filters need libpcap (Debian: apt install libpcap0.8)")
    lib.pcap_open_dead.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.pcap_open_dead.restype = ctypes.c_void_p
    lib.pcap_compile.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(bpf_program),
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_uint32,
    ]
    lib.pcap_compile.restype = ctypes.c_int
    lib.pcap_geterr.argtypes = [ctypes.c_void_p]
    lib.pcap_geterr.restype = ctypes.c_char_p
    lib.pcap_freecode.argtypes = [ctypes.POINTER(bpf_program)]
    lib.pcap_freecode.restype = None
    lib.pcap_close.argtypes = [ctypes.c_void_p]
    lib.pcap_close.restype = None
    return lib


# libpcap's optimiser can take minutes on a long expression ("port 1 or … port 2999"),
# inside one C call that Ctrl-C cannot interrupt. Expressions longer than this are
# compiled in a child process, given at most COMPILE_SECONDS (env
# NETLAB_FILTER_COMPILE_SECONDS), and Ctrl-C ends the wait at once.
INLINE_MAX = 512
COMPILE_SECONDS = 10.0
_INSN = struct.Struct("=HBBI")


def compile_filter(
    expression: str, linktype: int, snaplen: int = 262144, netmask: int = PCAP_NETMASK_UNKNOWN
) -> list[Insn]:
    """Compile a tcpdump-syntax filter for `linktype`; InputError with libpcap's reason.

    The empty expression compiles to "accept `snaplen` bytes", so the kernel
    truncates packets to the snap length even without a filter. `netmask` (host
    byte order, e.g. 0xFFFFFF00) is only used by "ip broadcast", as in tcpdump.
    """
    if len(expression) <= INLINE_MAX:
        return _compile(expression, linktype, snaplen, netmask)
    return _compile_in_child(expression, linktype, snaplen, netmask)


def _compile_in_child(expression: str, linktype: int, snaplen: int, netmask: int) -> list[Insn]:
    limit = float(os.environ.get("NETLAB_FILTER_COMPILE_SECONDS") or COMPILE_SECONDS)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compile, send the program (or the error) back, and go
        status = 0
        try:
            os.close(read_end)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            try:
                program = _compile(expression, linktype, snaplen, netmask)
                payload = b"P" + b"".join(_INSN.pack(*insn) for insn in program)
            except InputError as err:
                payload = b"E" + str(err).encode()
            with os.fdopen(write_end, "wb") as out:
                out.write(payload)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    chunks: list[bytes] = []
    saved = _interruptible()
    try:
        deadline = time.monotonic() + limit
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                raise InputError(f"capture filter too complex: libpcap did not compile it within "
                                 f"{limit:g} s ({len(expression)} characters)")  # fmt: skip
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
        os.close(read_end)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # done already, or still optimising: either way, gone
        os.waitpid(pid, 0)
    data = b"".join(chunks)
    if data[:1] == b"E":
        raise InputError(data[1:].decode(errors="replace"))
    if data[:1] != b"P" or (len(data) - 1) % _INSN.size:
        raise InputError(f"cannot compile capture filter ({len(expression)} characters)")
    return [
        _INSN.unpack_from(data, 1 + i * _INSN.size) for i in range((len(data) - 1) // _INSN.size)
    ]


def _interruptible() -> dict:
    """SIGINT and SIGTERM raise KeyboardInterrupt while we wait for the compiler, even in
    a background job whose shell set them to be ignored (as `sniff` heeds them later)."""

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    try:
        return {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: no handlers there
        return {}


def _compile(expression: str, linktype: int, snaplen: int, netmask: int) -> list[Insn]:
    lib = _libpcap()
    handle = lib.pcap_open_dead(_DLT_OF_LINKTYPE.get(linktype, linktype), snaplen)
    if not handle:
        raise InputError(f"libpcap cannot compile filters for link type {linktype}")
    try:
        prog = bpf_program()
        rc = lib.pcap_compile(handle, ctypes.byref(prog), expression.encode(), 1, netmask)
        if rc != 0:
            reason = (lib.pcap_geterr(handle) or b"cannot compile").decode(errors="replace")
            raise InputError(f"bad capture filter {expression!r}: {' '.join(reason.split())}")
        try:
            return [(i.code, i.jt, i.jf, i.k) for i in prog.bf_insns[: prog.bf_len]]
        finally:
            lib.pcap_freecode(ctypes.byref(prog))
    finally:
        lib.pcap_close(handle)


def attach_filter(sock: socket.socket, program: list[Insn]) -> None:
    """SO_ATTACH_FILTER: replace the socket's filter (atomically, in the kernel)."""
    insns = (bpf_insn * len(program))(*program)
    # struct sock_fprog { unsigned short len; struct sock_filter *filter; }; native
    # alignment ("@") puts the padding before the pointer, as the C compiler does.
    fprog = struct.pack("@HP", len(program), ctypes.addressof(insns))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)  # the kernel copies insns


def dump(program: list[Insn]) -> str:
    """The program in `tcpdump -dd` form (for --debug and tests)."""
    return "\n".join(f"{{ 0x{c:x}, {jt}, {jf}, 0x{k:08x} }}," for c, jt, jf, k in program)
