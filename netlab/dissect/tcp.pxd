# C types for the compiled tcp.py (netlab/compiled.py): its per-segment state as C
# structs and its per-segment functions as direct C calls. tcp.py stays the source; a
# name declared here must keep the signature it has there. Sequence numbers, windows and
# flags fit a long long; anything that may be None stays an object.

cdef class Direction:
    cdef public object base, next_seq, next_seq_ts, max_acked, last_ack, last_ack_ts
    cdef public object pending, pending_seq
    cdef public long long wscale, next_seq_frame, last_win, ack_frame, dup_acks
    cdef public long long sacked, push_bytes
    cdef public bint keep_alive, probe, ordered, valid_bif, push_last
    cdef public list segs

cdef class Stream:
    cdef public object syn_ts, app
    cdef public tuple dirs
    cdef public long long index, first_rtt
    cdef public bint closed

cdef class TcpTracker:
    cdef public dict streams, expected
    cdef public long long count, sessions
    cdef public tuple last
    cpdef tuple lookup(self, src, long long sport, dst, long long dport, long long flags)
    cpdef held(self, src, long long sport, dst, long long dport, long long flags)
    cpdef peek(self, src, long long sport, dst, long long dport, long long flags)
    cdef Stream _current(self, key, long long flags)

cpdef tuple conversation_key(src, long long sport, dst, long long dport)
cpdef tuple _follow(d, no, src, dst, hdr, options, long long seg_len, ts, held=*)
cpdef tuple _seen(hdr, Direction fwd, Direction rev, long long seg_len, options, analysis,
                  bint absolute=*, bint text=*)
cpdef _plain_header(buf, Py_ssize_t off, Py_ssize_t end)
cpdef tuple _analyse(no, ts, Stream stream, Direction fwd, Direction rev, long long seq,
                     long long ack, long long win, long long flags, long long seg_len)
cpdef tuple _analyse_seq(no, ts, Stream stream, Direction fwd, Direction rev, long long seq,
                         long long ack, long long win, long long flags, long long seg_len)
cpdef _window_full(list found, Direction fwd, Direction rev, long long seq, long long seg_len)
cpdef _repeated(list found, ts, Stream stream, Direction fwd, Direction rev, long long seq,
                long long seg_len, nxt, long long nextseq)
cpdef _acked(Direction rev, long long ack, ts)
cpdef tuple _in_flight(Direction fwd, Direction rev, long long flags, long long seg_len)
cpdef bint _after(long long a, long long b)
cpdef str _info(long long sport, long long dport, long long flags, long long rel_seq,
                long long rel_ack, long long window, long long seg_len, options)
cpdef dict _parse_options(buf, Py_ssize_t p, Py_ssize_t end)
