# C types for the compiled amf0.py (netlab/compiled.py): the reader over a message's
# values. amf0.py stays the source; what is declared here keeps its signature there.
cimport cython
from netlab.wire.cursor cimport Cursor

cdef class _Reader(Cursor):
    cdef public Py_ssize_t count
    cpdef str utf8(self, Py_ssize_t n)

@cython.locals(r=_Reader, items=list)
cpdef tuple decode_items(data, Py_ssize_t start=*, end=*)
@cython.locals(start=Py_ssize_t, marker=cython.longlong)
cpdef _item(_Reader r, Py_ssize_t depth)
@cython.locals(members=list, at=Py_ssize_t)
cpdef tuple _properties(_Reader r, obj, Py_ssize_t depth)
cpdef _value(long long marker, Py_ssize_t start, Py_ssize_t end, value)
