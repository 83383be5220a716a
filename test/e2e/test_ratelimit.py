"""Rate limits (SPEC §8 [ratelimit], error 0108): per identifier at step 1
(silently: request-successful, nothing sent), per client address (0108,
HTTP 429, Retry-After), per member, and for wrong tokens per address.  The stack's
defaults are generous; each test lowers one limit."""

from pwr import (MEMBERS, add_member, assert_error, assert_ok, count,
                 request_token)

ALICE = "alice@example.test"


def test_per_identifier_limit_is_silent(stack, restart):
    restart({("ratelimit", "per_identifier"): "2"})
    add_member(stack, "alice", email=ALICE)
    for _ in range(4):
        assert_ok(stack.post(MEMBERS, {"member-username": "alice"}),
                  "request-successful")
    # Exactly the limit: the identifier is counted before each answer, in
    # request order, and only the requests within its budget go on to the
    # member's budget, so the two budgets cannot give their slots to
    # different requests (whichever worker writes first).
    sent = count(stack, "mail_outbox", at_least=2)
    assert sent == 2, sent
    # Counted for unknown identifiers too, with the same answer.
    for _ in range(4):
        assert_ok(stack.post(MEMBERS, {"member-username": "nobody"}),
                  "request-successful")
    # Another identifier has its own budget.
    add_member(stack, "bob")
    assert_ok(stack.post(MEMBERS, {"member-username": "bob"}),
              "request-successful")
    assert count(stack, "mail_outbox", at_least=sent + 1) == sent + 1


def test_per_address_limit(stack, restart):
    restart({("ratelimit", "per_address"): "3"})
    for _ in range(3):
        assert_ok(stack.post(MEMBERS, {}), "request-successful")
    r = stack.post(MEMBERS, {})
    assert_error(r, "0108", 429)
    retry = r.headers.get("Retry-After")
    assert retry is not None and retry.isdigit() and int(retry) > 0, retry
    assert r.headers.get("Cache-Control") == "no-store"


def test_wrong_tokens_are_limited(stack, restart):
    restart({("ratelimit", "token_failures"): "3"})
    add_member(stack, "alice", email=ALICE)
    token = request_token(stack, "alice")
    for i in range(3):
        assert_error(stack.post(MEMBERS, {"member-username": "alice",
                                          "token": "%032d" % i}), "102A")
    assert_error(stack.post(MEMBERS, {"member-username": "alice",
                                      "token": "x" * 32}), "0108", 429)
    # A valid token is never refused by this budget (SPEC §8): over it,
    # only a token that fails answers 0108.
    assert_ok(stack.post(MEMBERS, {"member-username": "alice",
                                   "token": token}), "pending")
    assert_error(stack.post(MEMBERS, {"member-username": "nobody",
                                      "key": "y" * 32}), "0108", 429)
    # Step 1 is not a token guess.
    assert_ok(stack.post(MEMBERS, {"member-username": "nobody"}),
              "request-successful")


def test_identifiers_of_one_member_share_its_budget(stack, restart):
    # Username, email and both are three identifiers but one member: with
    # per_identifier = 1, one mail (SPEC §8 "Limits, precisely").
    restart({("ratelimit", "per_identifier"): "1"})
    add_member(stack, "alice", email=ALICE)
    for form in ({"member-username": "alice"}, {"email": ALICE},
                 {"member-username": "alice", "email": ALICE},
                 {"email": ALICE.upper()}):
        assert_ok(stack.post(MEMBERS, form), "request-successful")
    assert count(stack, "mail_outbox", at_least=1) == 1
