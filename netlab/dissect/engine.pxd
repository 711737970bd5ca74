# C types for the compiled engine.py (netlab/compiled.py): the one-line view's first
# look at a frame. engine.py stays the source; what is declared here keeps its signature
# there.
cimport cython

@cython.locals(ethertype=cython.int, total=Py_ssize_t, frag=Py_ssize_t, end=Py_ssize_t,
               proto=cython.int, hops=cython.int, off=Py_ssize_t)
cpdef tuple frame_columns(d, no, bytes data, long long linktype, ts_ns=*)
