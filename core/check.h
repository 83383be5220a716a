/*
 * check.h — what a worker or the mailer would refuse at start, run ahead
 * of them, so that `pwreset -n`, the supervisor's start and reload, and
 * `pwreset-ctl check` fail on a configuration instead of children dying and
 * being replaced forever.
 *
 * The configuration file's own checks (values, ranges, duplicate keys, the
 * From address) are config_load()'s; the templates and the banned list are
 * app_conf_load()'s.  This adds what needs the system: the [service] user
 * exists, the mailer's start checks (mailer_conf_check()) pass.
 */
#ifndef PWR_CHECK_H
#define PWR_CHECK_H

#include <stddef.h>

#include "config.h"

/* 0, or -1 with "PATH: reason" in err. */
int app_check_start(const struct config *cfg, char *err, size_t errlen);

#endif
