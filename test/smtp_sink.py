#!/usr/bin/python3
"""smtp_sink.py — an SMTP server that keeps what it receives, for tests.

Listens on 127.0.0.1:PORT (aiosmtpd, Debian's python3-aiosmtpd) and stores
every accepted message as DIR/NNNN.eml (the DATA bytes exactly as received)
with its envelope in DIR/NNNN.json.  Both are written to a hidden temporary
name and renamed, so a reader never sees half a file, and the .json lands
before the .eml: whoever sees NNNN.eml can read NNNN.json.

  --delay SECONDS   wait this long before answering DATA (a slow relay);
                    the message is stored only after the wait
  --reject REGEX    answer 550 to RCPT TO addresses matching REGEX
                    (re.search, case-insensitive)
  --tempfail REGEX  answer 451 to RCPT TO addresses matching REGEX

Runs until SIGTERM or SIGINT.  Prints "smtp_sink ready HOST:PORT" on stdout
once it accepts connections.
"""

import argparse
import asyncio
import json
import os
import re
import signal
import sys
import threading
import time

from aiosmtpd.controller import Controller


class Sink:
    """aiosmtpd handler: hooks run on the controller's event loop thread, so
    the counter needs no lock."""

    def __init__(self, directory, delay, reject, tempfail):
        self.dir = directory
        self.delay = delay
        self.reject = re.compile(reject, re.I) if reject else None
        self.tempfail = re.compile(tempfail, re.I) if tempfail else None
        self.seq = self._last_seq()

    def _last_seq(self):
        last = 0
        for name in os.listdir(self.dir):
            m = re.fullmatch(r"(\d+)\.(eml|json)", name)
            if m:
                last = max(last, int(m.group(1)))
        return last

    def _write(self, name, data):
        tmp = os.path.join(self.dir, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
        os.rename(tmp, os.path.join(self.dir, name))

    async def handle_RCPT(self, server, session, envelope, address, options):
        if self.reject and self.reject.search(address):
            return "550 5.1.1 <%s>: rejected by smtp_sink" % address
        if self.tempfail and self.tempfail.search(address):
            return "451 4.3.0 <%s>: try again later (smtp_sink)" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        self.seq += 1
        base = "%04d" % self.seq
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        meta = {
            "seq": self.seq,
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "peer": list(session.peer) if session.peer else None,
            "helo": session.host_name,
            "received": time.time(),
            "size": len(content),
        }
        self._write(base + ".json", json.dumps(meta).encode())
        self._write(base + ".eml", content)
        return "250 2.0.0 Ok: stored as %s" % base


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--reject", default=None)
    ap.add_argument("--tempfail", default=None)
    args = ap.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    handler = Sink(args.dir, args.delay, args.reject, args.tempfail)
    # decode_data=False: keep the bytes as sent (8BITMIME, UTF-8 headers).
    ctl = Controller(
        handler,
        hostname=args.host,
        port=args.port,
        decode_data=False,
        enable_SMTPUTF8=True,
        data_size_limit=10 * 1024 * 1024,
        ready_timeout=10,
    )

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    ctl.start()
    print("smtp_sink ready %s:%d" % (args.host, args.port), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        ctl.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
