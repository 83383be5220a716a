/*
 * log.h — process-wide logging to stderr or syslog.
 *
 * The one piece of process state pwreset keeps outside a struct: the target
 * and level are set once by log_init() (and again on reload).  Never pass a
 * token, password, hash or message body to these functions.
 */
#ifndef PWR_LOG_H
#define PWR_LOG_H

#include "config.h"

void log_init(const char *ident, enum log_target target, enum log_level level);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Like log_error, with ": strerror(errno)" appended. */
void log_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
