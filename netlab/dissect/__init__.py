"""The one dissector: `Dissector().dissect(...)` turns frame bytes into a `Packet`."""

from netlab.dissect.engine import Dissector
from netlab.dissect.model import Layer, Packet

__all__ = ["Dissector", "Layer", "Packet"]
