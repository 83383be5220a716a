"""End-to-end tests of /groups/{group}/members/resetpassword (SPEC §1, §4
rule 1 and 4, §7 template lookup) through nginx."""

import os
import shutil

import pytest

from pwr import (SUBJECT_CHANGED, add_member, admin_token, assert_error,
                 assert_nothing_written, assert_ok, bearer, ctl_ok, html_of,
                 mails_to, text_of, token_of)

MEMBERS_PATH = "/ps/service/members/resetpassword"
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


def test_group_pending_admin(stack, team):
    add_member(stack, "chief", email="chief@example.test", admin=True)
    ctl_ok(stack, "group", "add-member", "team", "chief")
    assert_ok(stack.post(group_path("team"), {"member-username": "chief"}),
              "request-successful")
    (msg,) = mails_to(stack, "chief@example.test", 1)
    _, token = token_of(msg)
    assert_ok(stack.post(group_path("team"), {"member-username": "chief",
                                              "token": token}),
              "pending", admin=True)
    # a member's pending answer carries no admin flag
    assert_ok(stack.post(group_path("team"), {"member-username": "alice"}),
              "request-successful")
    (msg,) = mails_to(stack, ALICE, 1)
    _, token = token_of(msg)
    assert_ok(stack.post(group_path("team"), {"token": token}), "pending",
              admin=False)


def test_group_set_body_and_per_template_fallback(stack, team):
    ctl_ok(stack, "group", "add", "brand", "--template", "example-brand",
           "--description", "Branded & <bold>")
    ctl_ok(stack, "group", "add-member", "brand", "alice")
    assert_ok(stack.post(group_path("brand"), {"member-username": "alice"}),
              "request-successful")
    (msg,) = mails_to(stack, ALICE, 1)
    # the body is the group's set, with the group's values, escaped in HTML
    assert "Branded & <bold>" in text_of(msg)
    assert "Branded &amp; &lt;bold&gt;" in html_of(msg)
    assert "asked brand to reset" in text_of(msg).replace("\n", " ")
    _, token = token_of(msg)
    stack.clear_mails()
    # example-brand has no change-password: that one comes from default
    assert_ok(stack.post(group_path("brand"), {"member-username": "alice",
                                               "token": token,
                                               "member-password":
                                                   "Vx7#kLm2qPz!"}),
              "password-changed")
    mails_to(stack, ALICE, 1, subject=SUBJECT_CHANGED)


def test_global_set_then_default(stack, team, restart, tmp_path):
    """Lookup per file: the group's set, then global_template, then
    default (SPEC §7)."""
    src = os.path.join(os.path.dirname(__file__), "..", "..",
                       "mail-templates")
    tdir = tmp_path / "templates"
    for s in ("default", "example-brand"):
        shutil.copytree(os.path.join(src, s), tdir / s)
    (tdir / "site").mkdir()
    # the site set overrides one file only: the reset mail's subject
    (tdir / "site" / "reset-password-confirm.subject").write_text(
        "Site {member.username}: reset\n")
    os.chmod(tmp_path, 0o755)
    restart({("service", "template_dir"): str(tdir),
             ("service", "global_template"): "site"})
    ctl_ok(stack, "group", "add", "brand", "--template", "example-brand")
    ctl_ok(stack, "group", "add-member", "brand", "alice")

    # plain route: the global subject, the default body
    assert_ok(stack.post(MEMBERS_PATH, {"member-username": "alice"}),
              "request-successful")
    (msg,) = mails_to(stack, ALICE, 1)
    assert msg["Subject"] == "Site alice: reset"
    default_txt = open(os.path.join(
        src, "default", "reset-password-confirm.txt")).read()
    assert default_txt.splitlines()[0].split("{")[0] in text_of(msg)
    _, token = token_of(msg)
    stack.clear_mails()

    # a group with its own set: the group's subject wins over the global
    assert_ok(stack.post(group_path("brand"), {"member-username": "alice"}),
              "request-successful")
    (msg,) = mails_to(stack, ALICE, 1)
    assert msg["Subject"] == "brand: choose a new password"
    _, token = token_of(msg)
    stack.clear_mails()

    # change-password is in neither set: default
    assert_ok(stack.post(MEMBERS_PATH, {"member-username": "alice",
                                        "token": token,
                                        "member-password": "Vx7#kLm2qPz!"}),
              "password-changed")
    mails_to(stack, ALICE, 1, subject=SUBJECT_CHANGED)
