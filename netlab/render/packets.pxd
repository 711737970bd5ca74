# C types for the compiled packets.py (netlab/compiled.py): the one-line view's text.
# packets.py stays the source; a name declared here keeps the signature it has there.
cimport cython

@cython.locals(us=cython.longlong)
cpdef str line_text(long long no, long long rel_ns, src_raw, dst_raw, protocol,
                    long long wirelen, info)

# The "src → dst" texts: a C-level dict, read with PyDict_GetItem on every line (not a
# module attribute and a method call); only packets.py uses it.
cdef dict _PAIR_TEXT
