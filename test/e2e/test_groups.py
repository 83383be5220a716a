"""End-to-end tests of /groups/{group}/members/resetpassword (SPEC §1, §4
rule 1 and 4, §7 template lookup) through nginx."""

import pytest

from pwr import (SUBJECT_CHANGED, add_member, admin_token, assert_error,
                 assert_nothing_written, assert_ok, bearer, ctl_ok, mails_to,
                 token_of)

ALICE = "alice@example.test"
MISSING_GROUP = "Failed @Requires check: missing Group instance"


def group_path(group, api=False, suffix=""):
    return "/ps/%s/groups/%s/members/resetpassword%s" % (
        "api" if api else "service", group, suffix)


@pytest.fixture
def team(stack):
    """Group `team` (plain) with alice in it; bob outside it."""
    add_member(stack, "alice", email=ALICE, firstname="Alice",
               lastname="Liddell")
    add_member(stack, "bob")
    ctl_ok(stack, "group", "add", "team", "--description", "The team")
    ctl_ok(stack, "group", "add-member", "team", "alice")
    return stack.sql("SELECT id FROM member_group WHERE name = 'team'")[0][0]


def test_unknown_group(stack, team):
    for g in ("nogroup", "~nogroup", "999999"):
        path = group_path(g)
        a = assert_error(stack.post(path, {"member-username": "alice"}),
                         "0202", 404, request=path)
        assert a.message == MISSING_GROUP
    assert_nothing_written(stack)


def test_group_by_name_id_and_tilde(stack, team):
    for g in ("team", "TEAM", "~team", str(team)):
        stack.clear_mails()
        assert_ok(stack.post(group_path(g), {"member-username": "alice"}),
                  "request-successful")
        mails_to(stack, ALICE, 1)


def test_group_route_needs_membership(stack, team):
    assert_ok(stack.post(group_path("team"), {"member-username": "bob"}),
              "request-successful")
    assert_nothing_written(stack)
    admin = _admin(stack)
    assert_error(stack.post(group_path("team"), {"member-username": "bob"},
                            headers=bearer(admin)), "100E")


def _admin(stack):
    add_member(stack, "root-admin", admin=True)
    return admin_token(stack, "root-admin")


def test_group_two_steps(stack, team):
    assert_ok(stack.post(group_path("team", api=True, suffix=".json"),
                         {"email": ALICE}), "request-successful")
    (msg,) = mails_to(stack, ALICE, 1)
    _, token = token_of(msg)
    assert_ok(stack.post(group_path("team"), {"token": token}), "pending")
    assert_ok(stack.post(group_path("team"), {"member-username": "alice",
                                              "token": token,
                                              "member-password":
                                                  "Vx7#kLm2qPz!"}),
              "password-changed")
    mails_to(stack, ALICE, 1, subject=SUBJECT_CHANGED)


def test_group_template_set(stack, team):
    ctl_ok(stack, "group", "add", "brand", "--template", "example-brand",
           "--description", "Branded")
    ctl_ok(stack, "group", "add-member", "brand", "alice")
    assert_ok(stack.post(group_path("brand"), {"member-username": "alice"}),
              "request-successful")
    (msg,) = mails_to(stack, ALICE, 1)
    # example-brand overrides the reset mail's subject with the group name.
    assert msg["Subject"] == "brand: choose a new password"
    token_of(msg)
    # The plain route and a group without a set use the default set.
    stack.clear_mails()
    assert_ok(stack.post(group_path("team"), {"member-username": "alice"}),
              "request-successful")
    (msg,) = mails_to(stack, ALICE, 1)
    assert msg["Subject"] == "Update your password"
