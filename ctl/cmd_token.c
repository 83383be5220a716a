/*
 * cmd_token.c — pwreset-ctl token issue|revoke: the admin API tokens that
 * make a caller an admin (SPEC §4).
 *
 * Only the SHA-256 of a token is stored; the token itself is printed once,
 * on stdout alone so that it can be captured, and then wiped.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/token.h"
#include "ctl.h"

_Static_assert(TOKEN_HASH_LEN == STORE_HASH_LEN,
	       "the store keeps token hashes of token_hash()'s size");

static int
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
cmd_token_issue(struct ctl *c)
{
	struct store_member m;
	char token[TOKEN_LEN + 1]; /* the NUL becomes the '\n' printed */
	uint8_t hash[TOKEN_HASH_LEN];
	enum store_rc rc;
	int ret;

	memset(token, 0, sizeof token);
	memset(hash, 0, sizeof hash);
	if ((ret = ctl_member_get(c, c->arg[0], &m)) != CTL_EXIT_OK)
		goto out;
	ret = CTL_EXIT_FAIL;
	if (!m.admin) {
		fprintf(stderr, CTL_PROG ": token issue: %s is not an admin\n",
			m.username);
		goto out;
	}
	if (token_new(token) != 0) {
		fprintf(stderr, CTL_PROG ": token issue: no random bytes: %s\n",
			strerror(errno));
		goto out;
	}
	token_hash(token, hash);
	rc = store_admin_token_add(c->st, m.id, hash);
	if (rc == STORE_NOT_FOUND) {
		ret = ctl_no_member(c->arg[0]);
		goto out;
	}
	if (rc != STORE_OK) {
		ret = ctl_store_fail(c, rc);
		goto out;
	}
	/*
	 * Stored: from here the token works, so it must reach the caller.
	 * write(2), not stdio, whose buffer would keep a copy we cannot wipe.
	 */
	token[TOKEN_LEN] = '\n';
	if (fflush(stdout) != 0 ||
	    write_all(STDOUT_FILENO, token, TOKEN_LEN + 1) != 0) {
		fprintf(stderr,
			CTL_PROG ": token issue: cannot print the "
				 "token; revoke it with \"token revoke %s\"\n",
			m.username);
		goto out;
	}
	ret = CTL_EXIT_OK;
out:
	explicit_bzero(token, sizeof token);
	explicit_bzero(hash, sizeof hash);
	return ret;
}

int
cmd_token_revoke(struct ctl *c)
{
	struct store_member m;
	enum store_rc rc;
	int count = 0, ret;

	if ((ret = ctl_member_get(c, c->arg[0], &m)) != CTL_EXIT_OK)
		return ret;
	rc = store_admin_token_revoke(c->st, m.id, &count);
	if (rc == STORE_NOT_FOUND) /* no token to revoke is still a success */
		count = 0;
	else if (rc != STORE_OK)
		return ctl_store_fail(c, rc);
	printf("%d token(s) revoked\n", count);
	return CTL_EXIT_OK;
}
