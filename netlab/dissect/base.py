"""What every decoder calls, below the engine: undecoded payload and the depth limit.

Decoders import this module (and `model`, `registry`) at the top; the engine imports
the decoders. Nothing here imports a decoder or the engine, so the dissector's modules
form no import circle.
"""

from __future__ import annotations

import netlab.dissect.registry as registry
from netlab.dissect.model import Layer, Packet, row

MAX_LAYERS = 32  # tunnels inside tunnels: bounded work per packet


def decode_data(d, pkt: Packet, buf: bytes, off: int, end: int) -> None:
    """Payload no decoder claimed (Wireshark's "data" protocol); nothing when empty."""
    if end > off:
        pkt.layers.append(Layer("data", f"Data ({end - off} bytes)", off, end, None, data_rows))
    return None


def too_deep(pkt: Packet) -> bool:
    """Tunnels inside tunnels: stop (marked malformed) past MAX_LAYERS layers."""
    if len(pkt.layers) < MAX_LAYERS:
        return False
    pkt.mark_malformed(pkt.layers[-1], f"more than {MAX_LAYERS} nested layers")
    return True


def data_rows(layer: Layer, buf: bytes):
    data = buf[layer.off : layer.end]
    return [
        row("data.data", bytes(data), f"Data: {data[:32].hex()}{'…' if len(data) > 32 else ''}",
            layer.off, len(data)),
        row("data.len", len(data), f"[Length: {len(data)}]"),
    ]  # fmt: skip


# --- fast writers (model.JSON_WRITERS): undecoded payload as text -----------------------
# Payload behind ICMP echoes, unknown ports, fragments …: a fifth of all layers. The
# hex of the bytes is the real cost either way; the writers only skip the row tuples.
def _data_json(layer: Layer, buf: bytes) -> str:
    data = buf[layer.off : layer.end]
    return f'"data.data":"{data.hex()}","data.len":{len(data)}'


def _data_tree(layer: Layer, buf: bytes) -> str:
    data = buf[layer.off : layer.end]
    n = len(data)
    more = "…" if n > 32 else ""
    return f"{layer.heading()}\n    Data: {data[:32].hex()}{more}\n    [Length: {n}]"


registry.register("data", writers={data_rows: (_data_json, _data_tree)})
