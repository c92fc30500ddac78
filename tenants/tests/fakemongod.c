/*
 * fakemongod: the stand-in MongoDB server of the sink tests
 * (tests/clientlib/fakemongo.c) as a program, to run a stream app end to
 * end against a store that refuses documents.
 *
 * usage: fakemongod [REFUSE_FIELD]
 *
 * Listens on 127.0.0.1 (a free port), prints "port <n>", and serves
 * until SIGTERM or SIGINT; a document that has the top-level field
 * REFUSE_FIELD fails with 121 (Document failed validation).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>

#include "fakemongo.h"

int
main(int argc, char **argv)
{
	struct fakemongo *fm;
	sigset_t set;
	int sig;

	/* Blocked before the server's threads start, so they inherit it. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	fm = fake_start();
	if (argc > 1)
		fake_set_refuse(fm, argv[1]);
	printf("port %d\n", fake_port(fm));
	fflush(stdout);
	sigwait(&set, &sig);
	fake_stop(fm);
	return 0;
}
