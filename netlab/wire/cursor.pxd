# C types for the compiled cursor.py (netlab/compiled.py): the read position as C
# integers and the reads as C calls (AMF0 and TLS parse field by field through it).
# cursor.py stays the source; what is declared here keeps the signature it has there.
cimport cython

cdef class Cursor:
    cdef public object data
    cdef public Py_ssize_t pos, end
    cpdef take(self, Py_ssize_t n)
    cpdef Py_ssize_t _need(self, Py_ssize_t n) except -1
    @cython.locals(pos=Py_ssize_t)
    cpdef long long u8(self) except? -1
    @cython.locals(pos=Py_ssize_t)
    cpdef long long u16(self) except? -1
    @cython.locals(pos=Py_ssize_t)
    cpdef long long u24(self) except? -1
    @cython.locals(pos=Py_ssize_t)
    cpdef long long u32(self) except? -1
