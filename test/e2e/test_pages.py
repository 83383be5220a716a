"""End-to-end tests of the pages (SPEC §9) over plain HTTP through nginx:
headers, the cross-site refusal, a GET that changes nothing, the whole
flow without a browser, the token check of PageSeeder v6 in XML and JSON,
group branding and the weight of each page.  test_browser.py drives the
same pages in a real Chromium."""

import json
import re
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

from pwr import (GOOD_PW, OTHER_PW, SUBJECT_CHANGED, SUBJECT_RESET,
                 add_member, assert_error, assert_ok, check_password, ctl_ok,
                 mails_to, text_of, token_of)

CSP = ("default-src 'none'; style-src 'self'; script-src 'self'; "
       "img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
FORGOT = "/email/forgotpassword"
CHANGE = "/email/changepassword"
ALICE = "alice@example.test"
LINK_RE = re.compile(r"http://[^/\s]+(/email/changepassword\?[^\s\"<]+)")
PAGE_MAX = 20 * 1024


def origin(stack):
    return "http://127.0.0.1:%d" % stack.nginx_port


def get(stack, path, headers=None):
    return stack.request("GET", path, None, headers or {})


def post(stack, path, form, headers=None):
    h = {"Content-Type": "application/x-www-form-urlencoded",
         "Origin": origin(stack), "Sec-Fetch-Site": "same-origin"}
    h.update(headers or {})
    return stack.request("POST", path,
                         urllib.parse.urlencode(form).encode(), h)


def html(resp):
    return resp.body.decode("utf-8")


def assert_page(resp, status=200):
    """The headers of SPEC §2 and §9 on every page; no cookie."""
    assert resp.status == status, (resp.status, resp.body[:2000])
    h = resp.headers
    assert h.get("Content-Type") == "text/html;charset=utf-8"
    assert h.get("Content-Security-Policy") == CSP
    assert h.get("Cache-Control") == "no-store"
    assert h.get("X-Content-Type-Options") == "nosniff"
    assert h.get("Referrer-Policy") == "no-referrer"
    assert h.get("Set-Cookie") is None
    body = html(resp)
    assert '<html lang="en">' in body
    assert "style=" not in body and "<script>" not in body
    return body


def link_of(msg):
    """The path and query of the reset link in the plain-text part."""
    found = LINK_RE.findall(text_of(msg))
    assert found, text_of(msg)
    return found[0]


def snapshot(stack):
    """Everything a request could write."""
    return [stack.sql("SELECT * FROM reset_token ORDER BY id"),
            stack.sql("SELECT * FROM rate_limit ORDER BY key"),
            stack.sql("SELECT id FROM mail_outbox ORDER BY id"),
            stack.sql("SELECT * FROM audit_log ORDER BY id"),
            stack.sql("SELECT id, password_hash, password_changed_at,"
                      " failed_logins FROM member ORDER BY id")]


@pytest.fixture
def alice(stack):
    return add_member(stack, "alice", email=ALICE, firstname="Alice",
                      lastname="Liddell")


def ask_link(stack):
    assert_page(post(stack, FORGOT, {"member-username": "alice"}))
    (msg,) = mails_to(stack, ALICE, 1, subject=SUBJECT_RESET)
    return link_of(msg)


def form_fields(body):
    return dict(re.findall(r'<input type="hidden" name="([a-z-]+)" '
                           r'value="([^"]*)"', body))


def test_request_form(stack):
    body = assert_page(get(stack, FORGOT))
    assert '<label for="identifier">' in body
    assert 'autocomplete="username"' in body
    assert 'action="/email/forgotpassword"' in body


def test_sent_page_same_for_known_and_unknown(stack, alice):
    known = post(stack, FORGOT, {"member-username": "alice"})
    unknown = post(stack, FORGOT, {"member-username": "nobody"})
    by_mail = post(stack, FORGOT, {"member-username": "nobody@example.test"})
    assert_page(known)
    assert known.body == unknown.body == by_mail.body
    assert "an email with a link" in html(known)
    mails_to(stack, ALICE, 1, subject=SUBJECT_RESET)


def test_request_form_errors_inline(stack):
    body = assert_page(post(stack, FORGOT, {"member-username": ""}), 400)
    assert 'aria-invalid="true"' in body
    assert re.search(r'id="identifier-error" class="error">Type your', body)
    body = assert_page(post(stack, FORGOT, {"member-username": "a@b@c"}), 400)
    assert "not a valid email address" in body


def test_whole_flow_over_http(stack, alice):
    link = ask_link(stack)
    assert link.startswith("/email/changepassword?member=%d&token=" % alice)
    body = assert_page(get(stack, link))
    fields = form_fields(body)
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)[
        "token"][0]
    assert fields["token"] == token and fields["member"] == "alice"
    assert 'autocomplete="new-password"' in body
    assert "at least 7 characters" in body  # the rule, before typing
    assert 'aria-describedby="rule password-error"' in body

    # the two fields differ: said inline, the token still valid
    form = dict(fields, **{"member-password": GOOD_PW,
                           "member-password-confirm": OTHER_PW})
    body = assert_page(post(stack, CHANGE, form), 400)
    assert re.search(r'id="confirm-error" class="error">The two passwords',
                     body)
    assert form_fields(body)["token"] == token
    # too weak: the reason and the rule, the token still valid
    form = dict(fields, **{"member-password": "abc",
                           "member-password-confirm": "abc"})
    body = assert_page(post(stack, CHANGE, form), 400)
    assert "not strong enough" in body and "at least 7 characters" in body
    assert 'id="password" name="member-password" type="password" ' \
        'autocomplete="new-password" required ' \
        'aria-describedby="rule password-error" aria-invalid="true"' in body
    form = dict(fields, **{"member-password": "alice",
                           "member-password-confirm": "alice"})
    assert_page(post(stack, CHANGE, form), 400)
    assert not check_password(stack, "alice", GOOD_PW)

    form = dict(fields, **{"member-password": GOOD_PW,
                           "member-password-confirm": GOOD_PW})
    body = assert_page(post(stack, CHANGE, form))
    assert "Your password has been changed" in body
    mails_to(stack, ALICE, 1, subject=SUBJECT_CHANGED)
    assert check_password(stack, "alice", GOOD_PW)

    # used: the link no longer works, and offers the request form
    body = assert_page(get(stack, link), 400)
    assert "This link no longer works" in body
    assert 'action="/email/forgotpassword"' in body
    body = assert_page(post(stack, CHANGE, form), 400)
    assert "This link no longer works" in body


def test_get_changes_nothing(stack, alice):
    link = ask_link(stack)
    before = snapshot(stack)
    for _ in range(5):
        assert_page(get(stack, link))
    bad = re.sub(r"token=[^&]+", "token=" + "A" * 32, link)
    for _ in range(5):
        assert_page(get(stack, bad), 400)
    assert_page(get(stack, FORGOT))
    assert snapshot(stack) == before
    # the token still works after all that
    assert_page(get(stack, link))


def test_link_of_another_member(stack, alice):
    bob = add_member(stack, "bob")
    link = ask_link(stack)
    other = link.replace("member=%d" % alice, "member=%d" % bob)
    assert "This link no longer works" in assert_page(get(stack, other), 400)
    assert_page(get(stack, link.replace("member=%d" % alice,
                                        "member=alice")))
    # a POST naming another member, or none, with a bad token: the link
    # page, nothing changed
    fields = form_fields(html(get(stack, link)))
    form = dict(fields, **{"member-password": GOOD_PW,
                           "member-password-confirm": GOOD_PW})
    for f in (dict(form, member="bob"), dict(form, member="",
                                             token="A" * 32)):
        assert "no longer works" in assert_page(post(stack, CHANGE, f), 400)
    assert not check_password(stack, "alice", GOOD_PW)
    assert not check_password(stack, "bob", GOOD_PW)


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Sec-Fetch-Site": None, "Origin": "http://evil.example"},
    {"Sec-Fetch-Site": None, "Origin": "http://127.0.0.1:1"},
])
def test_cross_site_post_refused(stack, alice, headers):
    link = ask_link(stack)
    fields = form_fields(html(get(stack, link)))
    before = snapshot(stack)
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    if headers.get("Origin"):
        h["Origin"] = headers["Origin"]
    if headers.get("Sec-Fetch-Site"):
        h["Sec-Fetch-Site"] = headers["Sec-Fetch-Site"]
        h["Origin"] = origin(stack)
    form = dict(fields, **{"member-password": GOOD_PW,
                           "member-password-confirm": GOOD_PW})
    for path, f in ((CHANGE, form), (FORGOT, {"member-username": "alice"})):
        r = stack.request("POST", path, urllib.parse.urlencode(f).encode(), h)
        body = assert_page(r, 403)
        assert "another site" in body
    assert snapshot(stack) == before
    assert not check_password(stack, "alice", GOOD_PW)


def test_origin_null_and_none_allowed(stack, alice):
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    for extra in ({"Origin": "null"}, {}):
        r = stack.request("POST", FORGOT, b"member-username=nobody",
                          dict(h, **extra))
        assert_page(r)


def test_method_and_malformed(stack):
    body = assert_page(stack.request("PUT", FORGOT, b"", {}), 400)
    assert "0103" not in body and "<error" not in body
    body = assert_page(get(stack, CHANGE + "?token=%zz"), 400)
    assert "could not read" in body


def test_static_files(stack):
    for name, ctype in (("pwreset.css", "text/css"),
                        ("pwreset.js", "text/javascript")):
        r = get(stack, "/email/static/" + name)
        assert r.status == 200
        assert r.headers.get("Content-Type").startswith(ctype)
        assert r.headers.get("X-Content-Type-Options") == "nosniff"


def test_page_weights(stack, alice):
    """Each page with its stylesheet and script under ~20 KiB."""
    css = len(get(stack, "/email/static/pwreset.css").body)
    js = len(get(stack, "/email/static/pwreset.js").body)
    link = ask_link(stack)
    pages = {"request": get(stack, FORGOT),
             "choose": get(stack, link),
             "invalid": get(stack, CHANGE + "?member=1&token=x"),
             "sent": post(stack, FORGOT, {"member-username": "nobody"})}
    weights = {}
    for name, r in pages.items():
        weights[name] = len(r.body) + css + (js if "pwreset.js" in html(r)
                                             else 0)
        assert weights[name] < PAGE_MAX, weights
    print("page weights (bytes, with assets):", weights)


def test_group_link_brands_pages(stack, alice):
    ctl_ok(stack, "group", "add", "brand", "--template", "example-brand")
    ctl_ok(stack, "group", "add-member", "brand", "alice")
    assert_ok(stack.post("/ps/service/groups/brand/members/resetpassword",
                         {"member-username": "alice"}), "request-successful")
    (msg,) = mails_to(stack, ALICE, 1)
    link = link_of(msg)
    assert link.endswith("&group=brand"), link
    body = assert_page(get(stack, link))
    assert "Example Brand · brand" in body
    fields = form_fields(body)
    gid = stack.sql("SELECT id FROM member_group WHERE name = 'brand'")[0][0]
    assert fields["group"] == str(gid)  # by id: safe in a URL
    form = dict(fields, **{"member-password": GOOD_PW,
                           "member-password-confirm": GOOD_PW})
    body = assert_page(post(stack, CHANGE, form))
    assert "Example Brand" in body and "has been changed" in body
    assert check_password(stack, "alice", GOOD_PW)
    # the request form of a group: its POST goes the group route
    body = assert_page(get(stack, FORGOT + "?group=brand"))
    assert "Example Brand" in body
    # no group, or one that does not exist: the default pages
    assert "Example Brand" not in assert_page(get(stack, FORGOT))
    assert "Example Brand" not in assert_page(
        get(stack, FORGOT + "?group=nogroup"))


# ---- GET {prefix}/service/members/{member}?token= (PageSeeder v6) ----------

def test_token_check_xml_and_json(stack, alice):
    _, token = token_of(_request(stack))
    for who in (str(alice), "alice", "ALICE"):
        r = get(stack, "/ps/service/members/%s?token=%s" % (who, token))
        assert r.status == 200, r.body
        assert r.headers.get("Content-Type") == \
            "application/xml;charset=utf-8"
        assert r.headers.get("Cache-Control") == "no-store"
        el = ET.fromstring(r.body)
        assert el.tag == "member"
        assert el.attrib == {"id": str(alice), "username": "alice",
                             "firstname": "Alice", "surname": "Liddell",
                             "email": ALICE, "status": "activated"}
        assert el.find("fullname").text == "Alice Liddell"
    r = get(stack, "/ps/service/members/alice.json?token=" + token)
    assert r.status == 200
    assert json.loads(r.body) == {
        "id": alice, "username": "alice", "firstname": "Alice",
        "surname": "Liddell", "email": ALICE, "status": "activated",
        "fullname": "Alice Liddell"}
    r = get(stack, "/ps/service/members/alice?token=" + token,
            {"Accept": "application/json"})
    assert json.loads(r.body)["username"] == "alice"
    # never consumes: step 2 still works
    assert_ok(stack.post("/ps/service/members/resetpassword",
                         {"token": token, "member-password": GOOD_PW}),
              "password-changed")


def _request(stack):
    assert_ok(stack.post("/ps/service/members/resetpassword",
                         {"member-username": "alice"}), "request-successful")
    (msg,) = mails_to(stack, ALICE, 1)
    return msg


def test_token_check_refusals(stack, alice):
    bob = add_member(stack, "bob")
    _, token = token_of(_request(stack))
    before = snapshot(stack)
    for path in ("/ps/service/members/%d?token=%s" % (bob, token),
                 "/ps/service/members/bob?token=" + token,
                 "/ps/service/members/alice?token=" + "A" * 32,
                 "/ps/service/members/alice",
                 "/ps/service/members/nobody?token=" + token):
        assert_error(get(stack, path), "102A", 400,
                     request=path.split("?")[0])
    assert_error(stack.request("POST", "/ps/service/members/alice",
                               b"token=" + token.encode(),
                               {"Content-Type":
                                "application/x-www-form-urlencoded"}),
                 "0102", 404)
    assert snapshot(stack) == before


# ---- answers of the core in words (SPEC §9) ---------------------------------

def test_rate_limited_says_when(stack, restart):
    restart({("ratelimit", "per_address"): "2"})
    for _ in range(2):
        assert_page(post(stack, FORGOT, {"member-username": "nobody"}))
    r = post(stack, FORGOT, {"member-username": "nobody"})
    body = assert_page(r, 429)
    assert int(r.headers.get("Retry-After")) > 0
    assert re.search(r"Try again in \d+ minutes?\.", body)
    assert "0108" not in body


def test_token_failures_do_not_count_on_get(stack, alice, restart):
    """The token-failure budget belongs to the POST: a GET with a bad
    token, however often, never spends it."""
    restart({("ratelimit", "token_failures"): "2"})
    bad = CHANGE + "?member=%d&token=%s" % (alice, "A" * 32)
    for _ in range(5):
        assert_page(get(stack, bad), 400)
    link = ask_link(stack)
    fields = form_fields(html(get(stack, link)))
    bad_form = dict(fields, **{"member-password": GOOD_PW,
                               "member-password-confirm": GOOD_PW,
                               "token": "A" * 32})
    for _ in range(2):
        assert "no longer works" in assert_page(post(stack, CHANGE,
                                                     bad_form), 400)
    # the POSTs did count: the third answers 0108, in words
    r = post(stack, CHANGE, bad_form)
    body = assert_page(r, 429)
    assert "Too many attempts" in body and "0108" not in body
    assert re.search(r"Try again in \d+ minutes?\.", body)


def test_locked_member_told_in_words(stack):
    add_member(stack, "carol", status="disabled")
    body = assert_page(post(stack, FORGOT, {"member-username": "carol"}),
                       400)
    assert "Contact an administrator" in body and "1019" not in body
