"""Peer wire (BEP 3/6/10) and UDP tracker (BEP 15) formats: round trips and every bound."""

from __future__ import annotations

import struct

import pytest

from netlab.wire import bencode, peerwire, udp_tracker
from netlab.wire.peerwire import PeerWireError
from netlab.wire.udp_tracker import UdpTrackerError

IH = bytes(range(20))
PID = b"-NL0100-" + b"abcdefghijkl"


# --- handshake ------------------------------------------------------------------------


def test_handshake_round_trip_and_layout():
    raw = peerwire.build_handshake(IH, PID, peerwire.reserved_bytes(dht=True, fast=True))
    assert len(raw) == 68 and raw[0] == 19 and raw[1:20] == b"BitTorrent protocol"
    assert raw[25] == 0x10 and raw[27] == 0x05  # BEP 10 byte 5, DHT|fast byte 7
    hs, used = peerwire.parse_handshake(raw + b"\x00\x00\x00\x00")
    assert used == 68 and hs.info_hash == IH and hs.peer_id == PID
    assert hs.extension_protocol and hs.dht and hs.fast
    names = [n for n, _ in hs.reserved_names()]
    assert names == ["extension_protocol", "dht", "fast"]


def test_handshake_unknown_reserved_bit_named_by_position():
    hs, _ = peerwire.parse_handshake(peerwire.build_handshake(IH, PID, b"\x80" + bytes(7)))
    assert hs.reserved_names() == [("byte0_0x80", "unknown")]
    assert not hs.extension_protocol


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "no data"),
        (bytes([18]) + b"BitTorrent protoco" + bytes(48), "pstrlen 18"),
        (bytes([19]) + b"BitTorrent protocoX" + bytes(48), "protocol string"),
        (bytes([19]) + b"BitTorrent protocol" + bytes(47), "67 of 68"),
    ],
)
def test_handshake_bounds(data, words):
    with pytest.raises(PeerWireError, match=words):
        peerwire.parse_handshake(data)


def test_build_handshake_checks_sizes():
    with pytest.raises(PeerWireError):
        peerwire.build_handshake(IH[:19], PID)
    with pytest.raises(PeerWireError):
        peerwire.build_handshake(IH, PID, bytes(7))


def test_looks_like_handshake_prefixes():
    raw = peerwire.build_handshake(IH, PID)
    assert all(peerwire.looks_like_handshake(raw[:n]) for n in (1, 5, 20, 68))
    assert not peerwire.looks_like_handshake(b"")
    assert not peerwire.looks_like_handshake(b"\x13BitTorrent protocoX")
    assert not peerwire.looks_like_handshake(b"GET / HTTP/1.1\r\n")


# --- messages -------------------------------------------------------------------------


def test_every_message_round_trips_through_the_splitter():
    ext = peerwire.build_extension_handshake(
        {"ut_metadata": 2, "ut_pex": 1}, v="netlab 0.1", p=6881, reqq=250,
        yourip="198.18.0.1", metadata_size=1234,
    )  # fmt: skip
    stream = b"".join(
        [
            peerwire.build_message(None),
            *(peerwire.build_message(i) for i in (0, 1, 2, 3, 14, 15)),
            peerwire.build_have(7),
            peerwire.build_bitfield([True] * 9 + [False]),
            peerwire.build_request(peerwire.REQUEST, 1, 16384, 16384),
            peerwire.build_piece(1, 0, b"xyz"),
            peerwire.build_request(peerwire.CANCEL, 1, 0, 16384),
            peerwire.build_port(6881),
            peerwire.build_message(peerwire.SUGGEST, struct.pack(">I", 3)),
            peerwire.build_request(peerwire.REJECT, 2, 0, 16384),
            peerwire.build_message(peerwire.ALLOWED_FAST, struct.pack(">I", 4)),
            ext,
            peerwire.build_extended(3, b"opaque"),
        ]
    )
    msgs, rest = peerwire.split_messages(stream)
    assert rest == b""
    names = [m.name for m in msgs]
    assert names == [
        "keep-alive", "choke", "unchoke", "interested", "not interested", "have all",
        "have none", "have", "bitfield", "request", "piece", "cancel", "port", "suggest piece",
        "reject request", "allowed fast", "extended", "extended",
    ]  # fmt: skip
    assert sum(m.wire_length for m in msgs) == len(stream)
    have, bf, req, piece = msgs[7:11]
    assert have.index == 7
    assert bf.bitfield == b"\xff\x80" and peerwire.bitfield_count(bf.bitfield, 10) == 9
    assert (req.index, req.begin, req.length) == (1, 16384, 16384)
    assert (piece.index, piece.begin, piece.block) == (1, 0, b"xyz")
    assert msgs[12].port == 6881 and msgs[13].index == 3 and msgs[15].index == 4
    eh = msgs[16].ext_handshake
    assert msgs[16].ext_id == 0 and eh.m == {"ut_metadata": 2, "ut_pex": 1}
    assert (eh.v, eh.p, eh.reqq, eh.yourip, eh.metadata_size) == (
        "netlab 0.1", 6881, 250, "198.18.0.1", 1234,
    )  # fmt: skip
    assert msgs[17].ext_id == 3 and msgs[17].ext_payload == b"opaque"


def test_splitter_keeps_partial_messages_for_later():
    stream = peerwire.build_have(1) + peerwire.build_piece(0, 0, b"a" * 100)
    for cut in range(len(stream)):
        first, rest = peerwire.split_messages(stream[:cut])
        more, left = peerwire.split_messages(rest + stream[cut:])
        assert [m.name for m in first + more] == ["have", "piece"] and left == b""


def test_four_gigabyte_length_is_an_error_not_an_allocation():
    with pytest.raises(PeerWireError, match="4294967295 over the limit"):
        peerwire.split_messages(b"\xff\xff\xff\xff\x07")
    # exactly at the limit is waited for, one more is refused
    msgs, rest = peerwire.split_messages(struct.pack(">I", 100) + b"\x07", max_length=100)
    assert msgs == [] and len(rest) == 5
    with pytest.raises(PeerWireError):
        peerwire.split_messages(struct.pack(">I", 101), max_length=100)


def test_splitter_count_bound():
    stream = peerwire.build_message(None) * 50
    msgs, rest = peerwire.split_messages(stream, max_count=10)
    assert len(msgs) == 10 and len(rest) == 40 * 4


@pytest.mark.parametrize(
    "msg_id, payload, words",
    [
        (peerwire.HAVE, b"\x00\x00\x01", "have: payload of 3 bytes, expected 4"),
        (peerwire.CHOKE, b"x", "choke: payload of 1"),
        (peerwire.REQUEST, bytes(11), "request"),
        (peerwire.CANCEL, bytes(13), "cancel"),
        (peerwire.PORT, bytes(3), "port"),
        (peerwire.PIECE, bytes(7), "under 8"),
        (peerwire.EXTENDED, b"", "no extension id"),
        (peerwire.EXTENDED, b"\x00i1e", "not a bencoded dictionary"),
        (peerwire.EXTENDED, b"\x00d1:m", "extension handshake: bencode"),
    ],
)
def test_message_payload_bounds(msg_id, payload, words):
    with pytest.raises(PeerWireError, match=words):
        peerwire.split_messages(peerwire.build_message(msg_id, payload))


def test_unknown_message_id_is_kept_with_its_payload():
    (m,), _ = peerwire.split_messages(peerwire.build_message(99, b"abc"))
    assert m.name == "unknown (99)" and m.payload == b"abc"


def test_extension_handshake_ignores_ill_typed_fields():
    d = {"m": {"ut_pex": 1, "bad": "x", "big": 999}, "p": 70000, "yourip": b"abc", "v": 5}
    eh = peerwire.parse_extension_handshake(bencode.encode(d))
    assert eh.m == {"ut_pex": 1} and eh.p is None and eh.yourip is None and eh.v is None
    assert peerwire.parse_extension_handshake(bencode.encode({"yourip": bytes(16)})).yourip == "::"


def test_bitfield_count_ignores_spare_bits():
    assert peerwire.bitfield_count(b"\xff\xff", 10) == 10
    assert peerwire.bitfield_count(b"\xff\xff") == 16
    assert peerwire.bitfield_count(b"\xff", 20) == 8  # short bitfield: only what is there


@pytest.mark.parametrize(
    "peer_id, client",
    [
        (b"-LT2080-abcdefghijkl", "libtorrent 2.0.8"),
        (b"-LT1217-abcdefghijkl", "libtorrent 1.2.1.7"),
        (b"-qB4650-abcdefghijkl", "qBittorrent 4.6.5"),
        (b"-TR2940-abcdefghijkl", "Transmission 2.94"),
        (b"-TR4040-abcdefghijkl", "Transmission 4.0.4"),
        (b"-DE13F0-abcdefghijkl", "Deluge 1.3.15"),
        (b"A2-1-37-0-abcdefghij", "aria2 1.37.0"),
        (b"M7-4-3--abcdefghijkl", "BitTorrent (Mainline) 7.4.3"),
        (b"S58B----abcdefghijkl", "Shadow 5.8.11"),
        (b"T03I--abcdefghijklmn", "BitTornado 0.3.18"),
        (b"-ZZ1000-abcdefghijkl", "unknown client 'ZZ' 1.0"),
        (bytes(20), None),
        (b"short", None),
    ],
)
def test_client_from_peer_id(peer_id, client):
    assert peerwire.client_from_peer_id(peer_id) == client


# --- UDP tracker ----------------------------------------------------------------------


def test_connect_round_trip():
    raw = udp_tracker.build_connect_request(0x1234)
    assert raw[:8] == bytes.fromhex("0000041727101980") and len(raw) == 16
    assert udp_tracker.parse_request(raw) == udp_tracker.ConnectRequest(0x1234)
    resp = udp_tracker.build_connect_response(0x1234, 0xDEADBEEFCAFEF00D)
    r = udp_tracker.parse_response(resp)
    assert isinstance(r, udp_tracker.ConnectResponse)
    assert (r.transaction_id, r.connection_id) == (0x1234, 0xDEADBEEFCAFEF00D)
    assert udp_tracker.is_request(raw) and not udp_tracker.is_request(resp)


def test_announce_round_trip_ipv4_and_ipv6():
    req = udp_tracker.AnnounceRequest(
        7, 9, IH, PID, downloaded=1, left=2, uploaded=3, event=udp_tracker.STARTED,
        key=5, num_want=50, port=6881,
    )  # fmt: skip
    raw = udp_tracker.build_announce_request(req)
    assert len(raw) == 98 and udp_tracker.is_request(raw)
    back = udp_tracker.parse_request(raw)
    assert back == req and back.event_name == "started"
    peers4 = [("198.18.0.5", 6881), ("127.0.0.1", 1)]
    r = udp_tracker.parse_response(udp_tracker.build_announce_response(9, 1800, 1, 2, peers4))
    assert (r.interval, r.leechers, r.seeders, r.peers, r.ignored) == (1800, 1, 2, peers4, 0)
    assert not udp_tracker.is_request(udp_tracker.build_announce_response(9, 1, 1, 2, peers4))
    peers6 = [("2001:db8::5", 6881)]
    raw6 = udp_tracker.build_announce_response(9, 1800, 0, 1, peers6)
    assert udp_tracker.parse_response(raw6, family=6).peers == peers6


def test_announce_request_options_kept():
    req = udp_tracker.AnnounceRequest(1, 2, IH, PID, options=b"\x02\x05/path")
    assert udp_tracker.parse_request(udp_tracker.build_announce_request(req)).options == (
        b"\x02\x05/path"
    )


def test_scrape_round_trip():
    raw = udp_tracker.build_scrape_request(7, 3, [IH, bytes(20)])
    assert udp_tracker.is_request(raw)
    assert udp_tracker.parse_request(raw).info_hashes == (IH, bytes(20))
    files = [udp_tracker.ScrapeEntry(1, 2, 3), udp_tracker.ScrapeEntry(4, 5, 6)]
    r = udp_tracker.parse_response(udp_tracker.build_scrape_response(3, files))
    assert r.files == files and r.ignored == 0


def test_error_round_trip_and_message_bound():
    r = udp_tracker.parse_response(udp_tracker.build_error(5, "unregistered torrent"))
    assert isinstance(r, udp_tracker.ErrorResponse) and r.message == "unregistered torrent"
    long = udp_tracker.parse_response(udp_tracker.build_error(5, "x" * 5000))
    assert len(long.message) == 1024


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "under 16"),
        (bytes(16), "protocol id"),
        (struct.pack(">QII", 1, 1, 2) + bytes(81), "under 98"),
        (struct.pack(">QII", 1, 2, 2) + bytes(19), "scrape request"),
        (struct.pack(">QII", 1, 2, 2), "scrape request"),
        (struct.pack(">QII", 1, 2, 2) + bytes(20 * 75), "scrape request"),
        (struct.pack(">QII", 1, 9, 2), "action 9 unknown"),
    ],
)
def test_request_bounds(data, words):
    with pytest.raises(UdpTrackerError, match=words):
        udp_tracker.parse_request(data)


@pytest.mark.parametrize(
    "data, words",
    [
        (bytes(7), "under 8"),
        (struct.pack(">II", 0, 1) + bytes(7), "connect response of 15"),
        (struct.pack(">II", 1, 1) + bytes(11), "announce response of 19"),
        (struct.pack(">II", 7, 1), "action 7 unknown"),
    ],
)
def test_response_bounds(data, words):
    with pytest.raises(UdpTrackerError, match=words):
        udp_tracker.parse_response(data)


def test_partial_and_excess_entries_are_counted_not_trusted():
    raw = udp_tracker.build_announce_response(1, 60, 0, 1, [("10.0.0.1", 1)]) + b"\x01\x02"
    r = udp_tracker.parse_response(raw)
    assert r.peers == [("10.0.0.1", 1)] and r.ignored == 1
    many = udp_tracker.build_announce_response(1, 60, 0, 1, [("10.0.0.1", 1)] * 10_002)
    r = udp_tracker.parse_response(many)
    assert len(r.peers) == udp_tracker.MAX_PEERS and r.ignored == 2
    scrape = udp_tracker.build_scrape_response(1, [udp_tracker.ScrapeEntry(1, 1, 1)] * 80)
    r = udp_tracker.parse_response(scrape + b"\x00")
    assert len(r.files) == udp_tracker.MAX_SCRAPE and r.ignored == 80 - 74 + 1


def test_build_checks_sizes():
    with pytest.raises(UdpTrackerError):
        udp_tracker.build_announce_request(udp_tracker.AnnounceRequest(1, 2, IH[:5], PID))
    with pytest.raises(UdpTrackerError):
        udp_tracker.build_scrape_request(1, 2, [])
    with pytest.raises(UdpTrackerError):
        udp_tracker.build_scrape_request(1, 2, [IH] * 75)
