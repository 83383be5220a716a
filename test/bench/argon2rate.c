/*
 * argon2rate.c — the raw Argon2id rate of test/bench/run.sh.
 *
 *   argon2rate M_COST T_COST PARALLELISM SECONDS NPROCS
 *
 * NPROCS processes each compute argon2id_hash_encoded() (what
 * core/password.c calls, with a fresh 16-byte salt each time) for SECONDS
 * seconds; prints "hashes SECONDS_ELAPSED HASHES_PER_S" summed over all.
 * Every process starts at the same instant (they wait on a pipe) and
 * counts only hashes that finished before the common deadline.
 */
#include <argon2.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROCS_MAX 256
#define SALT_LEN  16
#define PHC_MAX	  256

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
arg_long(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "argon2rate: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

/* Hash until deadline; write the count to fd. */
static int
child(uint32_t m, uint32_t t, uint32_t p, double deadline, int fd)
{
	static const char pw[] = "Quartz-Violet-Harbor-8172!";
	uint8_t salt[SALT_LEN];
	char phc[PHC_MAX];
	long count = 0;

	while (now_s() < deadline) {
		if (getrandom(salt, sizeof salt, 0) != (ssize_t)sizeof salt)
			return 1;
		if (argon2id_hash_encoded(t, m, p, pw, sizeof pw - 1, salt,
					  sizeof salt, 32, phc,
					  sizeof phc) != ARGON2_OK)
			return 1;
		if (now_s() <= deadline)
			count++;
	}
	return write(fd, &count, sizeof count) == (ssize_t)sizeof count ? 0 : 1;
}

int
main(int argc, char **argv)
{
	uint32_t m, t, p;
	long secs, procs, total = 0, one;
	int go[2], res[2];
	double t0, deadline;
	char c = 0;

	if (argc != 6) {
		fprintf(stderr, "usage: argon2rate M_COST T_COST PARALLELISM "
				"SECONDS NPROCS\n");
		return 2;
	}
	m = (uint32_t)arg_long(argv[1], 8, 4194304);
	t = (uint32_t)arg_long(argv[2], 1, 100);
	p = (uint32_t)arg_long(argv[3], 1, 64);
	secs = arg_long(argv[4], 1, 3600);
	procs = arg_long(argv[5], 1, PROCS_MAX);
	if (pipe(go) != 0 || pipe(res) != 0) {
		perror("argon2rate: pipe");
		return 1;
	}
	t0 = now_s() + 0.2; /* time for every fork */
	deadline = t0 + (double)secs;
	for (long i = 0; i < procs; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("argon2rate: fork");
			return 1;
		}
		if (pid == 0) {
			close(go[1]);
			if (read(go[0], &c, 1) < 0)
				_exit(1);
			_exit(child(m, t, p, deadline, res[1]));
		}
	}
	while (now_s() < t0)
		usleep(1000);
	close(go[1]); /* EOF wakes every child at once */
	close(res[1]);
	while (read(res[0], &one, sizeof one) == (ssize_t)sizeof one)
		total += one;
	while (wait(NULL) > 0)
		;
	printf("%ld %.3f %.2f\n", total, (double)secs,
	       (double)total / (double)secs);
	return 0;
}
