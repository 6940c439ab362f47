/* SPDX-License-Identifier: MIT */
/*
 * stallprobe: how much time this box takes away from a running thread.
 * One thread per CPU, each pinned, reads the monotonic clock in a loop
 * for the given time; a gap between two reads longer than GAP_NS is time
 * the thread did not run (the host, interrupts, other tasks). Tail
 * latency below the longest gaps cannot be measured on such a box, by
 * any server. Prints one line per CPU, or JSON with --json.
 *
 * Usage: stallprobe [SECONDS] [--json]
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GAP_NS		50000ull	/* 50 us: far over a clock read */
#define LONG_NS		1000000ull	/* 1 ms: the open-loop target */

struct stallprobe_cpu {
	pthread_t	 tid;
	int		 cpu;
	double		 seconds;
	uint64_t	 gaps;		/* over GAP_NS */
	uint64_t	 longs;		/* over LONG_NS */
	uint64_t	 lost_ns;	/* in gaps */
	uint64_t	 max_ns;
};

/* Nanoseconds on the monotonic clock. */
static uint64_t
stallprobe_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* One CPU's probe: pin, then spin on the clock and count the gaps. */
static void *
stallprobe_run(void *arg)
{
	struct stallprobe_cpu *p = arg;
	cpu_set_t set;
	uint64_t last, end, t;

	CPU_ZERO(&set);
	CPU_SET(p->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	last = stallprobe_now();
	end = last + (uint64_t)(p->seconds * 1e9);
	while ((t = stallprobe_now()) < end) {
		uint64_t gap = t - last;

		if (gap > GAP_NS) {
			p->gaps++;
			p->lost_ns += gap;
			p->longs += gap > LONG_NS;
			if (gap > p->max_ns)
				p->max_ns = gap;
		}
		last = t;
	}
	return NULL;
}

/* Print what each CPU lost, as text or JSON. */
static void
stallprobe_report(const struct stallprobe_cpu *p, int n, int json)
{
	if (json)
		printf("{\"gap_us\": %llu, \"seconds\": %.1f, \"cpus\": [",
		    GAP_NS / 1000, p[0].seconds);
	for (int i = 0; i < n; i++) {
		double lost = 100.0 * (double)p[i].lost_ns /
		    (p[i].seconds * 1e9);

		if (json)
			printf("%s{\"cpu\": %d, \"gaps\": %llu, \"over_1ms\": "
			    "%llu, \"lost_pct\": %.2f, \"max_ms\": %.2f}",
			    i ? ", " : "", p[i].cpu,
			    (unsigned long long)p[i].gaps,
			    (unsigned long long)p[i].longs, lost,
			    (double)p[i].max_ns / 1e6);
		else
			printf("cpu %d: %llu gaps over %llu us, %llu over 1 ms, "
			    "%.2f%% of %.1f s lost, longest %.2f ms\n",
			    p[i].cpu, (unsigned long long)p[i].gaps,
			    GAP_NS / 1000, (unsigned long long)p[i].longs,
			    lost, p[i].seconds, (double)p[i].max_ns / 1e6);
	}
	if (json)
		printf("]}\n");
}

/* Probe every online CPU for SECONDS (default 5). */
int
main(int argc, char **argv)
{
	double seconds = 5;
	int json = 0, n = (int)sysconf(_SC_NPROCESSORS_ONLN);
	struct stallprobe_cpu *p;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if ((seconds = atof(argv[i])) <= 0 || seconds > 3600) {
			fprintf(stderr, "usage: stallprobe [SECONDS] [--json]\n");
			return 2;
		}
	}
	if (n < 1 || (p = calloc((size_t)n, sizeof(*p))) == NULL)
		return 2;
	for (int i = 0; i < n; i++) {
		p[i].cpu = i;
		p[i].seconds = seconds;
		if (pthread_create(&p[i].tid, NULL, stallprobe_run, &p[i]) != 0)
			return 2;
	}
	for (int i = 0; i < n; i++)
		pthread_join(p[i].tid, NULL);
	stallprobe_report(p, n, json);
	free(p);
	return 0;
}
