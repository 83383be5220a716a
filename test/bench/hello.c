/*
 * hello.c — the transport ceiling of test/bench/run.sh: the least a
 * FastCGI responder can do behind nginx.
 *
 *   spawn-fcgi -n -s SOCKET -- hello NPROCS
 *
 * Takes the listening socket on fd 0 (as pwreset does under spawn-fcgi),
 * forks NPROCS responders that each loop FCGX_Accept_r → read the whole
 * body → answer the bytes pwreset answers to a step-1 request → finish.
 * No database, no parsing: what is left is nginx, the socket and libfcgi.
 * The parent waits; SIGTERM to it (or to the process group) stops all.
 */
#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define HELLO_PROCS_MAX 256

/* Byte for byte what pwreset writes for request-successful. */
static const char answer[] =
    "Status: 200 OK\r\n"
    "Content-Type: application/xml;charset=utf-8\r\n"
    "Content-Length: 85\r\n"
    "Cache-Control: no-store\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "\r\n"
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
    "<reset-password status=\"request-successful\" />\n";

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int
serve(void)
{
	FCGX_Request req;
	char scratch[4096];

	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) >= 0) {
		while (FCGX_GetStr(scratch, sizeof scratch, req.in) > 0)
			;
		FCGX_PutStr(answer, (int)(sizeof answer - 1), req.out);
		FCGX_Finish_r(&req);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	pid_t kids[HELLO_PROCS_MAX];
	struct sigaction sa;
	long n = 1;
	char *end;

	if (argc > 1) {
		errno = 0;
		n = strtol(argv[1], &end, 10);
		if (errno != 0 || *end != '\0' || n < 1 ||
		    n > HELLO_PROCS_MAX) {
			fprintf(stderr, "usage: hello [NPROCS 1-%d]\n",
				HELLO_PROCS_MAX);
			return 2;
		}
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (long i = 0; i < n; i++) {
		kids[i] = fork();
		if (kids[i] < 0) {
			perror("hello: fork");
			n = i;
			stop = 1;
			break;
		}
		if (kids[i] == 0) {
			sa.sa_handler = SIG_DFL;
			sigaction(SIGTERM, &sa, NULL);
			sigaction(SIGINT, &sa, NULL);
			_exit(serve());
		}
	}
	while (!stop) {
		if (wait(NULL) < 0 && errno == ECHILD)
			break;
	}
	for (long i = 0; i < n; i++)
		kill(kids[i], SIGTERM);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	return 0;
}
