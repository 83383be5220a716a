#!/usr/bin/python3
"""slow_relay.py — an SMTP server that is slow at every step, for tests.

Answers each line the client sends (and greets) only after --delay seconds:
a relay that is alive and within any per-reply timeout, yet takes many
times that timeout for one whole session.  aiosmtpd has no hook before the
greeting or EHLO, hence this small asyncio server (plain SMTP, no TLS, no
AUTH, no PIPELINING).

Messages are stored like test/smtp_sink.py does (DIR/NNNN.eml with the DATA
bytes, dot-unstuffed, and DIR/NNNN.json with the envelope, both renamed into
place, .json first), so Stack.mails() reads them.

  slow_relay.py --port PORT --dir DIR --delay SECONDS [--final-delay SECONDS]

--final-delay (default: --delay) is the wait before the reply to the final
".": the message is stored before that wait, as a real relay that has
accepted it but answers late.

Prints "slow_relay ready HOST:PORT" once it listens; runs until SIGTERM or
SIGINT."""

import argparse
import asyncio
import json
import os
import re
import signal
import sys
import time

LINE_MAX = 4096
DATA_MAX = 10 * 1024 * 1024


class Store:
    def __init__(self, directory):
        self.dir = directory
        self.seq = 0
        for name in os.listdir(directory):
            m = re.fullmatch(r"(\d+)\.(eml|json)", name)
            if m:
                self.seq = max(self.seq, int(m.group(1)))

    def _write(self, name, data):
        tmp = os.path.join(self.dir, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(self.dir, name))

    def save(self, mail_from, rcpts, data, peer):
        self.seq += 1
        base = "%04d" % self.seq
        meta = {"seq": self.seq, "mail_from": mail_from,
                "rcpt_tos": rcpts, "peer": list(peer) if peer else None,
                "received": time.time(), "size": len(data)}
        self._write(base + ".json", json.dumps(meta).encode())
        self._write(base + ".eml", data)
        return base


def address_of(arg):
    m = re.search(r"<([^>]*)>", arg)
    return m.group(1) if m else arg.strip()


async def session(reader, writer, store, delay, final_delay):
    peer = writer.get_extra_info("peername")

    async def reply(text, wait=delay):
        await asyncio.sleep(wait)
        writer.write(text.encode("ascii") + b"\r\n")
        await writer.drain()

    mail_from, rcpts = None, []
    try:
        await reply("220 slow_relay ESMTP")
        while True:
            line = await reader.readline()
            if not line:
                break
            if len(line) > LINE_MAX:
                await reply("500 line too long")
                break
            cmd = line.decode("ascii", "replace").rstrip("\r\n")
            verb = cmd[:4].upper()
            if verb == "EHLO":
                await reply("250-slow_relay\r\n250-8BITMIME\r\n250 SIZE %d"
                            % DATA_MAX)
            elif verb == "HELO":
                await reply("250 slow_relay")
            elif verb == "MAIL":
                mail_from, rcpts = address_of(cmd[5:]), []
                await reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                rcpts.append(address_of(cmd[3:]))
                await reply("250 2.1.5 Ok")
            elif verb == "DATA":
                if mail_from is None or not rcpts:
                    await reply("503 5.5.1 need MAIL and RCPT first")
                    continue
                await reply("354 End data with <CR><LF>.<CR><LF>")
                data = bytearray()
                while True:
                    chunk = await reader.readline()
                    if not chunk or chunk in (b".\r\n", b".\n"):
                        break
                    if chunk.startswith(b"."):
                        chunk = chunk[1:]
                    data += chunk
                    if len(data) > DATA_MAX:
                        break
                base = store.save(mail_from, rcpts, bytes(data), peer)
                mail_from, rcpts = None, []
                await reply("250 2.0.0 Ok: stored as %s" % base, final_delay)
            elif verb == "RSET":
                mail_from, rcpts = None, []
                await reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                await reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                await reply("221 2.0.0 Bye")
                break
            else:
                await reply("502 5.5.2 not implemented")
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def serve(args):
    os.makedirs(args.dir, exist_ok=True)
    store = Store(args.dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(
        lambda r, w: session(r, w, store, args.delay,
                             args.delay if args.final_delay is None
                             else args.final_delay),
        args.host, args.port,
        limit=LINE_MAX * 2)
    print("slow_relay ready %s:%d" % (args.host, args.port), flush=True)
    async with server:
        await stop.wait()
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--delay", type=float, required=True)
    ap.add_argument("--final-delay", type=float, default=None)
    return asyncio.run(serve(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
