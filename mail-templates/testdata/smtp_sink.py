"""aiosmtpd handler used by test-mail.c.

Run as:  python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c smtp_sink.Sink OUTDIR [USER PASS]
(with this folder on PYTHONPATH).

- RCPT to a local part starting with "reject" gets 550, "later" gets 451.
- Every accepted message is written to OUTDIR/<recipient>.eml exactly as
  received, with OUTDIR/<recipient>.env holding the envelope and whether
  the client authenticated.
- With USER and PASS, AUTH PLAIN accepts only those credentials (aiosmtpd
  offers AUTH only once STARTTLS is active).
"""

import base64
import os

from aiosmtpd.smtp import AuthResult


class Sink:
    def __init__(self, outdir, user=None, password=None):
        self.outdir = outdir
        self.user = user
        self.password = password

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) not in (1, 3):
            parser.error("Sink takes OUTDIR [USER PASS]")
        return cls(*args)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if local.startswith("reject"):
            return "550 5.1.1 <%s>: Recipient address rejected" % address
        if local.startswith("later"):
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        for rcpt in envelope.rcpt_tos:
            base = os.path.join(self.outdir, rcpt)
            with open(base + ".eml.tmp", "wb") as f:
                f.write(envelope.original_content)
            with open(base + ".env", "w") as f:
                f.write("from=%s\n" % envelope.mail_from)
                f.write("to=%s\n" % rcpt)
                f.write("auth=%s\n" % ("yes" if session.authenticated else "no"))
                f.write("tls=%s\n" % ("yes" if session.ssl else "no"))
            os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 OK: queued"

    async def auth_PLAIN(self, server, args):
        if self.user is None:
            return AuthResult(success=False, handled=False)
        try:
            if len(args) == 2:
                raw = base64.b64decode(args[1], validate=True)
            else:
                raw = await server.challenge_auth("", encode_to_b64=False)
                if not isinstance(raw, bytes):
                    return AuthResult(success=False, handled=False)
            _, user, password = raw.split(b"\0")
        except Exception:
            return AuthResult(success=False, handled=False)
        ok = user.decode() == self.user and password.decode() == self.password
        return AuthResult(success=ok, handled=False, auth_data=user)
