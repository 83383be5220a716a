"""Check a message rendered by pwreset with Python's email package.

usage: check_message.py FILE KEY=VALUE...
keys:  subject (exact, decoded), to, from-name, from-addr, domain (of the
       Message-ID), text (substring of the decoded text/plain part),
       html (substring of the decoded text/html part)
Exit 0 when every check passes; otherwise the failures go to stderr.
"""

import email
import email.policy
import re
import sys


def main():
    path, args = sys.argv[1], sys.argv[2:]
    want = {}
    for a in args:
        k, v = a.split("=", 1)
        want.setdefault(k, []).append(v)
    one = {k: v[-1] for k, v in want.items()}
    with open(path, "rb") as f:
        raw = f.read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    errors = []

    def check(cond, what):
        if not cond:
            errors.append(what)

    for h in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version",
              "Auto-Submitted"):
        check(len(msg.get_all(h, [])) == 1, "exactly one %s header" % h)
    check(msg.defects == [], "message defects: %r" % msg.defects)
    check(msg["Auto-Submitted"] == "auto-generated", "Auto-Submitted")
    check(msg["Date"].datetime is not None, "Date parses")
    check(msg["Date"].datetime.utcoffset().total_seconds() == 0, "Date in UTC")
    check(msg.get_content_type() == "multipart/alternative", "multipart/alternative")
    parts = list(msg.iter_parts())
    check([p.get_content_type() for p in parts] == ["text/plain", "text/html"],
          "parts are text/plain then text/html: %r"
          % [p.get_content_type() for p in parts])
    for p in parts:
        check(p.get_content_charset() == "utf-8", "charset utf-8")
        check(p["Content-Transfer-Encoding"] == "quoted-printable", "QP")
        check(p.defects == [], "part defects: %r" % p.defects)

    mid = msg["Message-ID"]
    if "domain" in want:
        check(re.fullmatch(r"<[0-9A-F]{32}@%s>" % re.escape(one["domain"]), mid),
              "Message-ID %r on %s" % (mid, one["domain"]))
    if "subject" in want:
        check(msg["Subject"] == one["subject"],
              "Subject %r != %r" % (msg["Subject"], one["subject"]))
    if "to" in want:
        check(msg["To"].addresses[0].addr_spec == one["to"], "To")
    if "from-name" in want:
        check(msg["From"].addresses[0].display_name == one["from-name"],
              "From name %r" % msg["From"].addresses[0].display_name)
    if "from-addr" in want:
        check(msg["From"].addresses[0].addr_spec == one["from-addr"], "From addr")
    if len(parts) == 2:
        for v in want.get("text", []):
            check(v in parts[0].get_content(), "text part lacks %r" % v)
        for v in want.get("html", []):
            check(v in parts[1].get_content(), "html part lacks %r" % v)

    for e in errors:
        print("check_message: " + e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
