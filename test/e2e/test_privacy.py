"""Privacy of the reset service (SPEC §4 "Token first", "One live token";
§8 "Limits, precisely"): an anonymous caller with a made-up token learns
nothing about any account; a member never has more than one valid token,
however many step-1 requests for them run at once."""

import threading

import pytest

from pwr import (GOOD_PW, MEMBERS, SUBJECT_RESET, add_member, admin_token,
                 answer, assert_error, assert_ok, bearer, ctl_ok, mails_to,
                 request_token, token_of)

ALICE = "alice@example.test"
GROUP = "/ps/service/groups/team/members/resetpassword"
WRONG = "A" * 32


@pytest.fixture
def accounts(stack):
    add_member(stack, "alice", email=ALICE)
    add_member(stack, "api-user", api=True)
    add_member(stack, "disabled-user", status="disabled")
    add_member(stack, "mailless", email=None)
    add_member(stack, "outsider")
    ctl_ok(stack, "group", "add", "team")
    ctl_ok(stack, "group", "add-member", "team", "alice")


def _probes(alice_token):
    """(path, form) pairs whose token fails, each naming something
    different: a member, nobody, accounts in every state, a member outside
    the group, another member's valid token, a token alone."""
    out = []
    for name in ("alice", "nobody", "api-user", "disabled-user",
                 "mailless", "outsider"):
        out.append((MEMBERS, {"member-username": name, "token": WRONG}))
        out.append((MEMBERS, {"email": name + "@example.test",
                              "token": WRONG}))
    out.append((GROUP, {"member-username": "outsider", "token": WRONG}))
    out.append((GROUP, {"member-username": "nobody", "token": WRONG}))
    out.append((MEMBERS, {"member-username": "outsider",
                          "token": alice_token}))
    out.append((MEMBERS, {"member-username": "disabled-user",
                          "token": alice_token}))
    out.append((MEMBERS, {"token": WRONG}))
    return out


@pytest.mark.parametrize("hide", ["false", "true"])
def test_failed_token_tells_nothing(stack, restart, accounts, hide):
    restart({("privacy", "hide_account_state"): hide})
    alice_token = request_token(stack, "alice")
    bodies = set()
    for path, form in _probes(alice_token):
        r = stack.post(path, form)
        assert_error(r, "102A")
        bodies.add((path.startswith(GROUP), r.status, r.body))
        form = dict(form, key=form.pop("token"))
        r = stack.post(path, form)
        assert_error(r, "1024")
        bodies.add((path.startswith(GROUP), "key", r.status, r.body))
    # One answer per route and parameter, byte for byte.
    assert len(bodies) == 4, bodies
    # The probes consumed nothing: alice's token still works.
    assert_ok(stack.post(MEMBERS, {"member-username": "alice",
                                   "token": alice_token}), "pending")


def test_state_told_to_the_token_holder_only(stack, accounts):
    for name, err in (("api-user", "1018"), ("mailless", "100F")):
        uid = stack.sql("SELECT id FROM member WHERE username = %s",
                        (name,))[0][0]
        # A token for an account step 1 would refuse, as an old link
        # would be after the account changed.
        stack.sql("INSERT INTO reset_token (member_id, token_hash, "
                  "expires_at) VALUES (%s, sha256(%s::bytea), "
                  "now() + interval '1 hour')", (uid, "B" * 32))
        assert_error(stack.post(MEMBERS, {"member-username": name,
                                          "token": "B" * 32}), err)
        assert_error(stack.post(MEMBERS, {"member-username": name,
                                          "token": WRONG}), "102A")
        stack.sql("DELETE FROM reset_token WHERE member_id = %s", (uid,))
    token = request_token(stack, "alice")
    ctl_ok(stack, "member", "disable", "alice")
    assert_error(stack.post(MEMBERS, {"member-username": "alice",
                                      "token": token}), "1019")


def test_admin_keeps_the_old_order(stack, accounts):
    add_member(stack, "root-admin", admin=True)
    h = bearer(admin_token(stack, "root-admin"))
    assert_error(stack.post(MEMBERS, {"member-username": "disabled-user",
                                      "token": WRONG}, headers=h), "1019")
    assert_error(stack.post(MEMBERS, {"member-username": "nobody",
                                      "token": WRONG}, headers=h), "100E")


def test_every_failed_token_counts(stack, restart, accounts):
    restart({("ratelimit", "token_failures"): "3"})
    token = request_token(stack, "alice")
    # Names that exist or not, in any state: each failure counts.
    for name in ("nobody", "disabled-user", "api-user"):
        assert_error(stack.post(MEMBERS, {"member-username": name,
                                          "token": WRONG}), "102A")
    assert_error(stack.post(MEMBERS, {"member-username": "nobody",
                                      "token": WRONG}), "0108", 429)
    # A valid token is never refused by this budget.
    assert_ok(stack.post(MEMBERS, {"member-username": "alice",
                                   "token": token}), "pending")
    assert_ok(stack.post(MEMBERS, {"member-username": "alice",
                                   "token": token,
                                   "member-password": GOOD_PW}),
              "password-changed")


def test_one_live_token_under_bursts(stack, restart):
    # Enough workers for the step 1s of one member to meet in the database.
    restart({("service", "workers"): "10"})
    members = ["burst%d" % i for i in range(10)]
    for m in members:
        add_member(stack, m)
    results = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(members) * 10)

    def go(name):
        barrier.wait()
        r = stack.post(MEMBERS, {"member-username": name})
        with lock:
            results.append(answer(r))

    threads = [threading.Thread(target=go, args=(m,))
               for m in members for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 100
    assert all(a.kind == "reset-password" and
               a.status == "request-successful" for a in results), results
    live = dict(stack.sql(
        "SELECT m.username, count(t.id) FROM member m LEFT JOIN "
        "reset_token t ON t.member_id = m.id AND t.used_at IS NULL AND "
        "t.invalidated_at IS NULL AND t.expires_at > now() "
        "WHERE m.username LIKE 'burst%%' GROUP BY m.username"))
    assert live == {m: 1 for m in members}, live
    # And from the outside: of the tokens mailed, exactly one works.
    for m in members:
        mails = mails_to(stack, m + "@example.test", 10,
                         subject=SUBJECT_RESET, timeout=30)
        valid = 0
        for msg in mails:
            _, tok = token_of(msg)
            a = answer(stack.post(MEMBERS, {"member-username": m,
                                            "token": tok}))
            if a.kind == "reset-password" and a.status == "pending":
                valid += 1
            else:
                assert a.id == "102A", a
        assert valid == 1, (m, valid)
