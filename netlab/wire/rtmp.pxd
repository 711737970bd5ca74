# C types for the compiled rtmp.py (netlab/compiled.py): the chunk reader's state as C
# structs and its parse loop over C integers. rtmp.py stays the source; what is
# declared here keeps the signature it has there. Positions, lengths, time stamps and
# ids fit a long long; what may be None stays an object.
cimport cython

cdef class _StreamState:
    cdef public long long timestamp, delta, length, type_id, stream_id
    cdef public bint extended
    cdef public object msg

cdef class _Partial:
    cdef public object fields, body, head, chunks, problem
    cdef public long long length, have
    cdef public bint kept

cdef class ChunkReader:
    cdef public object kind, budget, _head, _state
    cdef public bint strict, keep_chunks
    cdef public long long keep, chunk_size, bytes_in, pos, reserved, _left
    cdef public dict streams
    @cython.locals(out=list, p=Py_ssize_t, fast=bint, streams=dict, chunk_size=cython.longlong,
                   b0=cython.int, csid=cython.longlong, fmt=cython.int, state=_StreamState,
                   lt=cython.longlong, length=cython.longlong, type_id=cython.longlong,
                   h=Py_ssize_t, stream_id=cython.longlong, delta=cython.longlong,
                   timestamp=cython.longlong, at=cython.longlong, stop=Py_ssize_t, kept=bint,
                   msg=_Partial, want=cython.longlong, left=cython.longlong, n=cython.longlong,
                   used=Py_ssize_t)
    cpdef list parse(self, data, Py_ssize_t start=*, end=*)
