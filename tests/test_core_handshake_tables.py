"""The RTMP and TLS client cores as state tables (`core.base.StateTable`): the path each
handshake takes (`machine.history`), read the same way by tests and a future --explain,
and out-of-order messages ending the run with one line instead of being half-handled.

Sans-I/O: bytes in, actions out, fake time. The peers are real where one runs in the
process (OpenSSL through Python's ssl module, over memory BIOs) or on loopback
(nginx-rtmp); the out-of-order messages no real server sends are crafted here.
"""

from __future__ import annotations

import ssl
import struct

import pytest

from netlab.core import rtmp as rtmp_core
from netlab.core import tls_hello
from netlab.core.base import Close, Connected, StateTable, Write
from netlab.core.rtmp import RtmpClient, RtmpOptions, parse_rtmp_url
from netlab.core.tls_hello import TLS_CLIENT, HelloOptions, TlsHello
from netlab.wire import amf0, rtmp
from tests.conftest import require_tool

MS = 1_000_000
UP = Connected(("127.0.0.1", 40000), ("127.0.0.1", 1935))


def states(machine: StateTable) -> list[str]:
    return [machine.history[0].state] + [t.next_state for t in machine.history]


def written(actions: list) -> bytes:
    return b"".join(a.data for a in actions if isinstance(a, Write))


# --- the tables themselves ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("table", "start", "ends"),
    [
        (rtmp_core.RTMP_HANDSHAKE_ONLY, "uninitialized", {"closed"}),
        (rtmp_core.RTMP_PLAY, "uninitialized", {"closed"}),
        (rtmp_core.RTMP_PUBLISH, "uninitialized", {"closed"}),
        (TLS_CLIENT, "START", {"CONNECTED", "CLOSED"}),
    ],
)
def test_every_state_is_reachable_and_only_the_ends_are_dead_ends(table, start, ends):
    seen, todo = {start}, [start]
    while todo:
        here = todo.pop()
        for (state, _event), (_action, after) in table.items():
            if state == here and after not in seen:
                seen.add(after)
                todo.append(after)
    named = {s for s, _e in table} | {after for _a, after in table.values()}
    assert seen == named
    assert {s for s in named if not any(k[0] == s for k in table)} == ends


def test_every_rtmp_action_is_a_method_of_the_core():
    for table in (rtmp_core.RTMP_PLAY, rtmp_core.RTMP_PUBLISH, rtmp_core.RTMP_HANDSHAKE_ONLY):
        for action, _after in table.values():
            assert action is None or callable(getattr(RtmpClient, rtmp_core._ACTIONS[action]))


# --- RTMP: a server made of bytes -----------------------------------------------------------------
class RtmpServerBytes:
    """What an RTMP server sends, message by message (chunk size 128, as the spec starts)."""

    def __init__(self) -> None:
        self.writer = rtmp.ChunkWriter()

    def handshake(self, c1: bytes) -> bytes:
        s1 = rtmp.HandshakePacket(1000, 0, bytes(range(256)) * 5 + bytes(248))
        return bytes([rtmp.VERSION]) + s1.pack() + c1  # S2 echoes C1

    def command(self, *values, stream_id: int = 0) -> bytes:
        payload = amf0.encode_values(*values)
        return self.writer.write(3, 0, rtmp.COMMAND_AMF0, stream_id, payload)[0]

    def connect_result(self) -> bytes:
        info = {"level": "status", "code": "NetConnection.Connect.Success"}
        return self.command("_result", 1.0, {"fmsVer": "FMS/3,0,1,123"}, info)

    def create_stream_result(self, sid: float = 1.0) -> bytes:
        return self.command("_result", 2.0, None, sid)

    def on_status(self, code: str) -> bytes:
        return self.command("onStatus", 0.0, None, {"level": "status", "code": code}, stream_id=1)


def rtmp_client(**options) -> tuple[RtmpClient, RtmpServerBytes, bytes]:
    """A client past TCP's connect (C0+C1 out), and C1's bytes to echo."""
    core = RtmpClient(parse_rtmp_url("rtmp://127.0.0.1/live/test"), "127.0.0.1",
                      RtmpOptions(**options), random=lambda n: bytes(n))  # fmt: skip
    core.start(0)
    c0c1 = written(core.on_connected("rtmp", UP, 1 * MS))
    assert c0c1[0] == rtmp.VERSION and len(c0c1) == 1 + rtmp.HANDSHAKE_SIZE
    return core, RtmpServerBytes(), c0c1[1:]


def commands_out(core: RtmpClient) -> list[str]:
    return [c.name for c in core.result.commands if c.direction == "out"]


def test_rtmp_play_path_byte_by_byte_then_stop():
    core, server, c1 = rtmp_client(seconds=0.5)
    hs = server.handshake(c1)
    for i in range(len(hs)):  # S0, S1 and S2 each complete on one byte
        core.on_data("rtmp", hs[i : i + 1], 2 * MS + i)
    core.on_data("rtmp", server.connect_result(), 10 * MS)
    core.on_data("rtmp", server.create_stream_result(), 11 * MS)
    core.on_data("rtmp", server.on_status("NetStream.Play.Start"), 12 * MS)
    assert core.state == "playing" and not core.done()
    out = core.on_timer(core.deadline())  # --seconds 0.5 after Play.Start
    assert isinstance(out[-1], Close) and core.result.completed and core.result.error is None
    assert states(core.machine) == [
        "uninitialized", "version_sent", "version_received", "s1_received", "connect_sent",
        "create_stream_sent", "play_sent", "playing", "closed",
    ]  # fmt: skip
    size = rtmp.HANDSHAKE_SIZE
    times = {t.event: t.time for t in core.machine.history}
    assert (
        times["S0"] == 2 * MS and times["S1"] == 2 * MS + size and times["S2"] == 2 * MS + 2 * size
    )
    assert [(t.event, t.action) for t in core.machine.history][-3:] == [
        ("_result (createStream)", "send play"),
        ("onStatus NetStream.Play.Start", "wait for video"),
        ("stop", "send deleteStream, close"),
    ]
    assert commands_out(core) == ["connect", "createStream", "play", "deleteStream"]
    assert core.result.s2_echoes_c1 and core.result.c2.random == core.result.s1.random


def test_rtmp_publish_and_handshake_only_paths():
    core, server, c1 = rtmp_client(publish=[])
    core.on_data("rtmp", server.handshake(c1) + server.connect_result(), 2 * MS)
    core.on_data("rtmp", server.create_stream_result(5.0), 3 * MS)
    core.on_data("rtmp", server.on_status("NetStream.Publish.Start"), 4 * MS)
    core.on_timer(core.deadline())
    assert states(core.machine)[-4:] == [
        "create_stream_sent",
        "publish_sent",
        "publishing",
        "closed",
    ]
    assert core.result.stream_id == 5 and core.result.completed

    core, server, c1 = rtmp_client(handshake_only=True)
    out = core.on_data("rtmp", server.handshake(c1), 2 * MS)
    assert len(written(out)) == rtmp.HANDSHAKE_SIZE and isinstance(out[-1], Close)  # C2, close
    assert states(core.machine)[-2:] == ["s1_received", "closed"] and core.result.completed


@pytest.mark.parametrize(
    ("after", "bad", "event", "state"),
    [
        # createStream's answer while connect's is awaited (no createStream was sent)
        ("handshake", "create_stream_result", "_result (createStream)", "connect_sent"),
        # connect answered twice: one createStream, not two
        ("connect", "connect_result", "_result (connect)", "create_stream_sent"),
        # playing starts before there is a stream to play on
        ("connect", "play_start", "onStatus NetStream.Play.Start", "create_stream_sent"),
        # a publisher's answer to a player
        ("create", "publish_start", "onStatus NetStream.Publish.Start", "play_sent"),
    ],
)
def test_rtmp_out_of_order_answers_end_the_run_with_one_line(after, bad, event, state):
    core, server, c1 = rtmp_client()
    steps = [server.handshake(c1), server.connect_result(), server.create_stream_result()]
    for data in steps[: {"handshake": 1, "connect": 2, "create": 3}[after]]:
        core.on_data("rtmp", data, 2 * MS)
    sent = list(commands_out(core))
    assert core.state == state
    data = {
        "create_stream_result": server.create_stream_result,
        "connect_result": server.connect_result,
        "play_start": lambda: server.on_status("NetStream.Play.Start"),
        "publish_start": lambda: server.on_status("NetStream.Publish.Start"),
    }[bad]()
    out = core.on_data("rtmp", data, 9 * MS)
    assert core.done() and out == [Close("rtmp")]
    assert core.result.error == (
        f"unexpected RTMP from the server: {event} is not expected in state {state}"
    )
    assert commands_out(core) == sent and core.state == state  # nothing more was sent


def test_rtmp_publish_start_before_the_stream_id_is_refused_not_a_crash():
    """Before the table, Publish.Start in this state published the FLV tags on stream id
    None (struct.error out of the chunk writer: a traceback)."""
    from netlab.wire import flv

    tag = flv.FlvTag(18, 0, amf0.encode_values("onMetaData", {"duration": 0.0}))
    core, server, c1 = rtmp_client(publish=[tag])
    core.on_data("rtmp", server.handshake(c1) + server.connect_result(), 2 * MS)
    core.on_data("rtmp", server.on_status("NetStream.Publish.Start"), 3 * MS)
    assert core.result.error == (
        "unexpected RTMP from the server: onStatus NetStream.Publish.Start is not expected "
        "in state create_stream_sent"
    )
    assert core.result.published == 0


def test_rtmp_play_start_said_again_starts_nothing_again():
    """A second Play.Start (nginx-rtmp's play_restart) is a step to the same state: the
    --seconds stop stays where the first put it (before, each one moved it on, so a
    server repeating it kept the run going without end), and a flood of them does not
    grow the history."""
    core, server, c1 = rtmp_client(seconds=1.0)
    core.on_data("rtmp", server.handshake(c1) + server.connect_result(), 2 * MS)
    core.on_data("rtmp", server.create_stream_result(), 3 * MS)
    core.on_data("rtmp", server.on_status("NetStream.Play.Start"), 4 * MS)
    stop, steps = core.deadline(), len(core.machine.history)
    again = server.on_status("NetStream.Play.Start")
    core.on_data("rtmp", b"".join(again for _ in range(1000)), 900 * MS)
    assert core.state == "playing" and core.result.started_at == 4 * MS
    assert core.deadline() == stop == 4 * MS + 1000 * MS
    assert len(core.machine.history) == steps and core.machine.history[-1].next_state == "playing"


def test_rtmp_bytes_before_our_c0_are_no_s0():
    core = RtmpClient(parse_rtmp_url("rtmp://127.0.0.1/live/x"), "127.0.0.1", RtmpOptions())
    core.start(0)
    assert core.on_data("rtmp", b"\x03", 1) == [Close("rtmp")]
    assert core.result.error == (
        "unexpected RTMP from the server: S0 is not expected in state uninitialized"
    )


def test_rtmp_timeouts_name_what_the_state_waits_for():
    core, server, c1 = rtmp_client(timeout=2.0)
    core.on_data("rtmp", server.handshake(c1), 2 * MS)
    core.on_timer(core.deadline())
    assert core.result.error == "timeout: the answer to connect did not come in 2 s"


# --- RTMP against nginx-rtmp ----------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["play", "publish", "handshake"])
def test_rtmp_paths_against_nginx_rtmp(tmp_path, mode):
    require_tool("nginx")
    from netlab.net.sockets import SocketRunner
    from tests.rtmp_servers import NginxRtmp

    options = {
        "play": RtmpOptions(seconds=0.3),
        "publish": RtmpOptions(publish=[], seconds=0.3),
        "handshake": RtmpOptions(handshake_only=True),
    }[mode]
    with NginxRtmp(tmp_path) as srv:
        core = RtmpClient(parse_rtmp_url(srv.url("t")), "127.0.0.1", options)
        SocketRunner().run(core, lambda e: None)
    assert core.result.error is None and core.result.completed, core.result.error
    table = rtmp_core.rtmp_table(options)
    path = ["uninitialized"]
    while path[-1] != "closed":  # the table's one way through, stop included
        path.append(next(a for (s, e), (_x, a) in table.items() if s == path[-1] and a != s))
    assert states(core.machine) == path


# --- TLS: OpenSSL as the server, in the process ---------------------------------------------------
@pytest.fixture(scope="module")
def server_cert(tmp_path_factory):
    from tests.tls_servers import make_cert

    return make_cert(tmp_path_factory.mktemp("cert"), rsa_key=False)


def tls_server(cert, *, version: str = "1.3", groups: str | None = None, auth=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*map(str, cert))
    v = {"1.3": ssl.TLSVersion.TLSv1_3, "1.2": ssl.TLSVersion.TLSv1_2}[version]
    ctx.minimum_version = ctx.maximum_version = v
    if groups:
        ctx.set_ecdh_curve(groups)
    if auth is not None:
        ctx.verify_mode = auth
        ctx.load_verify_locations(str(cert[0]))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    return ctx.wrap_bio(incoming, outgoing, server_side=True), incoming, outgoing


def handshake(core: TlsHello, server) -> None:
    """Bytes both ways until the core is done (bounded: a handshake is a few flights)."""
    sslobj, incoming, outgoing = server
    core.start(0)
    out = core.on_connected("tls", Connected(("127.0.0.1", 1), ("127.0.0.1", 2)), 1)
    for step in range(2, 12):
        if core.done():
            return
        incoming.write(written(out))
        try:
            sslobj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError:
            pass  # it refused us: its alert is in `outgoing`
        data = outgoing.read()
        out = core.on_data("tls", data, step * MS) if data else core.on_data("tls", b"", step * MS)
    raise AssertionError("the handshake did not end")


def tls_path(core: TlsHello) -> list[str]:
    return states(core.machine)


@pytest.mark.parametrize(
    ("version", "groups", "path"),
    [
        ("1.3", None, ["START", "WAIT_SH", "WAIT_EE", "WAIT_CERT_CR", "WAIT_CV", "WAIT_FINISHED",
                       "CONNECTED"]),
        ("1.3", "prime256v1", ["START", "WAIT_SH", "WAIT_SH2", "WAIT_EE", "WAIT_CERT_CR",
                               "WAIT_CV", "WAIT_FINISHED", "CONNECTED"]),
        ("1.2", None, ["START", "WAIT_SH", "WAIT_CERT12", "WAIT_SKE12", "WAIT_CR12",
                       "WAIT_CCS12", "WAIT_FINISHED12", "CONNECTED"]),
    ],
)  # fmt: skip
def test_tls_paths_against_openssl(server_cert, version, groups, path):
    core = TlsHello("127.0.0.1", 443, HelloOptions(server_name="localhost"))
    handshake(core, tls_server(server_cert, version=version, groups=groups))
    assert core.result.completed and core.result.error is None, core.result.error
    assert tls_path(core) == path
    # The history's actions are what the timeline shows us sending, at the same times.
    ours = {m.time for m in core.result.messages if m.direction == "client"}
    assert {t.time for t in core.machine.history if t.action and "send" in t.action} <= ours


@pytest.mark.parametrize(
    ("auth", "end", "error"),
    [
        (ssl.CERT_OPTIONAL, "CONNECTED", None),
        (ssl.CERT_REQUIRED, "WAIT_VERDICT", "the server sent a fatal alert: certificate_required"),
    ],
)
def test_tls13_client_certificate_path_waits_for_the_verdict(server_cert, auth, end, error):
    core = TlsHello("127.0.0.1", 443, HelloOptions(server_name="localhost"))
    handshake(core, tls_server(server_cert, auth=auth))
    assert core.result.error == error
    assert tls_path(core)[2:] == [
        "WAIT_EE", "WAIT_CERT_CR", "WAIT_CERT", "WAIT_CV_AUTH", "WAIT_FINISHED_AUTH",
        "WAIT_VERDICT", *(["CONNECTED"] if end == "CONNECTED" else []),
    ]  # fmt: skip


# --- TLS: messages out of order, crafted --------------------------------------------------------
def _record(ctype: int, payload: bytes) -> bytes:
    return struct.pack("!BHH", ctype, 0x0303, len(payload)) + payload


def _handshake(mtype: int, body: bytes) -> bytes:
    return bytes([mtype]) + len(body).to_bytes(3, "big") + body


def _ext(code: int, data: bytes) -> bytes:
    return struct.pack("!HH", code, len(data)) + data


def server_hello_12() -> bytes:
    """TLS 1.2, ECDHE-RSA-AES128-GCM-SHA256 (which the core offers), no extensions."""
    return _handshake(
        2, struct.pack("!H", 0x0303) + bytes(32) + b"\x00" + struct.pack("!HB", 0xC02F, 0)
    )


def hello_retry(group: int) -> bytes:
    exts = _ext(43, b"\x03\x04") + _ext(51, struct.pack("!H", group))
    body = (
        struct.pack("!H", 0x0303)
        + tls_hello.tls.HRR_RANDOM
        + b"\x00"
        + struct.pack("!HB", 0x1301, 0)
    )
    return _handshake(2, body + struct.pack("!H", len(exts)) + exts)


def tls_core() -> TlsHello:
    core = TlsHello("127.0.0.1", 443, HelloOptions(server_name="x"))
    core.start(0)
    core.on_connected("tls", Connected(("127.0.0.1", 1), ("127.0.0.1", 2)), 1)
    return core


@pytest.mark.parametrize(
    ("flight", "path", "message"),
    [
        # Before: "TLS from the server does not decrypt or verify: AttributeError …"
        ([_handshake(20, bytes(12))], ["START", "WAIT_SH"],
         "Finished is not expected in state WAIT_SH"),
        # Before: the second ServerHello was taken in, overwriting the first
        ([server_hello_12(), server_hello_12()], ["START", "WAIT_SH", "WAIT_CERT12"],
         "ServerHello (TLS 1.2) is not expected in state WAIT_CERT12"),
        # Before: "a second HelloRetryRequest" (the same refusal, now the table's)
        ([hello_retry(23), hello_retry(24)], ["START", "WAIT_SH", "WAIT_SH2"],
         "HelloRetryRequest is not expected in state WAIT_SH2"),
        # RFC 8446 §4.1.4: after a HelloRetryRequest the ServerHello must be TLS 1.3
        ([hello_retry(23), server_hello_12()], ["START", "WAIT_SH", "WAIT_SH2"],
         "ServerHello (TLS 1.2) is not expected in state WAIT_SH2"),
        # Before: "no ServerKeyExchange for an ECDHE suite" (the certificate is missing first)
        ([server_hello_12(), _handshake(14, b"")], ["START", "WAIT_SH", "WAIT_CERT12"],
         "ServerHelloDone is not expected in state WAIT_CERT12"),
        # A message with no place in a client's handshake at all
        ([_handshake(0, b"")], ["START", "WAIT_SH"],
         "HelloRequest is not expected in state WAIT_SH"),
    ],
)  # fmt: skip
def test_tls_out_of_order_messages_end_the_run_with_one_line(flight, path, message):
    core = tls_core()
    out = core.on_data("tls", _record(22, b"".join(flight)), 2 * MS)
    assert core.done() and out[-1] == Close("tls")
    assert core.result.error == f"unexpected message from the server: {message}"
    assert tls_path(core) == path


def test_tls12_change_cipher_spec_before_server_hello_done_is_refused():
    """Before: the CCS switched the core to decrypting, and the plaintext ServerHelloDone
    after it failed as "does not decrypt or verify: AttributeError …"."""
    core = tls_core()
    core.on_data("tls", _record(22, server_hello_12()) + _record(20, b"\x01"), 2 * MS)
    assert core.result.error == (
        "unexpected message from the server: ChangeCipherSpec is not expected in state WAIT_CERT12"
    )


def test_a_step_that_neither_moves_nor_acts_is_not_recorded():
    machine = StateTable({("a", "x"): (None, "a"), ("a", "y"): ("say so", "a")}, "a")
    for _ in range(3):
        assert machine.fire("x", 1) is None
    assert machine.fire("y", 2) == "say so"
    assert [(t.event, t.next_state) for t in machine.history] == [("y", "a")]
