/*
 * cmd_group.c — pwreset-ctl group add|add-member.
 *
 * A group is named in a URL as {group}: all digits is an id, a leading '~'
 * is stripped and the rest is a name, anything else is a name (SPEC §1).
 * So that every group stays reachable by name without a '~' and an id is
 * never mistaken for a name, a new group's name may be neither all digits
 * nor start with '~'.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/validate.h"
#include "ctl.h"

/* Bytes, as the store keeps them (struct store_group). */
#define GROUP_NAME_MAX (sizeof(((struct store_group *)0)->name) - 1)
#define GROUP_DESCRIPTION_MAX                                                  \
	(sizeof(((struct store_group *)0)->description) - 1)
#define TEMPLATE_SET_MAX (sizeof(((struct store_group *)0)->template_set) - 1)

static const char digits[] = "0123456789";

static bool
group_name_valid(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && len <= GROUP_NAME_MAX && utf8_valid(s, len) &&
	       !ctl_has_control(s) && strspn(s, digits) != len && s[0] != '~';
}

static bool
template_set_valid(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && len <= TEMPLATE_SET_MAX &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "abcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

static bool
description_valid(const char *s)
{
	size_t len = strlen(s);

	return len <= GROUP_DESCRIPTION_MAX && utf8_valid(s, len) &&
	       !ctl_has_control(s);
}

static int
refuse(const char *what, const char *why)
{
	fprintf(stderr, CTL_PROG ": group add: %s: %s\n", what, why);
	return CTL_EXIT_FAIL;
}

int
cmd_group_add(struct ctl *c)
{
	const char *name = c->arg[0];
	const char *tset = c->opt[OPT_TEMPLATE];
	const char *desc = c->opt[OPT_DESCRIPTION];
	enum store_rc rc;
	int64_t id = 0;

	if (!group_name_valid(name))
		return refuse("invalid group name",
			      "1-100 bytes of UTF-8, no control characters, "
			      "not all digits, not starting with '~'");
	if (tset != NULL && !template_set_valid(tset))
		return refuse("invalid template set",
			      "1-64 characters of [A-Za-z0-9_-]");
	if (desc != NULL && !description_valid(desc))
		return refuse("invalid description",
			      "at most 1000 bytes of UTF-8, "
			      "no control characters");

	rc = store_group_add(c->st, name, desc ? desc : "", tset ? tset : "",
			     &id);
	if (rc == STORE_CONFLICT)
		return refuse("name already in use",
			      "a group with that name exists (names are "
			      "compared case-insensitively)");
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc);
	printf("group %" PRId64 " added\n", id);
	return CTL_EXIT_OK;
}

/* Resolve GROUP as the URL does: digits → id, "~name" → name, else name. */
static int
group_get(struct ctl *c, const char *ref, struct store_group *g)
{
	size_t len = strlen(ref);
	enum store_rc rc = STORE_NOT_FOUND;
	int64_t id;

	if (len > 0 && strspn(ref, digits) == len) {
		if (ctl_parse_id(ref, &id) == 0)
			rc = store_group_by_id(c->st, id, g);
	} else {
		const char *name = ref[0] == '~' ? ref + 1 : ref;

		if (name[0] != '\0' && strlen(name) <= GROUP_NAME_MAX)
			rc = store_group_by_name(c->st, name, g);
	}
	if (rc == STORE_NOT_FOUND) {
		fprintf(stderr, CTL_PROG ": no such group: ");
		ctl_put_clean(stderr, ref);
		fputc('\n', stderr);
		return CTL_EXIT_FAIL;
	}
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc);
	return CTL_EXIT_OK;
}

int
cmd_group_add_member(struct ctl *c)
{
	struct store_group g;
	struct store_member m;
	enum store_rc rc;
	int ret;

	if ((ret = group_get(c, c->arg[0], &g)) != CTL_EXIT_OK)
		return ret;
	if ((ret = ctl_member_get(c, c->arg[1], &m)) != CTL_EXIT_OK)
		return ret;
	rc = store_group_add_member(c->st, g.id, m.id);
	if (rc == STORE_CONFLICT) {
		/* The state asked for holds: not a failure. */
		printf("member %s is already in group %" PRId64 " (",
		       m.username, g.id);
		ctl_put_clean(stdout, g.name);
		printf(")\n");
		return CTL_EXIT_OK;
	}
	if (rc == STORE_NOT_FOUND) { /* one of them was deleted meanwhile */
		fprintf(stderr, CTL_PROG ": group add-member: the group or "
					 "the member no longer exists\n");
		return CTL_EXIT_FAIL;
	}
	if (rc != STORE_OK)
		return ctl_store_fail(c, rc);
	printf("member %s added to group %" PRId64 " (", m.username, g.id);
	ctl_put_clean(stdout, g.name);
	printf(")\n");
	return CTL_EXIT_OK;
}
