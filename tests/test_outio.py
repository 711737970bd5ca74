"""outio: big outputs arrive whole, though signals cut the system calls short."""

from __future__ import annotations

import io
import os
import signal
import threading
import time

from netlab.outio import write_all, write_texts


def _read_slowly(fd: int, into: list[bytes]) -> None:
    while True:
        chunk = os.read(fd, 3000)
        if not chunk:
            return
        into.append(chunk)
        time.sleep(0.0002)  # a slow reader keeps the pipe full, so writes block


def _through_a_pipe_under_signals(write) -> bytes:
    """What WRITE(out) puts through a pipe while SIGALRM arrives every millisecond
    (its handler only takes note): each blocked write(2)/writev(2) returns part way."""
    read_end, write_end = os.pipe()
    got: list[bytes] = []
    reader = threading.Thread(target=_read_slowly, args=(read_end, got))
    reader.start()
    old = signal.signal(signal.SIGALRM, lambda *_: None)
    signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
    try:
        with open(write_end, "w", encoding="utf-8") as out:
            write(out)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, old)
        reader.join(timeout=30)
        os.close(read_end)
    return b"".join(got)


def test_write_texts_is_whole_under_signals():
    # -V trees: ASCII ones and some with a non-ASCII character, 2,000 of them (> 1024
    # pieces, so several writev calls), a few MB through a 64 KiB pipe.
    texts = [f"Frame {i}\n    Data: " + ("x" * (i % 3000)) + ("…" if i % 7 == 0 else "")
             for i in range(2000)]  # fmt: skip
    got = _through_a_pipe_under_signals(lambda out: write_texts(out, texts, "\n"))
    assert got == ("\n".join(texts) + "\n").encode()


def test_write_all_is_whole_under_signals():
    text = "".join(f"{i:08d} → ok\n" for i in range(200_000))
    got = _through_a_pipe_under_signals(lambda out: write_all(out, text))
    assert got == text.encode()


def test_write_texts_keeps_what_the_stream_holds_first_and_writes_small_batches_through_it():
    read_end, write_end = os.pipe()
    with open(write_end, "w", encoding="utf-8") as out:
        out.write("head:")
        write_texts(out, ["a", "b…"], "\n")  # small: through the stream's buffer
        write_texts(out, ["c" * 5000, "d"], "\n")  # big: the buffer goes out first
        out.write("tail")
    with open(read_end, "rb") as pipe:
        assert pipe.read() == ("head:a\nb…\n" + "c" * 5000 + "\nd\ntail").encode()


def test_write_texts_to_a_stream_without_a_descriptor():
    out = io.StringIO()
    write_texts(out, ["x" * 5000, "y…"], "\n")
    assert out.getvalue() == "x" * 5000 + "\ny…\n"
