# C types for the compiled ip.py (netlab/compiled.py): the -V writer's numbers as C
# integers (Cython's integer text, hex included, not format()), its helpers C calls and
# its caches C-level dicts. ip.py stays the source; what is declared here keeps the
# signature it has there.
cimport cython

cdef dict _TREE_TOS, _TREE_FRAG_TTL, _TREE_ADDRS

@cython.locals(tos=cython.longlong, total=cython.longlong, ident=cython.longlong,
               frag=cython.longlong, ttl=cython.longlong, proto=cython.longlong,
               csum=cython.longlong)
cpdef _tree(layer, buf)
cpdef _plain(layer, buf)
cpdef bint _checksum_good(buf, Py_ssize_t o) except -1
