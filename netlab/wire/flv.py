"""FLV tags and what RTMP's audio/video messages carry: H.264 (AVC) and AAC.

An RTMP video message is an FLV video tag body:

    frame type (4 bits: 1 key frame, 2 inter frame) | codec id (4 bits: 7 = AVC)
    AVCPacketType (0 sequence header, 1 NAL units, 2 end of sequence)
    composition time offset (24 bits, signed)
    then: an AVCDecoderConfigurationRecord (profile, level, the SPS and PPS), or
          NAL units, each prefixed by its length (lengthSizeMinusOne + 1 bytes)

A NAL unit's first byte holds its type (the low 5 bits): 1 non-IDR slice, 5 IDR
slice, 6 SEI, 7 SPS, 8 PPS, 9 access unit delimiter. The SPS gives the profile,
the level and the picture size (read with Exp-Golomb codes, after removing the
emulation-prevention bytes). Audio: sound format 10 = AAC, whose sequence header
is an AudioSpecificConfig (object type, sampling frequency, channels).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

NAL_TYPES = {
    1: "non-IDR slice",
    2: "slice A",
    3: "slice B",
    4: "slice C",
    5: "IDR slice",
    6: "SEI",
    7: "SPS",
    8: "PPS",
    9: "AUD",
    10: "end of sequence",
    11: "end of stream",
    12: "filler",
}
FRAME_TYPES = {
    1: "key frame",
    2: "inter frame",
    3: "disposable inter frame",
    4: "generated key frame",
    5: "video info/command frame",
}
VIDEO_CODECS = {
    2: "Sorenson H.263",
    3: "Screen video",
    4: "On2 VP6",
    5: "On2 VP6 alpha",
    6: "Screen video 2",
    7: "AVC",
    12: "HEVC",
}
SOUND_FORMATS = {0: "PCM", 1: "ADPCM", 2: "MP3", 3: "PCM LE", 10: "AAC", 11: "Speex"}
AAC_RATES = [
    96000,
    88200,
    64000,
    48000,
    44100,
    32000,
    24000,
    22050,
    16000,
    12000,
    11025,
    8000,
    7350,
]
PROFILES = {
    66: "Baseline",
    77: "Main",
    88: "Extended",
    100: "High",
    110: "High 10",
    122: "High 4:2:2",
    244: "High 4:4:4",
}
MAX_NALUS = 10_000


class FlvError(ValueError):
    """A tag body that is not what its header says (one line)."""


@dataclass(frozen=True)
class Sps:
    profile_idc: int
    level_idc: int
    width: int
    height: int

    @property
    def profile(self) -> str:
        return PROFILES.get(self.profile_idc, str(self.profile_idc))

    @property
    def level(self) -> str:
        return f"{self.level_idc // 10}.{self.level_idc % 10}"


@dataclass(frozen=True)
class AvcConfig:
    profile_idc: int
    level_idc: int
    length_size: int
    sps: list[bytes]
    pps: list[bytes]
    parsed: Sps | None


@dataclass
class VideoTag:
    frame_type: int
    codec_id: int
    packet_type: int | None = None  # AVC: 0 sequence header, 1 NALUs, 2 end of sequence
    composition_time: int = 0
    config: AvcConfig | None = None
    nal_types: list[int] = field(default_factory=list)
    nal_sizes: list[int] = field(default_factory=list)

    @property
    def keyframe(self) -> bool:
        return self.frame_type == 1

    @property
    def codec(self) -> str:
        return VIDEO_CODECS.get(self.codec_id, f"codec {self.codec_id}")


@dataclass(frozen=True)
class AudioTag:
    sound_format: int
    rate_code: int
    sample_16bit: bool
    stereo: bool
    packet_type: int | None = None  # AAC: 0 sequence header, 1 raw
    object_type: int | None = None
    sample_rate: int | None = None
    channels: int | None = None

    @property
    def codec(self) -> str:
        return SOUND_FORMATS.get(self.sound_format, f"format {self.sound_format}")


# --- video ----------------------------------------------------------------------------------------
def parse_video(payload: bytes, length_size: int = 4) -> VideoTag:
    if not payload:
        raise FlvError("empty video message")
    tag = VideoTag(payload[0] >> 4, payload[0] & 0x0F)
    if tag.codec_id != 7:
        return tag
    if len(payload) < 5:
        raise FlvError("AVC video message shorter than 5 bytes")
    tag.packet_type = payload[1]
    tag.composition_time = int.from_bytes(payload[2:5], "big", signed=True)
    body = payload[5:]
    if tag.packet_type == 0:
        tag.config = parse_avc_config(body)
        tag.nal_types = [7] * len(tag.config.sps) + [8] * len(tag.config.pps)
        tag.nal_sizes = [len(s) for s in tag.config.sps + tag.config.pps]
    elif tag.packet_type == 1:
        for nal in split_nalus(body, length_size):
            tag.nal_types.append(nal[0] & 0x1F)
            tag.nal_sizes.append(len(nal))
    return tag


def split_nalus(body: bytes, length_size: int = 4) -> list[bytes]:
    """Length-prefixed NAL units (AVCC), bounded by the body."""
    if length_size not in (1, 2, 4):
        raise FlvError(f"NAL unit length size {length_size}")
    out, pos = [], 0
    while pos < len(body):
        if pos + length_size > len(body) or len(out) >= MAX_NALUS:
            raise FlvError(f"NAL unit length cut short at byte {pos}")
        n = int.from_bytes(body[pos : pos + length_size], "big")
        pos += length_size
        if n == 0 or pos + n > len(body):
            raise FlvError(f"NAL unit of {n} bytes past the message end")
        out.append(body[pos : pos + n])
        pos += n
    return out


def nalu_types(body: bytes, start: int, length_size: int = 4) -> list[tuple[int, int]]:
    """split_nalus(body[start:]) as (nal_unit_type, size) pairs, read in place (no copy
    of a frame's bytes); the same bounds and errors."""
    if length_size not in (1, 2, 4):
        raise FlvError(f"NAL unit length size {length_size}")
    out: list[tuple[int, int]] = []
    pos, end = start, len(body)
    while pos < end:
        if pos + length_size > end or len(out) >= MAX_NALUS:
            raise FlvError(f"NAL unit length cut short at byte {pos - start}")
        n = int.from_bytes(body[pos : pos + length_size], "big")
        pos += length_size
        if n == 0 or pos + n > end:
            raise FlvError(f"NAL unit of {n} bytes past the message end")
        out.append((body[pos] & 0x1F, n))
        pos += n
    return out


def parse_avc_config(body: bytes) -> AvcConfig:
    """AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.2.4.1)."""
    profile, level, length_size, sps, pps = avc_parameter_sets(body)
    parsed = None
    if sps:
        try:
            parsed = parse_sps(sps[0])
        except (FlvError, IndexError):
            parsed = None
    return AvcConfig(profile, level, length_size, sps, pps, parsed)


def avc_parameter_sets(body: bytes) -> tuple[int, int, int, list[bytes], list[bytes]]:
    """The record's framing without decoding its SPS (the NAL unit length size is all
    a one-line view needs): (profile_idc, level_idc, length_size, sps, pps); FlvError
    where parse_avc_config fails."""
    if len(body) < 7 or body[0] != 1:
        raise FlvError("AVCDecoderConfigurationRecord: too short or not version 1")
    profile, level, length_size = body[1], body[3], (body[4] & 0x03) + 1
    pos = 5
    sets: list[list[bytes]] = []
    for mask in (0x1F, 0xFF):
        if pos >= len(body):
            raise FlvError("AVCDecoderConfigurationRecord cut short")
        count = body[pos] & mask
        pos += 1
        items = []
        for _ in range(count):
            if pos + 2 > len(body):
                raise FlvError("AVCDecoderConfigurationRecord cut short")
            n = struct.unpack(">H", body[pos : pos + 2])[0]
            pos += 2
            if pos + n > len(body):
                raise FlvError("parameter set past the end of the record")
            items.append(body[pos : pos + n])
            pos += n
        sets.append(items)
    return profile, level, length_size, sets[0], sets[1]


# --- the SPS --------------------------------------------------------------------------------------
def unescape(nal: bytes) -> bytes:
    """Remove emulation prevention bytes: 00 00 03 → 00 00."""
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise FlvError("SPS cut short")
            value = value << 1 | (self.data[byte] >> (7 - (self.pos & 7))) & 1
            self.pos += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise FlvError("Exp-Golomb code longer than 32 bits")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def _scaling_list(bits: _Bits, size: int) -> None:
    last = nxt = 8
    for _ in range(size):
        if nxt:
            nxt = (last + bits.se() + 256) % 256
        last = nxt or last


def parse_sps(nal: bytes) -> Sps:
    """profile, level and picture size from a sequence parameter set (H.264 §7.3.2.1)."""
    bits = _Bits(unescape(nal)[1:])
    profile, _constraints, level = bits.u(8), bits.u(8), bits.u(8)
    bits.ue()  # seq_parameter_set_id
    chroma = 1
    if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        chroma = bits.ue()
        if chroma == 3:
            bits.u(1)  # separate_colour_plane_flag
        bits.ue()  # bit_depth_luma_minus8
        bits.ue()  # bit_depth_chroma_minus8
        bits.u(1)  # qpprime_y_zero_transform_bypass_flag
        if bits.u(1):  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma != 3 else 12):
                if bits.u(1):
                    _scaling_list(bits, 16 if i < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    elif poc_type == 1:
        bits.u(1)
        bits.se()
        bits.se()
        for _ in range(min(bits.ue(), 255)):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.u(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs, height_units = bits.ue() + 1, bits.ue() + 1
    frame_mbs_only = bits.u(1)
    if not frame_mbs_only:
        bits.u(1)
    bits.u(1)  # direct_8x8_inference_flag
    crop = [0, 0, 0, 0]
    if bits.u(1):
        crop = [bits.ue() for _ in range(4)]
    sub_w, sub_h = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (1, 1)}.get(chroma, (2, 2))
    crop_x, crop_y = sub_w, sub_h * (2 - frame_mbs_only)
    width = width_mbs * 16 - crop_x * (crop[0] + crop[1])
    height = (2 - frame_mbs_only) * height_units * 16 - crop_y * (crop[2] + crop[3])
    return Sps(profile, level, width, height)


# --- audio ----------------------------------------------------------------------------------------
def parse_audio(payload: bytes) -> AudioTag:
    if not payload:
        raise FlvError("empty audio message")
    b = payload[0]
    fmt, rate, size16, stereo = b >> 4, (b >> 2) & 3, bool(b & 2), bool(b & 1)
    if fmt != 10 or len(payload) < 2:
        return AudioTag(fmt, rate, size16, stereo)
    if payload[1] == 0 and len(payload) >= 4:
        asc = int.from_bytes(payload[2:4], "big")
        obj, freq, chans = asc >> 11, (asc >> 7) & 0x0F, (asc >> 3) & 0x0F
        sample_rate = AAC_RATES[freq] if freq < len(AAC_RATES) else None
        return AudioTag(fmt, rate, size16, stereo, 0, obj, sample_rate, chans)
    return AudioTag(fmt, rate, size16, stereo, payload[1])


# --- FLV files (for publishing) -------------------------------------------------------------------
@dataclass(frozen=True)
class FlvTag:
    type_id: int  # 8 audio, 9 video, 18 script data
    timestamp: int
    body: bytes


def read_flv(data: bytes, max_tags: int = 1_000_000) -> list[FlvTag]:
    """The tags of an FLV file (header, then PreviousTagSize + tag, …)."""
    if len(data) < 13 or data[:3] != b"FLV":
        raise FlvError("not an FLV file (no 'FLV' signature)")
    pos = struct.unpack(">I", data[5:9])[0] + 4
    tags = []
    while pos + 11 <= len(data):
        if len(tags) >= max_tags:
            raise FlvError(f"more than {max_tags} tags")
        type_id = data[pos] & 0x1F
        size = int.from_bytes(data[pos + 1 : pos + 4], "big")
        ts = int.from_bytes(data[pos + 4 : pos + 7], "big") | data[pos + 7] << 24
        body = data[pos + 11 : pos + 11 + size]
        if len(body) < size:
            raise FlvError(f"tag at byte {pos} cut short")
        tags.append(FlvTag(type_id, ts, body))
        pos += 11 + size + 4
    return tags
