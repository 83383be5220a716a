"""sweep.py — hostile request generator and raw HTTP client for
test_sweep.py (the input sweep of the "Abuse resistance" work).

Requests are built byte by byte and sent over a plain socket, so that the
sweep can put what http.client refuses (raw bytes >= 0x80 in the path,
control bytes in a form body, duplicate headers) on the wire exactly.

Every request the generator yields reaches pwreset: nothing in it makes
nginx answer by itself (raw control bytes or a bad or NUL %-escape in the
path, NUL, CR or LF in a header value, a request line or header line over
nginx's 8 KiB buffer, TRACE), so every answer must be pwreset's own.  A bad
escape or NUL byte in the body or the query string does reach pwreset.  The generator never names a member
the sweep created, so no request it makes may write anything but the
rate_limit table."""

import http.client
import random
import socket
import urllib.parse

PREFIX = "/ps"
MEMBERS = PREFIX + "/service/members/resetpassword"
API_MEMBERS = PREFIX + "/api/members/resetpassword"
GROUP_TMPL = PREFIX + "/service/groups/%s/members/resetpassword"
FORM = "application/x-www-form-urlencoded"

FIELDS = ("email", "member-username", "token", "key", "member-password",
          "notify-async")
# The decoded limits of fcgi/request.h, per field.
LIMITS = {"email": 320, "member-username": 256, "token": 256, "key": 256,
          "member-password": 1024, "notify-async": 5, "x-unknown": 1024}
MAX_BODY = 16384
QUERY_MAX = 8192

CONTROLS = list(range(0x00, 0x20)) + [0x7F]

INVALID_UTF8 = [
    b"\x80",                  # lone continuation byte
    b"\xbf\xbf",
    b"\xc0\xaf",              # overlong '/'
    b"\xc1\xbf",              # overlong
    b"\xe0\x80\xaf",          # overlong 3-byte
    b"\xf0\x80\x80\xaf",      # overlong 4-byte
    b"\xed\xa0\x80",          # UTF-16 surrogate D800
    b"\xed\xbf\xbf",          # surrogate DFFF
    b"\xf4\x90\x80\x80",      # above U+10FFFF
    b"\xf8\x88\x80\x80\x80",  # 5-byte form
    b"\xfe\xff",              # never in UTF-8
    b"\xc3",                  # truncated 2-byte
    b"\xe2\x82",              # truncated 3-byte
    b"\xc2\x85",              # valid U+0085 NEL: a C1 control
]

SQL_XML = [
    "' OR '1'='1",
    "alice'--",
    "\"; DROP TABLE member; --",
    "'); DELETE FROM reset_token; --",
    "1; UPDATE member SET status='disabled'",
    "%",
    "_",
    "al_ce",
    "alice%",
    "\\'; SELECT pg_sleep(5); --",
    "$1",
    "<x>",
    "</error><error id=\"0000\">",
    "<![CDATA[x]]>",
    "<!DOCTYPE r [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>&e;",
    "&amp;&lt;&#0;&#x1;",
    "\"'><script>alert(1)</script>",
    "{member.username}{token}",
    "ＡＬＩＣＥ",             # fullwidth
    "ALİCE",                  # dotted capital I
    "alice@example.test'--",
    "a'b@example.test",
]

CRLF = [
    "%0d%0a", "%0a", "%0d", "%0d%0aSet-Cookie:%20x=1",
    "%0D%0ABcc:%20evil@example.net",
    "%E5%98%8A%E5%98%8D", "%c0%8d%c0%8a", "%e2%80%a8",
]

CONTENT_TYPES = [
    None, "", "text/plain", "text/xml", "application/xml", "application/json",
    "multipart/form-data; boundary=x", "application/x-www-form-urlencoded;"
    "charset=latin1", "application/x-www-form-urlencoded; charset=\"utf-8",
    "application/x-www-form-urlencoded;charset=utf-16",
    "application/x-www-form-urlencodedx", "application/x-www-form",
    "APPLICATION/X-WWW-FORM-URLENCODED; CHARSET=UTF-8",
    "application/x-www-form-urlencoded; charset=utf-8; charset=latin1",
    "application/x-www-form-urlencoded;;;", " ;", ";charset=utf-8",
    "application/x-www-form-urlencoded; =utf-8",
    "application/x-www-form-urlencoded; charset",
    "application/x-www-form-urlencoded\x01", "*/*",
    "application/x-www-form-urlencoded; boundary=\"" + "a" * 3000 + "\"",
    "x" * 4000,
    "application/x-www-form-urlencoded, text/plain",
    "application/x-www-form-urlencoded; charset=\xe9",
]

# Methods nginx hands to pwreset (TRACE and CONNECT it answers itself).
METHODS = ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "PROPFIND",
           "MKCOL", "LOCK", "COPY", "MOVE", "FOO", "POSTX", "P-O_S-T",
           "SEARCH"]

ACCEPTS = {
    None: False, "application/json": True, "application/JSON": True,
    "text/html": False, "application/json;q=0": False,
    "application/json;q=0.001": True, "*/*": False,
    "text/html, application/json;q=0.5": True,
    "application/json;q=1.5": False, "application/jsonx": False,
    "application/xml, application/json;q=0.0": False,
    ",,,;;;": False, "application/json;" + "x=1;" * 500: True,
}

ADDRESS_LIKE = ["203.0.113.%d", "2001:db8::%x", "::ffff:198.51.100.%d"]


def expect_json(path, accept):
    """The answer format route.c picks: suffix, else Accept, else XML."""
    p = path.split(b"?", 1)[0]
    if len(p) > 5 and p.endswith(b".json"):
        return True
    if len(p) > 4 and p.endswith(b".xml"):
        return False
    return ACCEPTS.get(accept, False)


def b(s):
    return s if isinstance(s, bytes) else s.encode("utf-8")


def pct(v):
    return urllib.parse.quote_from_bytes(b(v), safe=b"").encode("ascii")


class Req:
    """One request: method, raw path, headers [(name, value)], body."""

    def __init__(self, category, method="POST", path=MEMBERS, body=b"",
                 ctype=FORM, headers=None, accept=None, chunked=False):
        self.category = category
        self.method = method
        self.path = b(path)
        self.body = body
        self.ctype = ctype
        self.headers = list(headers or [])
        self.accept = accept
        self.chunked = chunked

    @property
    def json(self):
        return expect_json(self.path, self.accept)

    def wire(self, port):
        h = [(b"Host", b"127.0.0.1:%d" % port), (b"Connection", b"close")]
        if self.ctype is not None:
            h.append((b"Content-Type", b(self.ctype)))
        if self.accept is not None:
            h.append((b"Accept", b(self.accept)))
        h += [(b(k), b(v)) for k, v in self.headers]
        body = self.body or b""
        if self.chunked:
            h.append((b"Transfer-Encoding", b"chunked"))
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in
                              (body[i:i + 7] for i in range(0, len(body), 7)))
            body = chunks + b"0\r\n\r\n"
        elif self.method not in ("GET", "HEAD") or body:
            h.append((b"Content-Length", b"%d" % len(body)))
        head = b"%s %s HTTP/1.1\r\n" % (b(self.method), self.path)
        head += b"".join(k + b": " + v + b"\r\n" for k, v in h)
        return head + b"\r\n" + body

    def describe(self):
        return "%s %s %r ctype=%r accept=%r headers=%r body=%r" % (
            self.category, self.method, self.path[:200], self.ctype,
            self.accept, [(k, v[:80]) for k, v in self.headers],
            self.body[:200])


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # http.client.HTTPMessage
        self.body = body


def send(port, req, timeout=30):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(req.wire(port))
        r = http.client.HTTPResponse(s, method=req.method)
        r.begin()
        body = r.read()
        return Resp(r.status, r.headers, body)


def form(*pairs):
    """name=value pairs of bytes, joined raw (the caller encodes)."""
    return b"&".join(b(n) + b"=" + b(v) for n, v in pairs)


# ---- the generator --------------------------------------------------------

def generate(seed=20240601, total=1000):
    """The sweep's requests, deterministic for a seed; exactly total."""
    rng = random.Random(seed)
    out = []

    def field_req(category, field, raw_value, where="body", path=MEMBERS,
                  **kw):
        if where == "query":
            return Req(category, path=b(path) + b"?" + b(field) + b"=" +
                       raw_value, body=b"", **kw)
        return Req(category, path=path, body=b(field) + b"=" + raw_value,
                   **kw)

    # 1. every control byte in every field, raw (body) and percent-encoded
    #    (body and query string, alternately).
    for c in CONTROLS:
        for i, f in enumerate(FIELDS):
            v = b"ab" + bytes([c]) + b"cd"
            out.append(field_req("control-raw", f, v))
            out.append(field_req("control-pct", f, pct(v),
                                 where="query" if (c + i) % 2 else "body"))
    # ... and in parameter names.
    for c in CONTROLS:
        name = b"member" + bytes([c]) + b"-username"
        out.append(Req("control-name", body=(pct(name) if c % 2 else name) +
                       b"=x"))

    # 2. overlong values, each field and an unknown one, around the limits.
    for f, lim in LIMITS.items():
        for n in (lim, lim + 1, 2 * lim + 7, MAX_BODY - len(f) - 1,
                  MAX_BODY + 1):
            v = (b"a" * (n - 12) + b"@example.org") if f == "email" and \
                n > 12 else b"Z" * n
            out.append(field_req("overlong", f, v))
        out.append(field_req("overlong", f, b"%41" * (lim + 1)))
        # Above every field limit, below nginx's 8 KiB request line (a
        # longer one is nginx's own 414, never pwreset's).
        out.append(field_req("overlong", f, b"y" * 7000, where="query"))
    out.append(Req("overlong", body=b"a" * (MAX_BODY * 8)))
    out.append(Req("overlong", body=b"=" * MAX_BODY))

    # 3. invalid UTF-8 in every field, raw and percent-encoded.
    for i, seq in enumerate(INVALID_UTF8):
        for j, f in enumerate(FIELDS):
            v = b"x" + seq + b"y"
            raw = (i + j) % 2 == 0
            out.append(field_req("invalid-utf8", f, v if raw else pct(v),
                                 where="body" if raw or j % 2 else "query"))
        out.append(Req("invalid-utf8", body=pct(b"n" + seq) + b"=1"))

    # 4. huge parameter counts.
    for n in (64, 65, 100, 1000, 3000, 5000):
        out.append(Req("param-count",
                       body=b"&".join(b"p%d=%d" % (i, i) for i in range(n))))
    for n in (2, 65, 1000):
        out.append(Req("param-count",
                       body=b"&".join([b"member-username=x%d" % i
                                       for i in range(n)])))
    out.append(Req("param-count", path=MEMBERS + "?" + "&".join(
        "q%d=1" % i for i in range(40)), body=b"&".join(
        b"b%d=1" % i for i in range(40))))
    out.append(Req("param-count", body=b"&" * 5000))
    out.append(Req("param-count", body=b"&=&=&=" * 1000))
    out.append(Req("param-count", body=b"a&" * 65))

    # 5. SQL and XML metacharacters in every field, and in {group}.
    for i, s in enumerate(SQL_XML):
        for j, f in enumerate(FIELDS):
            path = MEMBERS if (i + j) % 3 else GROUP_TMPL % "team"
            out.append(field_req("sql-xml", f, pct(s), path=path,
                                 accept="application/json" if j == 3
                                 else None))
        out.append(Req("sql-xml", path=GROUP_TMPL % pct(s).decode(),
                       body=b"member-username=nobody-sql"))

    # 6. header injection: CR/LF in names, values, path and query.
    for i, inj in enumerate(CRLF):
        e = inj.encode("ascii")
        out.append(Req("crlf", body=b"member-username=x" + e + b"y"))
        out.append(Req("crlf", body=b"email=a" + e + b"@example.org"))
        out.append(Req("crlf", body=b"member" + e + b"-username=x"))
        out.append(Req("crlf", body=b"token=" + e + b"&key=" + e))
        out.append(Req("crlf", path=b(MEMBERS) + e, accept="application/json"
                       if i % 2 else None))
        out.append(Req("crlf", path=b(MEMBERS) + b"?x=" + e))
    out.append(Req("crlf", body=b"member-username=x\r\nSet-Cookie: a=b"))
    out.append(Req("crlf", body=b"member-password=a\r\n\r\nb&email=\n"))
    out.append(Req("crlf", headers=[("X-Injected", "a%0d%0aSet-Cookie:x")]))

    # 7. odd content types, with a valid-looking unknown-member body.
    for ct in CONTENT_TYPES:
        out.append(Req("content-type", ctype=ct,
                       body=b"member-username=nobody-ct"))
    out.append(Req("content-type", ctype="multipart/form-data; boundary=x",
                   body=b"--x\r\nContent-Disposition: form-data; name=\""
                   b"member-username\"\r\n\r\nnobody\r\n--x--\r\n"))
    out.append(Req("content-type", ctype="application/json",
                   body=b'{"member-username": "nobody"}'))
    out.append(Req("content-type", ctype="text/xml",
                   body=b'<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>'))
    out.append(Req("content-type", chunked=True,
                   body=b"member-username=nobody-chunked&notify-async=true"))

    # 8. odd methods on a good path and on an unknown one.
    for m in METHODS:
        out.append(Req("method", method=m, body=b"member-username=nobody"))
        out.append(Req("method", method=m, path=PREFIX + "/nothing.json",
                       body=b""))

    # 9. odd paths.
    long_seg = "a" * 3000
    paths = [
        MEMBERS + "/", PREFIX + "/service//members/resetpassword",
        MEMBERS + ".JSON", MEMBERS + ".jsonp", MEMBERS + ".json.xml",
        MEMBERS + ".xml.json", MEMBERS + ".", MEMBERS + ";jsessionid=1",
        MEMBERS + "%2f", PREFIX + "/SERVICE/members/resetpassword",
        PREFIX + "/service/members/reset%70assword",
        PREFIX + "/./service/members/resetpassword",
        PREFIX + "/service/members/x/../resetpassword",
        PREFIX + "/service/groups//members/resetpassword",
        GROUP_TMPL % "%2f", GROUP_TMPL % "%2e%2e", GROUP_TMPL % "~",
        GROUP_TMPL % "~~team", GROUP_TMPL % "0", GROUP_TMPL % "-1",
        GROUP_TMPL % "99999999999999999999999", GROUP_TMPL % "00042",
        GROUP_TMPL % ("g" * 100), GROUP_TMPL % ("g" * 101),
        GROUP_TMPL % ("%41" * 101), GROUP_TMPL % "%ff", GROUP_TMPL % "%c3",
        GROUP_TMPL % "t%09eam",
        GROUP_TMPL % "%7f", GROUP_TMPL % "%c2%85", GROUP_TMPL % "team.json",
        GROUP_TMPL % "te+am", GROUP_TMPL % "\xe9quipe",
        GROUP_TMPL % "\xff\xfe", PREFIX + "/api/groups/team/members/"
        "resetpassword.json", PREFIX + "/service/groups/team/members",
        PREFIX + "/service/groups/team/x/members/resetpassword",
        PREFIX + "/" + long_seg, MEMBERS + "?" + long_seg,
        PREFIX + "/\xc3\xa9t\xc3\xa9", PREFIX + "/\x80\xff\xc0\xaf",
        # U+FFFF, U+FFFE: valid UTF-8, not XML characters (fuzz-route).
        PREFIX + "/\xef\xbf\xbf", PREFIX + "/a\xef\xbf\xbe.json",
        PREFIX + "/<x>&\"'", PREFIX + "/]]>", PREFIX + "/%3Cx%3E",
        MEMBERS + "?", MEMBERS + "??", MEMBERS + "?&&&", MEMBERS + "#frag",
        MEMBERS + "?a=%zz", MEMBERS + "?email=a@b.c&email=d@e.f",
        PREFIX + "/service/members/resetpassword.json?x=.xml",
        PREFIX + "/api/members/resetpassword.xml",
        PREFIX + "/service/members/resetpassword/.json",
        PREFIX + "/service/" + "groups/" * 200 + "members/resetpassword",
        PREFIX + "/~", PREFIX + "/*", PREFIX + "/service/members/"
        "resetpassword\\", PREFIX + "/service/members/resetpassword%5c",
    ]
    for i, p in enumerate(paths):
        path = p.encode("latin-1")
        out.append(Req("path", path=path, body=b"member-username=nobody-p",
                       accept=["application/json", None][i % 2]))

    # 10. bogus Authorization headers.
    tok = "AbCdEfGhIjKlMnOpQrStUvWxYz012345"
    auths = [
        "Bearer", "Bearer ", "Bearer  ", "Bearer " + tok + " x", "Basic " +
        tok, "bearer " + tok, "BEARER " + tok, "Bearer\t" + tok,
        "Bearer " + tok + "=", "Bearer " + tok + "====x", "Bearer " + "A" *
        256, "Bearer " + "A" * 257, "Bearer " + "A" * 7000, "Bearer ../../"
        "etc/passwd", "Bearer ' OR '1'='1", "Bearer %00" + tok, "Bearer " +
        tok[:31], "Bearer " + tok + tok, "Bearer \x01\x02\x7f",
        "Bearer \xff\xfe", "Bearer " + "\xc3\xa9" * 16, "Negotiate x",
        "Digest username=\"a\"", "=" * 50, ",", "Bearer ,Bearer " + tok,
        "Bearer " + tok + "\t", "Bearer\x0b" + tok,
    ]
    for i, a in enumerate(auths):
        out.append(Req("authorization",
                       headers=[("Authorization", a.encode("latin-1"))],
                       body=b"member-username=nobody-auth" if i % 2 else
                       b"token=" + tok.encode()))
    # (Two Authorization lines are nginx's own 400: not sent.)

    # 11. enormous and odd X-Forwarded-For (pwreset trusts 127.0.0.1 in
    #     the sweep, so these are parsed).
    xffs = [
        ", ".join("203.0.113.%d" % (i % 256) for i in range(500)),
        ",".join("2001:db8::%x" % i for i in range(600)),
        "," * 7000, " " * 7000, "x" * 7000, "1" * 7000,
        "203.0.113.1" + ", unknown" * 700, "[2001:db8::1]:443, " * 300,
        "203.0.113.7:8080", "203.0.113.300", "::ffff:203.0.113.9",
        "127.0.0.1, 127.0.0.1, 127.0.0.1", "127.0.0.1", "", "fe80::1%eth0",
        "0.0.0.0", "255.255.255.255", "1.2.3.4/24", "'; DROP TABLE x;--",
        "\xff\xfe", "::", "::1", "1.2.3", "01.02.03.04",
    ]
    for i, x in enumerate(xffs):
        out.append(Req("x-forwarded-for",
                       headers=[("X-Forwarded-For", x.encode("latin-1"))],
                       body=b"member-username=nobody-xff"))
    out.append(Req("x-forwarded-for", headers=[
        ("X-Forwarded-For", "203.0.113.%d" % i) for i in range(40)],
        body=b"member-username=nobody-xff"))

    # 12. Accept variants (the format the answer must come in).
    for a in ACCEPTS:
        out.append(Req("accept", accept=a, body=b"email=bad"))

    # 13. the rest: random mixtures of the above, until total.
    if len(out) > total:
        raise ValueError("%d fixed requests, more than %d" % (len(out), total))
    while len(out) < total:
        out.append(_random_req(rng))
    del out[total:]
    rng.shuffle(out)
    return out


def _random_value(rng):
    kind = rng.randrange(6)
    if kind == 0:
        return pct(bytes([rng.choice(CONTROLS)]) + b"v")
    if kind == 1:
        return b"x" + rng.choice(INVALID_UTF8)
    if kind == 2:
        return pct(rng.choice(SQL_XML))
    if kind == 3:
        return rng.choice(CRLF).encode("ascii")
    if kind == 4:
        return bytes(rng.randrange(1, 256) for _ in range(rng.randrange(40)))
    return b"nobody-%d" % rng.randrange(10 ** 6)


def _random_req(rng):
    n = rng.randrange(1, 5)
    pairs = []
    for _ in range(n):
        name = rng.choice(FIELDS + ("x", "email", "member-username"))
        pairs.append(name.encode() + b"=" + _random_value(rng))
    body = b"&".join(pairs)
    path = rng.choice([MEMBERS, API_MEMBERS, MEMBERS + ".json",
                       GROUP_TMPL % "team", GROUP_TMPL % "nogroup"])
    headers = []
    if rng.random() < 0.3:
        headers.append(("Authorization", b"Bearer " + bytes(
            rng.choice(b"ABCxyz019-_~+/=") for _ in range(rng.randrange(64)))))
    if rng.random() < 0.3:
        headers.append(("X-Forwarded-For", ", ".join(
            rng.choice(ADDRESS_LIKE) % rng.randrange(256)
            for _ in range(rng.randrange(1, 30)))))
    return Req("mixed", path=path, body=body, headers=headers,
               ctype=rng.choice([FORM, FORM, FORM, FORM + ";charset=utf-8",
                                 "text/plain", None]),
               accept=rng.choice([None, "application/json", "text/html"]))
