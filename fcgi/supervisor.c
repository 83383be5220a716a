/*
 * supervisor.c — the pre-fork process manager (see supervisor.h).
 *
 * Everything happens in one loop in the supervisor's own context: the
 * handlers only set flags, all our signals stay blocked except inside
 * sigsuspend(), so a signal is never lost between looking at the flags and
 * going to sleep (the pause() race of fcgiwrap's respawn loop).  Deadlines
 * (a respawn delay, a SIGKILL after shutdown_timeout) wake the loop through
 * an ITIMER_REAL alarm.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "proctitle.h"
#include "supervisor.h"

#define BACKOFF_MIN_MS 250   /* first delay after a quick death */
#define BACKOFF_MAX_MS 30000 /* the delay never grows beyond this */
#define QUICK_DEATH_MS 1000  /* dying sooner than this is suspicious */
#define WORKERS_MAX    256

enum child_kind { CHILD_WORKER, CHILD_MAILER, CHILD__MAX };

static const char *const child_names[CHILD__MAX] = {
    [CHILD_WORKER] = "worker",
    [CHILD_MAILER] = "mailer",
};

_Static_assert(sizeof(child_names) / sizeof(child_names[0]) == CHILD__MAX,
	       "child name table out of step with enum child_kind");

/* A place for one child of the current configuration. */
struct slot {
	enum child_kind kind;
	pid_t pid; /* 0: not running, start at due */
	int seat;  /* its worker's in counters->seats, or -1 */
	struct timespec started;
	long delay_ms; /* the backoff of this slot */
	struct timespec due;
};

/* A child of a replaced configuration, on its way out. */
struct retiree {
	enum child_kind kind;
	pid_t pid;
	int seat;
	bool signalled; /* SIGTERM sent; SIGKILL at kill_at */
	bool killed;
	struct timespec kill_at;
};

struct sup {
	struct worker_conf *wc;
	int listen_fd;
	struct slot *slots;
	size_t nslots;
	struct retiree *old;
	size_t nold, oldcap;
	bool stopping, killed;
	struct timespec kill_at;
	/* Shared with every child (MAP_SHARED, made before the first fork):
	 * the status page's figures. */
	struct counters *counters;
	/* READY=1 is due once this round of children is forked (at start,
	 * after a reload). */
	bool notify_ready;
};

static volatile sig_atomic_t got_term, got_hup, got_chld, got_alrm;

static void
on_signal(int sig)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		got_term = 1;
		break;
	case SIGHUP:
		got_hup = 1;
		break;
	case SIGCHLD:
		got_chld = 1;
		break;
	default:
		got_alrm = 1;
		break;
	}
}

/* ---- time ------------------------------------------------------------- */

static struct timespec
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

static struct timespec
ts_add_ms(struct timespec t, long ms)
{
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

/* a - b in milliseconds (negative when a is earlier). */
static long
ts_diff_ms(struct timespec a, struct timespec b)
{
	return (long)(a.tv_sec - b.tv_sec) * 1000 +
	       (a.tv_nsec - b.tv_nsec) / 1000000L;
}

static bool
ts_reached(struct timespec t, struct timespec when)
{
	return t.tv_sec > when.tv_sec ||
	       (t.tv_sec == when.tv_sec && t.tv_nsec >= when.tv_nsec);
}

/* ---- children --------------------------------------------------------- */

static size_t
workers_wanted(const struct config *cfg)
{
	long n = cfg->service.workers;

	if (n <= 0) {
		n = sysconf(_SC_NPROCESSORS_ONLN);
		if (n < 1)
			n = 1;
	}
	return n > WORKERS_MAX ? WORKERS_MAX : (size_t)n;
}

static void
slots_setup(struct sup *s)
{
	size_t workers = workers_wanted(&s->wc->app.cfg);
	struct timespec t = now();

	s->nslots = workers + 1;
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	if (s->slots == NULL)
		abort();
	for (size_t i = 0; i < s->nslots; i++) {
		s->slots[i].kind = i < workers ? CHILD_WORKER : CHILD_MAILER;
		s->slots[i].seat = -1;
		s->slots[i].due = t;
	}
}

static long
backoff_next(long delay_ms)
{
	delay_ms = delay_ms < BACKOFF_MIN_MS ? BACKOFF_MIN_MS : delay_ms * 2;
	return delay_ms > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay_ms;
}

/* A free seat for a new worker, marked idle; -1 when all are held (its
 * busy state then goes unshown). */
static int
seat_take(struct sup *s)
{
	for (int i = 0; i < COUNTERS_SEATS_MAX; i++) {
		if (atomic_load(&s->counters->seats[i]) == COUNTERS_SEAT_FREE) {
			atomic_store(&s->counters->seats[i],
				     COUNTERS_SEAT_IDLE);
			return i;
		}
	}
	return -1;
}

/* The child holding seat is gone (it cannot write there any more). */
static void
seat_free(struct sup *s, int seat)
{
	if (seat >= 0)
		atomic_store(&s->counters->seats[seat], COUNTERS_SEAT_FREE);
}

static void
slot_start(struct sup *s, struct slot *sl)
{
	pid_t pid;

	sl->seat = sl->kind == CHILD_WORKER ? seat_take(s) : -1;
	pid = fork();

	if (pid < 0) {
		log_errno("cannot fork a %s", child_names[sl->kind]);
		seat_free(s, sl->seat);
		sl->seat = -1;
		sl->delay_ms = backoff_next(sl->delay_ms);
		sl->due = ts_add_ms(now(), sl->delay_ms);
		return;
	}
	if (pid == 0) {
		char title[32];
		int rc;

		snprintf(title, sizeof(title), "pwreset: %s",
			 child_names[sl->kind]);
		proctitle_set(title);
		if (sl->kind == CHILD_MAILER) {
			close(s->listen_fd);
			rc = worker_mailer_run(s->wc, s->counters);
		} else {
			rc = worker_run(s->wc, s->listen_fd, s->counters,
					sl->seat);
		}
		/* No exit(): atexit handlers and stdio buffers are the
		 * supervisor's. */
		_exit(rc);
	}
	sl->pid = pid;
	sl->started = now();
	log_debug("started %s %ld", child_names[sl->kind], (long)pid);
}

static size_t
children_alive(const struct sup *s)
{
	size_t n = s->nold;

	for (size_t i = 0; i < s->nslots; i++)
		n += s->slots[i].pid > 0;
	return n;
}

static void
describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
			 WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "stopped (status %#x)", (unsigned)status);
}

/* A child of the current set-up is gone: plan its replacement. */
static void
slot_died(struct sup *s, struct slot *sl, int status)
{
	struct timespec t = now();
	long lived = ts_diff_ms(t, sl->started);
	bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	char how[64];

	describe_status(status, how, sizeof(how));
	sl->pid = 0;
	seat_free(s, sl->seat);
	sl->seat = -1;
	if (s->stopping) {
		log_debug("%s %s", child_names[sl->kind], how);
		return;
	}
	/* A clean exit is a recycle after max_requests; a crash soon after
	 * the start is a broken set-up that would crash again. */
	if (!clean && lived < QUICK_DEATH_MS)
		sl->delay_ms = backoff_next(sl->delay_ms);
	else
		sl->delay_ms = 0;
	sl->due = ts_add_ms(t, sl->delay_ms);
	if (clean)
		log_debug("%s %s after %ld ms; replacing it",
			  child_names[sl->kind], how, lived);
	else
		log_warn("%s %s after %ld ms; replacing it in %ld ms",
			 child_names[sl->kind], how, lived, sl->delay_ms);
}

static void
reap(struct sup *s)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		bool found = false;

		for (size_t i = 0; i < s->nslots && !found; i++) {
			if (s->slots[i].pid == pid) {
				slot_died(s, &s->slots[i], status);
				found = true;
			}
		}
		for (size_t i = 0; i < s->nold && !found; i++) {
			if (s->old[i].pid == pid) {
				char how[64];

				describe_status(status, how, sizeof(how));
				log_debug("retired %s %ld %s",
					  child_names[s->old[i].kind],
					  (long)pid, how);
				seat_free(s, s->old[i].seat);
				s->old[i] = s->old[--s->nold];
				found = true;
			}
		}
	}
}

static void
start_due(struct sup *s, struct timespec t)
{
	for (size_t i = 0; i < s->nslots; i++)
		if (s->slots[i].pid == 0 && ts_reached(t, s->slots[i].due))
			slot_start(s, &s->slots[i]);
}

/* Old children leave one at a time: SIGUSR2 (finish what was accepted,
 * see worker.c), then SIGKILL when late. */
static void
retire_step(struct sup *s, struct timespec t)
{
	int timeout_ms = s->wc->app.cfg.service.shutdown_timeout * 1000;

	for (size_t i = 0; i < s->nold; i++) {
		struct retiree *r = &s->old[i];

		if (!r->signalled)
			continue;
		if (!r->killed && ts_reached(t, r->kill_at)) {
			log_warn("retired %s %ld still busy after %d s: "
				 "SIGKILL",
				 child_names[r->kind], (long)r->pid,
				 timeout_ms / 1000);
			kill(r->pid, SIGKILL);
			r->killed = true;
		}
		return; /* wait for this one to go */
	}
	if (s->nold > 0) {
		s->old[0].signalled = true;
		s->old[0].kill_at = ts_add_ms(t, timeout_ms);
		kill(s->old[0].pid, SIGUSR2);
	}
}

static void
begin_stop(struct sup *s)
{
	struct timespec t = now();

	s->stopping = true;
	sd_notify(0, "STOPPING=1");
	s->kill_at =
	    ts_add_ms(t, s->wc->app.cfg.service.shutdown_timeout * 1000L);
	for (size_t i = 0; i < s->nslots; i++)
		if (s->slots[i].pid > 0)
			kill(s->slots[i].pid, SIGTERM);
	for (size_t i = 0; i < s->nold; i++) {
		kill(s->old[i].pid, SIGTERM);
		s->old[i].signalled = true;
	}
	log_info("stopping: waiting up to %d s for %zu children",
		 s->wc->app.cfg.service.shutdown_timeout, children_alive(s));
}

static void
kill_all(struct sup *s)
{
	log_warn("%zu children still busy after %d s: SIGKILL",
		 children_alive(s), s->wc->app.cfg.service.shutdown_timeout);
	for (size_t i = 0; i < s->nslots; i++)
		if (s->slots[i].pid > 0)
			kill(s->slots[i].pid, SIGKILL);
	for (size_t i = 0; i < s->nold; i++)
		kill(s->old[i].pid, SIGKILL);
	s->killed = true;
}

static void
retire_push(struct sup *s, const struct slot *sl)
{
	if (s->nold == s->oldcap) {
		size_t cap = s->oldcap ? s->oldcap * 2 : 16;
		struct retiree *p = realloc(s->old, cap * sizeof(*p));

		if (p == NULL)
			abort();
		s->old = p;
		s->oldcap = cap;
	}
	s->old[s->nold++] = (struct retiree){
	    .kind = sl->kind, .pid = sl->pid, .seat = sl->seat};
}

static void
reload(struct sup *s)
{
	const struct config *oc = &s->wc->app.cfg;
	struct worker_conf nw;
	char err[1024], keys[256], *path;
	size_t n;

	path = strdup(oc->path);
	if (path == NULL)
		abort();
	log_info("reloading %s", path);
	sd_notify(0, "RELOADING=1");
	/* READY=1 again once the new children are forked, or at once when
	 * the previous set-up stays. */
	s->notify_ready = true;
	if (worker_conf_load(&nw, path, err, sizeof(err)) != 0) {
		log_error("reload failed, still running the previous "
			  "configuration: %s",
			  err);
		free(path);
		return;
	}
	if ((n = config_restart_needed(oc, &nw.app.cfg, keys, sizeof(keys))) >
	    0)
		log_warn("reload: %s %s effect at the next restart", keys,
			 n == 1 ? "takes" : "take");

	for (size_t i = 0; i < s->nslots; i++)
		if (s->slots[i].pid > 0)
			retire_push(s, &s->slots[i]);
	free(s->slots);
	s->slots = NULL;
	worker_conf_free(s->wc);
	*s->wc = nw;
	log_init(NULL, s->wc->app.cfg.log.target, s->wc->app.cfg.log.level);
	slots_setup(s);
	log_info("reloaded %s: %zu workers and a mailer replace %zu "
		 "children",
		 path, s->nslots - 1, s->nold);
	free(path);
}

/* Sleep until a signal, or until the next deadline. */
static void
sleep_until_signal(struct sup *s, const sigset_t *waitmask)
{
	struct timespec t = now(), next = {0};
	bool have = false;
	struct itimerval it = {0};
	long ms;

#define CONSIDER(ts)                                                           \
	do {                                                                   \
		if (!have || !ts_reached(ts, next))                            \
			next = (ts);                                           \
		have = true;                                                   \
	} while (0)

	if (s->stopping) {
		if (!s->killed)
			CONSIDER(s->kill_at);
	} else {
		for (size_t i = 0; i < s->nslots; i++)
			if (s->slots[i].pid == 0)
				CONSIDER(s->slots[i].due);
		for (size_t i = 0; i < s->nold; i++)
			if (s->old[i].signalled && !s->old[i].killed)
				CONSIDER(s->old[i].kill_at);
	}
#undef CONSIDER

	if (have) {
		ms = ts_diff_ms(next, t);
		if (ms < 1)
			ms = 1;
		it.it_value.tv_sec = ms / 1000;
		it.it_value.tv_usec = (ms % 1000) * 1000;
		setitimer(ITIMER_REAL, &it, NULL);
	}
	sigsuspend(waitmask);
	if (have) {
		memset(&it, 0, sizeof(it));
		setitimer(ITIMER_REAL, &it, NULL);
	}
}

int
supervisor_run(struct worker_conf *wc, int listen_fd)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGALRM};
	struct sup s = {.wc = wc, .listen_fd = listen_fd, .notify_ready = true};
	struct sigaction sa;
	sigset_t block, orig, waitmask;

	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&block, sigs[i]);
	sigprocmask(SIG_BLOCK, &block, &orig);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_mask = block;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	waitmask = orig;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigdelset(&waitmask, sigs[i]);

	/* Zeroed by the kernel: every counter 0, every seat free. */
	s.counters = mmap(NULL, sizeof(*s.counters), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s.counters == MAP_FAILED) {
		log_errno("cannot map the shared counters");
		sigprocmask(SIG_SETMASK, &orig, NULL);
		return 1;
	}
	slots_setup(&s);
	log_info("starting %zu workers and a mailer", s.nslots - 1);
	for (;;) {
		struct timespec t;

		if (got_chld) {
			got_chld = 0;
			reap(&s);
		}
		if (got_term) {
			got_term = 0;
			if (!s.stopping)
				begin_stop(&s);
		}
		if (got_hup) {
			got_hup = 0;
			if (!s.stopping)
				reload(&s);
		}
		got_alrm = 0;
		t = now();
		if (s.stopping) {
			if (children_alive(&s) == 0)
				break;
			if (!s.killed && ts_reached(t, s.kill_at))
				kill_all(&s);
		} else {
			/* New children first, then the old ones go. */
			start_due(&s, t);
			if (s.notify_ready) {
				/* Without NOTIFY_SOCKET, a no-op. */
				sd_notifyf(0,
					   "READY=1\nSTATUS=%zu workers and a "
					   "mailer",
					   s.nslots - 1);
				s.notify_ready = false;
			}
			retire_step(&s, t);
		}
		sleep_until_signal(&s, &waitmask);
	}
	log_info("stopped");
	munmap(s.counters, sizeof(*s.counters));
	free(s.slots);
	free(s.old);
	sigprocmask(SIG_SETMASK, &orig, NULL);
	return 0;
}
