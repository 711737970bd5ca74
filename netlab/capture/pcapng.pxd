# C types for the compiled pcapng.py (netlab/compiled.py): the fast path over enhanced
# packet blocks. pcapng.py stays the source; a name declared here keeps the signature it
# has there.
cimport cython

@cython.locals(buf=bytes, pos=Py_ssize_t, buflen=Py_ssize_t, nfast=Py_ssize_t,
               btype=cython.ulonglong, blen=Py_ssize_t, iface=Py_ssize_t,
               ts_hi=cython.ulonglong, ts_lo=cython.ulonglong, caplen=Py_ssize_t,
               wirelen=cython.ulonglong, end=Py_ssize_t, spare=Py_ssize_t, fast=list,
               head=Py_ssize_t, least=Py_ssize_t, most=Py_ssize_t)
cpdef _epbs(rd, list out)
cpdef bint _same_u32(bytes buf, Py_ssize_t a, Py_ssize_t b)
