"""uniform.py — step-1 latency of known against unknown identifiers, for
test_uniform.py and test/bench/step1_timing.py.

Every identifier is used once (known: members made here, unknown: names
no member has), so the per-identifier limit never answers instead of the
code under test; known and unknown requests come in one shuffled sequence
with a short pause between them (see measure()).  Timed from the client:
one new connection through nginx per request, as an attacker sees it."""

import random
import statistics
import time

from pwr import MEMBERS, assert_ok

SEED = 20261125
GAP = 0.025  # seconds between requests, see measure()


def add_known(stack, n, prefix="uk"):
    """n members PREFIX000000… with an email each, in one statement (the
    measured path is pwreset's, not pwreset-ctl's); their usernames."""
    names = ["%s%06d" % (prefix, i) for i in range(n)]
    stack.sql(
        "INSERT INTO member (username, email, firstname, lastname)"
        " SELECT u, u || '@example.test', 'Known', 'Member'"
        " FROM unnest(%s::text[]) AS u", (names,))
    return names


def timed_post(stack, path, form):
    t0 = time.perf_counter()
    r = stack.post(path, form)
    dt = time.perf_counter() - t0
    assert_ok(r, "request-successful")
    return dt


def measure(stack, rounds, path=MEMBERS, warmup=10, field="member-username",
            prefix="uk"):
    """(known, unknown): rounds latencies (seconds) each, measured in one
    shuffled sequence."""
    known = add_known(stack, rounds + warmup, prefix)
    unknown = ["%s-nobody%06d" % (prefix, i) for i in range(rounds + warmup)]

    def ident(name):
        return name + "@example.test" if field == "email" else name

    # Warm up both paths (connections, prepared statements, caches).
    for i in range(warmup):
        timed_post(stack, path, {field: ident(known[i])})
        timed_post(stack, path, {field: ident(unknown[i])})
    # A known identifier's token and email are written, and the email
    # delivered, just after its answer; back to back, that background work
    # slows whichever request comes next and the medians would compare the
    # neighbours, not the requests.  A pause lets it finish, so each
    # request is timed as an attacker probing one identifier sees it; the
    # order is shuffled (fixed seed) so drift hits both kinds alike.
    order = [("k", i) for i in range(warmup, warmup + rounds)] + \
            [("u", i) for i in range(warmup, warmup + rounds)]
    random.Random(SEED).shuffle(order)
    k, u = [], []
    for kind, i in order:
        time.sleep(GAP)
        if kind == "k":
            k.append(timed_post(stack, path, {field: ident(known[i])}))
        else:
            u.append(timed_post(stack, path, {field: ident(unknown[i])}))
    return k, u


def percentile(xs, p):
    """Nearest-rank percentile, p in 0..100."""
    s = sorted(xs)
    rank = max(1, min(len(s), int(round(p / 100.0 * len(s) + 0.5))))
    return s[rank - 1]


def summary(known, unknown):
    mk, mu = statistics.median(known), statistics.median(unknown)
    return {
        "ratio": mk / mu,
        "known_p50": mk, "known_p99": percentile(known, 99),
        "unknown_p50": mu, "unknown_p99": percentile(unknown, 99),
        "n": len(known),
    }


def describe(s):
    return ("median(known)/median(unknown) = %.3f  (n = %d each)\n"
            "  known:   p50 %.3f ms  p99 %.3f ms\n"
            "  unknown: p50 %.3f ms  p99 %.3f ms" % (
                s["ratio"], s["n"], s["known_p50"] * 1e3,
                s["known_p99"] * 1e3, s["unknown_p50"] * 1e3,
                s["unknown_p99"] * 1e3))
