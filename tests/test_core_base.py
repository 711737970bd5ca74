"""core/base.py: the state-table helper every handshake core is written with, the shared
core plumbing, and the TCP core's state changes recorded through it."""

from __future__ import annotations

import pytest

from netlab.core.base import CoreBase, ProtocolViolation, StateTable, Transition
from tests.test_tcp_handshake import NS, _established

# RTMP's handshake (the spec's §5.2.1 states) written as the table a core would use.
RTMP_CLIENT = {
    ("uninitialized", "connect"): ("send C0+C1", "version_sent"),
    ("version_sent", "S0+S1"): ("send C2", "ack_sent"),
    ("ack_sent", "S2"): (None, "handshake_done"),
}


def test_state_table_fires_records_and_refuses_what_it_does_not_allow():
    machine = StateTable(RTMP_CLIENT, "uninitialized")
    assert machine.allows("connect") and not machine.allows("S2")
    assert machine.fire("connect", 5) == "send C0+C1"
    assert machine.fire("S0+S1", 9) == "send C2"
    with pytest.raises(ProtocolViolation, match="S0\\+S1 is not expected in state ack_sent"):
        machine.fire("S0+S1", 10)
    assert machine.state == "ack_sent"  # a refused event changes nothing
    assert machine.fire("S2", 12) is None and machine.state == "handshake_done"
    assert machine.history == [
        Transition(5, "uninitialized", "connect", "version_sent", "send C0+C1"),
        Transition(9, "version_sent", "S0+S1", "ack_sent", "send C2"),
        Transition(12, "ack_sent", "S2", "handshake_done", None),
    ]


def test_move_records_changes_decided_elsewhere_and_skips_non_changes():
    machine = StateTable({}, "CLOSED")
    machine.move("SYN-SENT", "active OPEN", 1)
    machine.move("SYN-SENT", "retransmission", 2)
    assert [(t.state, t.next_state, t.time) for t in machine.history] == [("CLOSED", "SYN-SENT", 1)]


def test_core_base_gives_events_done_and_interrupt_once():
    class Tiny(CoreBase):
        def _finish(self, now: int) -> None:
            self._events.append(("summary", now))
            super()._finish(now)

    core = Tiny()
    core._events.append("reply")
    assert not core.done() and core.pop_events() == ["reply"] and core.pop_events() == []
    core.interrupt(7)
    core.interrupt(8)  # only once
    assert core.done() and core.pop_events() == [("summary", 7)]


def test_tcp_core_records_every_state_change_with_its_cause_and_time():
    core, _sent = _established()
    assert [(t.state, t.event, t.next_state) for t in core.machine.history] == [
        ("CLOSED", "active OPEN: SYN sent", "SYN_SENT"),
        ("SYN_SENT", "SYN-ACK received", "ESTABLISHED"),
        ("ESTABLISHED", "CLOSE: FIN sent", "FIN_WAIT_1"),  # no --hold: it closes at once
    ]
    assert core.machine.history[1].time == NS // 1000  # the SYN-ACK's capture time stamp
    assert [t.next_state for t in core.machine.history] == core.states
