/*
 * cmd_outbox.c — pwreset-ctl outbox-key FILE: make the key that seals
 * queued messages ([mail] outbox_key_file, core/outbox.h).
 *
 * It reads no configuration (the key is made before the file that names
 * it is finished) and never overwrites: replacing the key of a running
 * service would leave its queued messages unreadable.
 */
#include <stdio.h>

#include "core/outbox.h"
#include "ctl.h"

int
cmd_outbox_key(struct ctl *c)
{
	char err[512];

	if (outbox_key_create(c->arg[0], err, sizeof err) != 0) {
		fprintf(stderr, CTL_PROG ": outbox-key %s: %s\n", c->arg[0],
			err);
		return CTL_EXIT_FAIL;
	}
	printf("wrote %s (mode 0600): copy it to every host and give the "
	       "service user read access\n",
	       c->arg[0]);
	return CTL_EXIT_OK;
}
