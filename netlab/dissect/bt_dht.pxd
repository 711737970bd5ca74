# C types for the compiled bt_dht.py (netlab/compiled.py): the one-line view's walk over
# a KRPC message's bencode. bt_dht.py stays the source; what is declared here keeps its
# signature there. -2 is never a position: it says an exception (IndexError) is raised.
cimport cython

@cython.locals(c=cython.int, start=Py_ssize_t, end=Py_ssize_t, size=Py_ssize_t,
               colon=Py_ssize_t)
cpdef Py_ssize_t _quick_info(bytes data, Py_ssize_t pos, Py_ssize_t depth, list parts) except? -2
@cython.locals(end=Py_ssize_t, limit=Py_ssize_t, p=Py_ssize_t, start=Py_ssize_t,
               size=Py_ssize_t)
cpdef Py_ssize_t _quick_scalar(bytes data, Py_ssize_t pos) except? -2
@cython.locals(starts=list, p=Py_ssize_t, end=Py_ssize_t, peers=Py_ssize_t, i=Py_ssize_t,
               start=Py_ssize_t, stop=Py_ssize_t)
cpdef Py_ssize_t _quick_list(bytes data, Py_ssize_t pos, Py_ssize_t depth, bint error,
                             list parts) except? -2
