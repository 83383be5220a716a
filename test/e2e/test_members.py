"""End-to-end tests of /members/resetpassword (SPEC §1–§7) through nginx,
pwreset, a real PostgreSQL and the SMTP sink.  One function per behaviour."""

import re
import threading
import time

import pytest

from pwr import (API_MEMBERS, GOOD_PW, JSON_TYPE, MEMBERS, OTHER_PW,
                 SUBJECT_CHANGED, SUBJECT_RESET, XML_TYPE, add_member,
                 admin_token, answer, assert_error, assert_nothing_written,
                 assert_ok, bearer, check_password, content_type, count,
                 html_of, mails_to, member_row, request_token, text_of,
                 token_of)

ALICE = "alice@example.test"


@pytest.fixture
def alice(stack):
    return add_member(stack, "alice", email=ALICE, firstname="Alice",
                      lastname="Liddell")


@pytest.fixture
def admin(stack):
    """An admin member and its bearer token."""
    add_member(stack, "root-admin", admin=True, firstname="Ada",
               lastname="Admin")
    return admin_token(stack, "root-admin")


# ---- step 1 ------------------------------------------------------------------

def _step1_mail(stack, member_id, form):
    assert_ok(stack.post(MEMBERS, form), "request-successful")
    (msg,) = mails_to(stack, ALICE, 1)
    assert msg["Subject"] == SUBJECT_RESET
    assert msg["To"].addresses[0].addr_spec == ALICE
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    mid, token = token_of(msg)
    assert mid == member_id
    link = "%s/email/changepassword?member=%d&token=%s" % (
        stack.config_items()[("service", "hosturl")], member_id, token)
    assert link in text_of(msg)
    assert "Alice Liddell" in text_of(msg)
    # The token works: step 2 without a password answers pending.
    assert_ok(stack.post(MEMBERS, {"token": token,
                                   "member-username": "alice"}), "pending")
    assert count(stack, "reset_token", at_least=1) == 1
    return token


def test_step1_by_username(stack, alice):
    _step1_mail(stack, alice, {"member-username": "alice"})


def test_step1_by_email_case_insensitive(stack, alice):
    _step1_mail(stack, alice, {"email": "ALICE@Example.TEST"})


def test_step1_by_username_and_email(stack, alice):
    _step1_mail(stack, alice, {"member-username": "Alice",
                               "email": "alice@EXAMPLE.test"})


def test_step1_username_and_email_of_different_members(stack, alice, admin):
    add_member(stack, "bob")
    form = {"member-username": "alice", "email": "bob@example.test"}
    assert_ok(stack.post(MEMBERS, form), "request-successful")
    assert count(stack, "mail_outbox") == 0
    assert count(stack, "reset_token") == 0
    assert_error(stack.post(MEMBERS, form, headers=bearer(admin)), "100E")
    assert stack.mails(1, 1.0) == []


def test_unknown_member_answers_like_a_known_one(stack, alice):
    def strip(resp):
        return (resp.status, [(k.lower(), v) for k, v in resp.headers.items()
                              if k.lower() != "date"], resp.body)

    for unknown, known in (({"member-username": "nobody"},
                            {"member-username": "alice"}),
                           ({"email": "nobody@example.test"},
                            {"email": ALICE})):
        stack.sql("TRUNCATE mail_outbox, reset_token")
        r_unknown = stack.post(MEMBERS, unknown)
        assert count(stack, "mail_outbox") == 0
        assert count(stack, "reset_token") == 0
        r_known = stack.post(MEMBERS, known)
        assert count(stack, "mail_outbox", at_least=1) == 1
        assert strip(r_unknown) == strip(r_known)
        assert_ok(r_unknown, "request-successful")


def test_no_identifier_anonymous(stack, alice):
    assert_ok(stack.post(MEMBERS, {}), "request-successful")
    # Empty values count as absent.
    assert_ok(stack.post(MEMBERS, {"email": "", "member-username": ""}),
              "request-successful")
    assert_nothing_written(stack)


def test_no_identifier_admin(stack, admin):
    assert_error(stack.post(MEMBERS, {}, headers=bearer(admin)), "1008",
                 request=MEMBERS)


def test_admin_unknown_member(stack, admin):
    assert_error(stack.post(MEMBERS, {"member-username": "nobody"},
                            headers=bearer(admin)), "100E")
    assert_error(stack.post(MEMBERS, {"email": "nobody@example.test"},
                            headers=bearer(admin)), "100E")
    assert_nothing_written(stack)


def test_admin_resets_a_member(stack, alice, admin):
    assert_ok(stack.post(MEMBERS, {"member-username": "alice"},
                         headers=bearer(admin)), "request-successful")
    (msg,) = mails_to(stack, ALICE, 1)
    token_of(msg)


def test_wrong_bearer_is_anonymous(stack, alice, admin):
    wrong = "A" * 32 if admin != "A" * 32 else "B" * 32
    for h in (bearer(wrong), {"Authorization": "Bearer"},
              {"Authorization": "Basic YWxpY2U6eA=="}, bearer(admin + "x")):
        assert_ok(stack.post(MEMBERS, {}, headers=h), "request-successful")
        assert_ok(stack.post(MEMBERS, {"member-username": "nobody"},
                             headers=h), "request-successful")
    assert_nothing_written(stack)


def test_revoked_bearer_is_anonymous(stack, admin):
    assert_error(stack.post(MEMBERS, {}, headers=bearer(admin)), "1008")
    r = stack.ctl("token", "revoke", "root-admin")
    assert r.returncode == 0, r.stderr
    assert_ok(stack.post(MEMBERS, {}, headers=bearer(admin)),
              "request-successful")


def test_bearer_of_a_demoted_admin_is_anonymous(stack, alice, admin):
    assert_error(stack.post(MEMBERS, {}, headers=bearer(admin)), "1008")
    stack.sql("UPDATE member SET is_admin = false"
              " WHERE username = 'root-admin'")
    assert_ok(stack.post(MEMBERS, {}, headers=bearer(admin)),
              "request-successful")
    r = stack.ctl("token", "issue", "alice")
    assert r.returncode != 0  # tokens are for admins only


@pytest.mark.parametrize("bad", ["alice", "alice@", "@example.test",
                                 "alice@example", "al ice@example.test",
                                 "alice@@example.test",
                                 "alice@example..test",
                                 "a" * 95 + "@example.test"])
def test_invalid_email(stack, alice, admin, bad):
    assert_error(stack.post(MEMBERS, {"email": bad}), "1002")
    assert_error(stack.post(MEMBERS, {"email": bad}, headers=bearer(admin)),
                 "1002")
    # Also when a valid username comes with it (rule 3 before rule 4).
    assert_error(stack.post(MEMBERS, {"email": bad,
                                      "member-username": "alice"}), "1002")
    assert_nothing_written(stack)


def _state_members(stack):
    add_member(stack, "api-user", api=True)
    add_member(stack, "locked-user")
    stack.ctl("member", "lock", "locked-user", "--minutes", "30")
    assert member_row(stack, "locked-user")["locked"]
    add_member(stack, "disabled-user", status="disabled")
    add_member(stack, "mailless", email=None)
    return {"api-user": "1018", "locked-user": "1019",
            "disabled-user": "1019", "mailless": "100F"}


def test_account_state_errors(stack, admin):
    for user, err in _state_members(stack).items():
        for h in ({}, bearer(admin)):
            assert_error(stack.post(MEMBERS, {"member-username": user},
                                    headers=h), err)
    assert_nothing_written(stack)


def test_account_state_by_email(stack):
    _state_members(stack)
    assert_error(stack.post(MEMBERS, {"email": "api-user@example.test"}),
                 "1018")
    assert_error(stack.post(MEMBERS, {"email": "locked-user@EXAMPLE.test"}),
                 "1019")
    assert_nothing_written(stack)


def test_expired_lock_does_not_block(stack, alice):
    stack.sql("UPDATE member SET locked_until = now() - interval '1 minute'"
              " WHERE username = 'alice'")
    assert_ok(stack.post(MEMBERS, {"member-username": "alice"}),
              "request-successful")
    mails_to(stack, ALICE, 1)


def test_hide_account_state(stack, restart, admin):
    restart({("privacy", "hide_account_state"): "true"})
    states = _state_members(stack)
    for user in states:
        assert_ok(stack.post(MEMBERS, {"member-username": user}),
                  "request-successful")
    assert_nothing_written(stack)
    # Admins still learn why.
    for user, err in states.items():
        assert_error(stack.post(MEMBERS, {"member-username": user},
                                headers=bearer(admin)), err)
    assert_nothing_written(stack)


def test_step1_ignores_password_without_token(stack, alice):
    add_member(stack, "alice2", password=GOOD_PW)
    assert_ok(stack.post(MEMBERS, {"member-username": "alice2",
                                   "member-password": OTHER_PW}),
              "request-successful")
    assert check_password(stack, "alice2", GOOD_PW)
    mails_to(stack, "alice2@example.test", 1)


def test_step1_never_waits_for_smtp(stack, alice):
    # A relay that takes 3 s to accept DATA: step 1 must not wait for it,
    # whatever notify-async says (SPEC §7).
    stack.restart_sink("--delay", "3")
    for async_ in ("false", "true"):
        t0 = time.monotonic()
        assert_ok(stack.post(MEMBERS, {"member-username": "alice",
                                       "notify-async": async_}),
                  "request-successful")
        assert time.monotonic() - t0 < 2.0
    mails_to(stack, ALICE, 2, timeout=20)


# ---- step 2 ------------------------------------------------------------------

def test_step2_changes_password(stack):
    add_member(stack, "alice", email=ALICE, password=OTHER_PW)
    token = request_token(stack, "alice")
    assert_ok(stack.post(MEMBERS, {"member-username": "alice",
                                   "token": token,
                                   "member-password": GOOD_PW}),
              "password-changed")
    assert check_password(stack, "alice", GOOD_PW)
    assert not check_password(stack, "alice", OTHER_PW)
    row = member_row(stack, "alice")
    assert row["password_changed_at"] is not None
    (msg,) = mails_to(stack, ALICE, 1, subject=SUBJECT_CHANGED)
    assert msg["Auto-Submitted"] == "auto-generated"
    assert token not in msg.as_string()
    # Single use.
    assert_error(stack.post(MEMBERS, {"member-username": "alice",
                                      "token": token,
                                      "member-password": OTHER_PW}), "102A")
    assert check_password(stack, "alice", GOOD_PW)


def test_step2_by_email_and_by_token_alone(stack, alice):
    token = request_token(stack, "alice")
    assert_ok(stack.post(MEMBERS, {"token": token}), "pending")
    assert_ok(stack.post(MEMBERS, {"email": "Alice@example.test",
                                   "token": token}), "pending")
    assert_ok(stack.post(MEMBERS, {"token": token,
                                   "member-password": GOOD_PW}),
              "password-changed")
    assert check_password(stack, "alice", GOOD_PW)


def test_step2_notify_async(stack, alice):
    token = request_token(stack, "alice")
    assert_ok(stack.post(MEMBERS, {"token": token, "member-password": GOOD_PW,
                                   "notify-async": "true"}),
              "password-changed")
    mails_to(stack, ALICE, 1, subject=SUBJECT_CHANGED)


def test_key_parameter(stack, alice):
    token = request_token(stack, "alice")
    assert_error(stack.post(MEMBERS, {"member-username": "alice",
                                      "key": "x" * 32,
                                      "member-password": GOOD_PW}), "1024")
    assert_error(stack.post(MEMBERS, {"member-username": "alice",
                                      "key": "short"}), "1024")
    # token wins over key: a bad token with a good key is 102A.
    assert_error(stack.post(MEMBERS, {"member-username": "alice",
                                      "token": "y" * 32, "key": token,
                                      "member-password": GOOD_PW}), "102A")
    assert_ok(stack.post(MEMBERS, {"member-username": "alice", "key": token}),
              "pending")
    assert_ok(stack.post(MEMBERS, {"member-username": "alice", "key": token,
                                   "member-password": GOOD_PW}),
              "password-changed")
    assert check_password(stack, "alice", GOOD_PW)
    assert_error(stack.post(MEMBERS, {"member-username": "alice",
                                      "key": token,
                                      "member-password": OTHER_PW}), "1024")


@pytest.mark.parametrize("bad", ["x" * 32, "short", "x" * 33,
                                 "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"])
def test_invalid_token(stack, alice, bad):
    request_token(stack, "alice")
    assert_error(stack.post(MEMBERS, {"member-username": "alice",
                                      "token": bad,
                                      "member-password": GOOD_PW}), "102A")
    assert_error(stack.post(MEMBERS, {"email": ALICE, "token": bad}), "102A")


def test_unknown_token_alone(stack, alice, admin):
    # Rule 4: with a token and no identifier the member is the token's;
    # a token that names nobody is "no member found" for an admin, and
    # for anyone else a token that fails (SPEC §4 "Token first").
    request_token(stack, "alice")
    for bad in ("x" * 32, "short"):
        assert_error(stack.post(MEMBERS, {"token": bad,
                                          "member-password": GOOD_PW}),
                     "102A")
        assert_error(stack.post(MEMBERS, {"token": bad},
                                headers=bearer(admin)), "100E")
    assert count(stack, "mail_outbox", at_least=1) == 1
    assert not check_password(stack, "alice", GOOD_PW)


def test_token_of_another_member(stack, alice):
    add_member(stack, "bob")
    request_token(stack, "alice")
    bob_token = request_token(stack, "bob")
    assert_error(stack.post(MEMBERS, {"member-username": "alice",
                                      "token": bob_token,
                                      "member-password": GOOD_PW}), "102A")
    assert_error(stack.post(MEMBERS, {"email": ALICE, "token": bob_token}),
                 "102A")
    assert not check_password(stack, "alice", GOOD_PW)
    assert not check_password(stack, "bob", GOOD_PW)
    # Bob's token is still good for Bob.
    assert_ok(stack.post(MEMBERS, {"member-username": "bob",
                                   "token": bob_token,
                                   "member-password": GOOD_PW}),
              "password-changed")


def test_expired_token(stack, restart, alice):
    restart({("service", "token_ttl"): "1"})
    token = request_token(stack, "alice")
    time.sleep(2)
    assert_error(stack.post(MEMBERS, {"member-username": "alice",
                                      "token": token,
                                      "member-password": GOOD_PW}), "102A")
    assert_error(stack.post(MEMBERS, {"token": token}), "102A")


def test_new_request_kills_older_token(stack, alice):
    old = request_token(stack, "alice")
    new = request_token(stack, "alice")
    assert old != new
    assert_error(stack.post(MEMBERS, {"member-username": "alice",
                                      "token": old,
                                      "member-password": GOOD_PW}), "102A")
    assert_ok(stack.post(MEMBERS, {"member-username": "alice",
                                   "token": new}), "pending")


def test_pending_keeps_token(stack, alice):
    token = request_token(stack, "alice")
    for _ in range(3):
        a = assert_ok(stack.post(MEMBERS, {"member-username": "alice",
                                           "token": token}), "pending")
        assert a.admin is None  # no admin attribute for members
        assert b"admin" not in a.resp.body
    assert_ok(stack.post(MEMBERS, {"member-username": "alice",
                                   "token": token,
                                   "member-password": GOOD_PW}),
              "password-changed")


def test_pending_for_admin_member(stack):
    add_member(stack, "boss", admin=True)
    token = request_token(stack, "boss")
    assert_ok(stack.post(MEMBERS, {"member-username": "boss",
                                   "token": token}), "pending", admin=True)
    r = stack.post(MEMBERS + ".json", {"member-username": "boss",
                                       "token": token})
    assert r.json() == {"status": "pending", "admin": True}


def test_admin_member_needs_strong_password(stack):
    add_member(stack, "boss", admin=True)
    token = request_token(stack, "boss")
    # MEDIUM (7 code points, 4 classes) is enough for a member, not an admin.
    assert_error(stack.post(MEMBERS, {"member-username": "boss",
                                      "token": token,
                                      "member-password": "Gx7#kLm"}), "1015")
    assert_ok(stack.post(MEMBERS, {"member-username": "boss",
                                   "token": token,
                                   "member-password": GOOD_PW}),
              "password-changed")


@pytest.mark.parametrize("weak", ["short1", "abcdefgh", "aaaaaaaaaaaa",
                                  "   ", "Ab12345", "Qx7aaab"])
def test_weak_password_keeps_token(stack, alice, weak):
    token = request_token(stack, "alice")
    assert_error(stack.post(MEMBERS, {"member-username": "alice",
                                      "token": token,
                                      "member-password": weak}), "1015")
    assert not check_password(stack, "alice", weak)
    assert count(stack, "mail_outbox", "kind = 'change-password'") == 0
    assert_ok(stack.post(MEMBERS, {"member-username": "alice",
                                   "token": token,
                                   "member-password": GOOD_PW}),
              "password-changed")


def test_password_equal_to_username(stack):
    user = "Alice.Liddell-1865"
    add_member(stack, user, email=ALICE)
    token = request_token(stack, user, email=ALICE)
    assert_error(stack.post(MEMBERS, {"member-username": user,
                                      "token": token,
                                      "member-password": user.lower()}),
                 "1016")
    assert_ok(stack.post(MEMBERS, {"member-username": user, "token": token,
                                   "member-password": GOOD_PW}),
              "password-changed")


def test_password_of_100_characters(stack, alice):
    token = request_token(stack, "alice")
    pw100 = ("Vx7#kLm2qP" * 10)
    assert len(pw100) == 100
    assert_error(stack.post(MEMBERS, {"member-username": "alice",
                                      "token": token,
                                      "member-password": pw100}), "1015")
    # Code points, not bytes: 99 two-byte characters plus ASCII classes.
    pw99 = pw100[:99]
    assert_ok(stack.post(MEMBERS, {"member-username": "alice",
                                   "token": token,
                                   "member-password": pw99}),
              "password-changed")
    assert check_password(stack, "alice", pw99)


def test_password_length_counts_code_points(stack, alice):
    token = request_token(stack, "alice")
    pw = "Ééx7#" + "ü" * 94 + "Q"  # 100 code points, ~200 bytes
    assert len(pw) == 100
    assert_error(stack.post(MEMBERS, {"member-username": "alice",
                                      "token": token,
                                      "member-password": pw}), "1015")
    pw = "Xé7#kLm2qPz!ü"  # 13 code points, 4 classes
    assert_ok(stack.post(MEMBERS, {"member-username": "alice",
                                   "token": token,
                                   "member-password": pw}),
              "password-changed")
    assert check_password(stack, "alice", pw)


@pytest.mark.parametrize("banned", ["PassW0rd", "iloveyou1", "trustno1"])
def test_banned_password(stack, alice, banned):
    # Each of these would be MEDIUM by length and classes alone.
    with open("/usr/share/john/password.lst", encoding="latin-1") as f:
        listed = {line.strip().lower() for line in f
                  if not line.startswith("#!")}
    assert banned.lower() in listed
    token = request_token(stack, "alice")
    assert_error(stack.post(MEMBERS, {"member-username": "alice",
                                      "token": token,
                                      "member-password": banned}), "1015")
    assert_ok(stack.post(MEMBERS, {"member-username": "alice",
                                   "token": token}), "pending")


def test_locked_after_issue_is_unlocked_by_step2(stack, alice):
    token = request_token(stack, "alice")
    r = stack.ctl("member", "lock", "alice", "--minutes", "30")
    assert r.returncode == 0, r.stderr
    stack.sql("UPDATE member SET failed_logins = 5 WHERE username = 'alice'")
    assert member_row(stack, "alice")["locked"]
    assert_ok(stack.post(MEMBERS, {"member-username": "alice",
                                   "token": token,
                                   "member-password": GOOD_PW}),
              "password-changed")
    row = member_row(stack, "alice")
    assert not row["locked"]
    assert row["failed_logins"] == 0
    show = stack.ctl("member", "show", "alice")
    assert show.returncode == 0, show.stderr
    assert re.search(r"unlocked|locked\W+(no|false|-)", show.stdout, re.I), \
        show.stdout


def test_disabled_after_issue(stack, alice):
    token = request_token(stack, "alice")
    r = stack.ctl("member", "disable", "alice")
    assert r.returncode == 0, r.stderr
    assert_error(stack.post(MEMBERS, {"member-username": "alice",
                                      "token": token,
                                      "member-password": GOOD_PW}), "1019")
    assert_error(stack.post(MEMBERS, {"token": token}), "1019")
    assert not check_password(stack, "alice", GOOD_PW)


def test_concurrent_step2_one_winner(stack, alice):
    token = request_token(stack, "alice")
    n = 20
    passwords = ["Vx7#kLm2qP-%02d" % i for i in range(n)]
    results = [None] * n
    barrier = threading.Barrier(n)

    def go(i):
        barrier.wait()
        results[i] = stack.post(MEMBERS, {"member-username": "alice",
                                          "token": token,
                                          "member-password": passwords[i]})

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    answers = [answer(r) for r in results]
    winners = [i for i, a in enumerate(answers)
               if a.kind == "reset-password" and a.status == "password-changed"]
    losers = [a for a in answers if a.kind == "error" and a.id == "102A"]
    assert len(winners) == 1, answers
    assert len(losers) == n - 1, answers
    assert all(r.status == 400 for i, r in enumerate(results)
               if i not in winners)
    assert check_password(stack, "alice", passwords[winners[0]])
    for i in range(n):
        if i != winners[0]:
            assert not check_password(stack, "alice", passwords[i])
            break
    assert count(stack, "mail_outbox", "kind = 'change-password'") == 1


# ---- routing and formats -----------------------------------------------------

def test_unknown_path(stack):
    for path in ("/ps/service/members/nothing", "/ps/service/members",
                 "/ps/service/members/resetpassword/more",
                 "/ps/service/members/resetpassword.html"):
        assert_error(stack.post(path, {}), "0102", 404, request=path)


def test_query_string_is_not_part_of_request(stack, alice):
    r = stack.post(MEMBERS, {}, query={"member-username": "alice"})
    assert_ok(r, "request-successful")
    mails_to(stack, ALICE, 1)
    a = assert_error(stack.post(MEMBERS, {"email": "bad"}, query="x=1"),
                     "1002")
    assert a.request == MEMBERS


def test_body_wins_over_query(stack, alice):
    add_member(stack, "bob")
    assert_ok(stack.post(MEMBERS, {"member-username": "alice"},
                         query={"member-username": "bob"}),
              "request-successful")
    mails_to(stack, ALICE, 1)
    assert stack.mails(0, 0, to="bob@example.test") == []


def test_get_is_refused(stack, alice):
    r = stack.request("GET", MEMBERS + "?member-username=alice")
    assert_error(r, "0103", 400)
    r = stack.request("PUT", MEMBERS, b"member-username=alice",
                      {"Content-Type": "application/x-www-form-urlencoded"})
    assert_error(r, "0103", 400)
    assert_nothing_written(stack)


def test_xml_is_the_default(stack):
    r = stack.post(MEMBERS, {})
    assert content_type(r) == XML_TYPE
    assert answer(r).format == "xml"
    r = stack.post(MEMBERS + ".xml", {})
    assert content_type(r) == XML_TYPE
    assert_ok(r, "request-successful")


def test_json_suffix(stack, alice):
    r = stack.post(MEMBERS + ".json", {"member-username": "alice"})
    assert content_type(r) == JSON_TYPE
    assert r.json() == {"status": "request-successful"}
    r = stack.post(MEMBERS + ".json", {"email": "bad"})
    assert content_type(r) == JSON_TYPE
    assert r.status == 400
    doc = r.json()
    assert doc["id"] == "1002"
    assert doc["request"] == MEMBERS + ".json"
    assert doc["message"]
    assert set(doc) == {"id", "request", "message"}


def test_accept_json(stack):
    r = stack.post(MEMBERS, {}, headers={"Accept": "application/json"})
    assert content_type(r) == JSON_TYPE
    assert r.json() == {"status": "request-successful"}
    r = stack.post("/ps/service/members/nothing", {},
                   headers={"Accept": "application/json"})
    assert r.status == 404
    assert r.json()["id"] == "0102"


def test_api_route(stack, alice):
    r = stack.post(API_MEMBERS, {"member-username": "alice"})
    assert_ok(r, "request-successful")
    (msg,) = mails_to(stack, ALICE, 1)
    _, token = token_of(msg)
    assert_ok(stack.post(API_MEMBERS + ".json", {"token": token}), "pending")
    assert_error(stack.post(API_MEMBERS, {"email": "bad"}), "1002",
                 request=API_MEMBERS)
    assert_ok(stack.post(API_MEMBERS, {"token": token,
                                       "member-password": GOOD_PW}),
              "password-changed")


# ---- malformed input ---------------------------------------------------------

@pytest.mark.parametrize("ctype", ["text/plain", "application/json",
                                   "multipart/form-data; boundary=x", None])
def test_wrong_content_type(stack, alice, ctype):
    r = stack.post(MEMBERS, b"member-username=alice", content_type=ctype)
    assert_error(r, "0107", 415)
    assert_nothing_written(stack)


def test_content_type_with_charset(stack, alice):
    r = stack.post(MEMBERS, b"member-username=alice",
                   content_type="application/x-www-form-urlencoded; "
                                "charset=UTF-8")
    assert_ok(r, "request-successful")


def test_body_too_large(stack, alice):
    pad = b"&x=" + b"a" * 20000
    r = stack.post(MEMBERS, b"member-username=alice" + pad)
    assert_error(r, "0106", 413)
    assert_nothing_written(stack)
    # Exactly max_body (16 KiB) is fine.
    body = b"member-username=alice&x="
    body += b"a" * (16384 - len(body))
    assert_ok(stack.post(MEMBERS, body), "request-successful")
    r = stack.post(MEMBERS, body + b"a")
    assert_error(r, "0106", 413)


@pytest.mark.parametrize("body", [
    b"member-username=alice&email=%zz",
    b"member-username=alice&email=%4",
    b"member-username=alice%",
    b"member-username=al%00ice",
    b"member-username=alice&x=%00",
    b"member-username=alice&x=%C0%AF",
    b"member-username=alice&x=%FF",
    b"member-username=alice&x=%ED%A0%80",
    b"member-username=alice&x=\xff",
    b"member-username=alice&x=a\x00b",
    b"member-username=alice&member-username=alice",
    b"member-username=alice&token=a&token=b",
])
def test_malformed_body(stack, alice, body):
    assert_error(stack.post(MEMBERS, body), "0105", 400)
    assert_nothing_written(stack)


def test_malformed_query(stack, alice):
    assert_error(stack.post(MEMBERS, {}, query="member-username=%FF"),
                 "0105", 400)
    assert_nothing_written(stack)


# ---- headers and links -------------------------------------------------------

SECURITY_HEADERS = {"Cache-Control": "no-store",
                    "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer"}


def test_security_headers_on_every_answer(stack, alice):
    token = request_token(stack, "alice")
    responses = [
        stack.post(MEMBERS, {"member-username": "alice"}),        # 200
        stack.post(MEMBERS, {"token": token}),                    # pending
        stack.post(MEMBERS, {"token": "x" * 32}),                 # 102A
        stack.post(MEMBERS, {"email": "bad"}),                    # 1002
        stack.post(MEMBERS + ".json", {"email": "bad"}),          # JSON error
        stack.post("/ps/service/nothing", {}),                    # 0102
        stack.request("GET", MEMBERS),                            # 0103
        stack.post(MEMBERS, b"x", content_type="text/plain"),     # 0107
        stack.post(MEMBERS, b"x=" + b"a" * 17000),                # 0106
        stack.post(MEMBERS, b"x=%zz"),                            # 0105
    ]
    for r in responses:
        for k, v in SECURITY_HEADERS.items():
            assert r.headers.get(k) == v, (r.status, k, r.headers.items())
        answer(r)  # every one is XML or JSON from pwreset


def test_link_uses_hosturl_only(stack, alice):
    h = {"Host": "evil.example", "X-Forwarded-Host": "evil.example",
         "Forwarded": "host=evil.example;proto=https",
         "X-Forwarded-Proto": "https"}
    assert_ok(stack.post(MEMBERS, {"member-username": "alice"}, headers=h),
              "request-successful")
    (msg,) = mails_to(stack, ALICE, 1)
    hosturl = stack.config_items()[("service", "hosturl")]
    assert "evil.example" not in msg.as_string()
    assert hosturl + "/email/changepassword?member=" in text_of(msg)
    assert hosturl + "/email/changepassword?member=" in html_of(msg)


def test_mail_is_escaped(stack):
    add_member(stack, "mallory", firstname="<b>Mal</b>", lastname="O&Rly")
    assert_ok(stack.post(MEMBERS, {"member-username": "mallory"}),
              "request-successful")
    (msg,) = mails_to(stack, "mallory@example.test", 1)
    html = html_of(msg)
    assert "<b>Mal</b>" not in html
    assert "&lt;b&gt;Mal&lt;/b&gt;" in html
    assert "<b>Mal</b> O&Rly" in text_of(msg)


# ---- hashes and secrets ------------------------------------------------------

def test_hash_with_test_cost(stack, alice):
    token = request_token(stack, "alice")
    assert_ok(stack.post(MEMBERS, {"token": token,
                                   "member-password": GOOD_PW}),
              "password-changed")
    phc = member_row(stack, "alice")["password_hash"]
    assert phc.startswith("$argon2id$v=19$m=1024,t=1,p=1$"), phc


def test_production_argon2_defaults(stack, restart, alice):
    restart({("argon2", "m_cost"): None, ("argon2", "t_cost"): None})
    token = request_token(stack, "alice")
    assert_ok(stack.post(MEMBERS, {"member-username": "alice",
                                   "token": token,
                                   "member-password": GOOD_PW}),
              "password-changed")
    phc = member_row(stack, "alice")["password_hash"]
    assert phc.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), phc
    salt, digest = phc.split("$")[4:6]
    assert len(salt) == 22  # 16 bytes, base64 without padding
    assert check_password(stack, "alice", GOOD_PW)


def test_no_secret_in_log(stack, alice, admin):
    start = stack.log_size()
    token = request_token(stack, "alice")
    assert_error(stack.post(MEMBERS, {"token": token,
                                      "member-password": "weakpw"}), "1015")
    assert_ok(stack.post(MEMBERS, {"member-username": "alice",
                                   "token": token,
                                   "member-password": GOOD_PW},
                         headers=bearer(admin)), "password-changed")
    mails_to(stack, ALICE, 1, subject=SUBJECT_CHANGED)
    phc = member_row(stack, "alice")["password_hash"]
    time.sleep(0.5)  # let the mailer log what it logs
    log = stack.log_text(start)
    assert log.strip(), "pwreset logged nothing at level debug"
    for secret in (token, GOOD_PW, "weakpw", phc, phc.split("$")[-1],
                   phc.split("$")[-2], admin):
        assert secret not in log, "secret in pwreset.log"
    quoted = GOOD_PW.replace("#", "%23").replace("!", "%21")
    assert quoted not in log
    # Nor in the outbox once the mail is sent.
    rows = stack.sql("SELECT message FROM mail_outbox WHERE sent_at IS NOT"
                     " NULL")
    assert rows and all(r[0] is None for r in rows)
