"""Step 1 must not tell known from unknown members by its latency
(SPEC §7, "Uniform step 1"): it never waits for SMTP, and with
[privacy] step1_floor_ms every answer is padded to the same floor."""

import statistics
import time

from pwr import MEMBERS, add_member, assert_ok


def _medians(stack, rounds):
    known, unknown = [], []
    for i in range(rounds):
        # Interleaved, so drift on a busy machine hits both alike.
        for ident, out in (("alice", known), ("nobody%d" % i, unknown)):
            t0 = time.monotonic()
            assert_ok(stack.post(MEMBERS, {"member-username": ident}),
                      "request-successful")
            out.append(time.monotonic() - t0)
    return statistics.median(known), statistics.median(unknown)


def test_step1_latency_with_slow_smtp(stack):
    add_member(stack, "alice")
    stack.restart_sink("--delay", "2")
    known, unknown = _medians(stack, 8)
    # A synchronous send would cost 2 s per known request.
    assert known < 0.5, (known, unknown)
    assert abs(known - unknown) < 0.25, (known, unknown)


def test_step1_floor_pads_both(stack, restart):
    restart({("privacy", "step1_floor_ms"): "80"})
    add_member(stack, "alice")
    known, unknown = _medians(stack, 15)
    assert known >= 0.080 and unknown >= 0.080, (known, unknown)
    assert abs(known - unknown) < 0.020, (known, unknown)
