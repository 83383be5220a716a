#!/usr/bin/python3
"""step1_timing.py — how much a step-1 answer tells about the account.

Starts a throwaway stack (test/stack.py: PostgreSQL, SMTP sink, pwreset,
nginx), makes ROUNDS members, then asks step 1 for each of them and for as
many names no member has, alternating known and unknown, every identifier
once (so no rate limit answers instead).  Prints the ratio of the medians
and p50/p99 of each side.  Not a test: it never fails on the figures
(test/e2e/test_uniform.py does).

  /usr/bin/python3 test/bench/step1_timing.py [--build DIR] [--rounds N]
      [--field member-username|email] [--floor MS] [--workers N]

--floor sets [privacy] step1_floor_ms (default: pwreset's default).
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TEST = os.path.dirname(HERE)
sys.path.insert(0, TEST)
sys.path.insert(0, os.path.join(TEST, "e2e"))

from stack import Stack  # noqa: E402
import uniform  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.environ.get("PWRESET_BUILD"),
                    help="meson build directory (default: build)")
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--field", default="member-username",
                    choices=("member-username", "email"))
    ap.add_argument("--floor", type=int, default=None,
                    help="[privacy] step1_floor_ms")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()

    overrides = {("log", "level"): "info",
                 ("ratelimit", "per_identifier"): "1000",
                 ("ratelimit", "per_address"): "1000000"}
    if args.floor is not None:
        overrides[("privacy", "step1_floor_ms")] = str(args.floor)
    if args.workers is not None:
        overrides[("service", "workers")] = str(args.workers)
    with Stack(build_dir=args.build, overrides=overrides) as stack:
        known, unknown = uniform.measure(stack, args.rounds,
                                         field=args.field)
        s = uniform.summary(known, unknown)
    print("step 1 by %s, floor %s:" % (
        args.field, "default" if args.floor is None else
        "%d ms" % args.floor))
    print("ratio %.3f" % s["ratio"])
    print("known    p50 %.3f ms  p99 %.3f ms" % (s["known_p50"] * 1e3,
                                                 s["known_p99"] * 1e3))
    print("unknown  p50 %.3f ms  p99 %.3f ms" % (s["unknown_p50"] * 1e3,
                                                 s["unknown_p99"] * 1e3))


if __name__ == "__main__":
    main()
