/*
 * proctitle.h — the process title ps(1) shows for a child.
 *
 * ps shows a process's argument area (/proc/PID/cmdline), which a fork
 * inherits: without this every worker and the mailer would show the
 * supervisor's command line.  proctitle_init(), called first thing in
 * main() with main's own argc and argv, notes how far that area reaches
 * (the argv strings and then the environment strings the kernel placed
 * right after them) and moves the environment to the heap so that the
 * area can be written over; proctitle_set() then writes a title there
 * and sets the 15-byte name top(1) and /proc/PID/comm show.  The argv
 * strings are gone after the first proctitle_set(): call it only in a
 * child, after the options were read.  No threads, so no locking.
 */
#ifndef PWR_FCGI_PROCTITLE_H
#define PWR_FCGI_PROCTITLE_H

void proctitle_init(int argc, char **argv);

/* "pwreset: worker".  Cut to the area's length; harmless before (or
 * without) proctitle_init(), when it only sets the name. */
void proctitle_set(const char *title);

#endif
