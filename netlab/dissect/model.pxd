# C types for the compiled model.py (netlab/compiled.py): a Layer's and a Packet's
# attributes as C struct members (their __slots__), so that making them, which every
# decoded packet does several times, stores pointers instead of setting attributes.
# model.py stays the source; its __slots__ and these members name the same attributes.

cdef class Layer:
    cdef public object data, end, extra, fields_fn, hdr, malformed, off, proto, title

cdef class Packet:
    cdef public object buf, caplen, comment, dst_raw, fence, fragmented, info, interface
    cdef public object layers, linktype, malformed, no, protocol, quoted, src_raw, ts_ns
    cdef public object wirelen
