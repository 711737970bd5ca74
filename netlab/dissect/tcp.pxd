# C types for the compiled tcp.py (netlab/compiled.py): its per-segment state as C
# structs and its per-segment functions as direct C calls. tcp.py stays the source; a
# name declared here must keep the signature it has there. Sequence numbers, windows and
# flags fit a long long; anything that may be None stays an object.
cimport cython

cdef class Direction:
    cdef public object next_seq_ts, last_ack_ts, pending, pending_seq
    cdef public long long base, next_seq, max_acked, last_ack  # UNSET (-1): none yet
    cdef public long long wscale, next_seq_frame, last_win, ack_frame, dup_acks
    cdef public long long sacked, push_bytes
    cdef public bint keep_alive, probe, ordered, valid_bif, push_last
    cdef public list segs

cdef class Stream:
    cdef public object syn_ts, app
    cdef public tuple dirs
    cdef public long long index, first_rtt
    cdef public bint closed

cdef class _Columns:
    cdef public object protocol, info, layers, malformed

cdef class TcpTracker:
    cdef public dict streams, expected
    cdef public long long count, sessions
    cdef public tuple last
    cpdef tuple lookup(self, src, long long sport, dst, long long dport, long long flags)
    cpdef held(self, src, long long sport, dst, long long dport, long long flags)
    cpdef peek(self, src, long long sport, dst, long long dport, long long flags)
    cdef Stream _current(self, key, long long flags)

cpdef tuple conversation_key(src, long long sport, dst, long long dport)
@cython.locals(sport=cython.longlong, dport=cython.longlong, seq=cython.longlong,
               ack=cython.longlong, offflags=cython.longlong, win=cython.longlong,
               flags=cython.longlong, stream=Stream, side=Py_ssize_t, fwd=Direction, rev=Direction)
cpdef tuple _follow(d, no, src, dst, hdr, options, long long seg_len, ts, held=*)
@cython.locals(sport=cython.longlong, dport=cython.longlong, seq=cython.longlong,
               ack=cython.longlong, offflags=cython.longlong, win=cython.longlong,
               flags=cython.longlong, rel_seq=cython.longlong, rel_ack=cython.longlong,
               scale=cython.longlong, window=cython.longlong)
cpdef tuple _seen(hdr, Direction fwd, Direction rev, long long seg_len, options, analysis,
                  bint absolute=*, bint text=*)
@cython.locals(hdr=tuple, hlen=Py_ssize_t)
cpdef _plain_header(buf, Py_ssize_t off, Py_ssize_t end)
cpdef tuple _analyse(no, ts, Stream stream, Direction fwd, Direction rev, long long seq,
                     long long ack, long long win, long long flags, long long seg_len)
@cython.locals(found=list, nxt=cython.longlong, ctl=cython.longlong, probe=bint,
               nextseq=cython.longlong)
cpdef tuple _analyse_seq(no, ts, Stream stream, Direction fwd, Direction rev, long long seq,
                         long long ack, long long win, long long flags, long long seg_len)
cpdef _window_full(list found, Direction fwd, Direction rev, long long seq, long long seg_len)
cpdef _repeated(list found, ts, Stream stream, Direction fwd, Direction rev, long long seq,
                long long seg_len, long long nxt, long long nextseq)
cpdef _acked(Direction rev, long long ack, ts)
cpdef tuple _in_flight(Direction fwd, Direction rev, long long flags, long long seg_len)
cpdef bint _after(long long a, long long b)
cpdef str _info(long long sport, long long dport, long long flags, long long rel_seq,
                long long rel_ack, long long window, long long seg_len, options)
cpdef dict _parse_options(buf, Py_ssize_t p, Py_ssize_t end)
@cython.locals(hdr=tuple, hlen=Py_ssize_t, seg_len=Py_ssize_t)
cpdef columns(d, no, buf, Py_ssize_t off, Py_ssize_t end, src, dst, ts_ns=*)
cpdef bint _starts(d, src, dst, tuple hdr)
cpdef _pdu_columns(d, no, buf, Py_ssize_t payload, Py_ssize_t end, src, dst, tuple hdr, options,
                   proto, ts_ns)
@cython.locals(seg_len=Py_ssize_t, stream=Stream, fwd=Direction, rev=Direction, fin=bint,
               cols=_Columns, crashed=bint)
cpdef tuple _session_columns(d, no, buf, Py_ssize_t payload, Py_ssize_t end, src, dst, tuple hdr,
                             options, proto, ts_ns, held=*)
cpdef _claim(d, Stream stream, proto)
@cython.locals(side=Py_ssize_t, pdus=list)
cpdef tuple _gather_session(Stream stream, Direction fwd, buf, Py_ssize_t off, Py_ssize_t end,
                            long long seq, bint fin, no, ts_ns)
cpdef bint _keep(Direction fwd, buf, Py_ssize_t start, Py_ssize_t end, long long next_seq)
# The -V writer: the header's and the stream's numbers as C integers (their text made
# by Cython's integer formatting, not a Python int's str()), its helpers C calls.
@cython.locals(sport=cython.longlong, dport=cython.longlong, seq=cython.longlong,
               ack=cython.longlong, offflags=cython.longlong, win=cython.longlong,
               csum=cython.longlong, urg=cython.longlong, stream=cython.longlong,
               rel_seq=cython.longlong, rel_ack=cython.longlong, window=cython.longlong,
               scale=cython.longlong, flags=cython.longlong, nxt=cython.longlong)
cpdef _tree(layer, buf)
cpdef str _rel(long long shown_seq, long long shown_ack, long long seq, long long ack,
               str what=*)
cpdef str _seconds(long long ns)
cpdef str _analysis_tree(analysis, seq_ack)
