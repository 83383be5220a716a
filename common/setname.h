/*
 * setname.h — the one rule for a mail template set's name.
 *
 * A set is a folder under template_dir, named by the config
 * (global_template), by a group (store_group.template_set, set with
 * pwreset-ctl) and found by the loader; all of them use this rule so that
 * a name accepted in one place is found in the others.  Letters, digits,
 * '_' and '-' only: no '.', so a name can never be "." or "..", and no
 * '/', so it never leaves template_dir.
 */
#ifndef PWR_COMMON_SETNAME_H
#define PWR_COMMON_SETNAME_H

#include <stdbool.h>

#define SETNAME_MAX 64 /* bytes; fits store_group.template_set */

/* 1..SETNAME_MAX of [A-Za-z0-9_-]; false for NULL. */
bool setname_valid(const char *s);

#endif
