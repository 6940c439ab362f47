/* SPDX-License-Identifier: MIT */
/*
 * cardd: answers signed validity and coverage checks of combined work
 * permit / social security cards, over HTTP and RESP, from an in-memory
 * index of its source. The main thread loads the config, the key and the
 * source, starts the workers, then handles signals and follows the
 * source until it is told to stop. main() reads as its phases: options,
 * configuration, live state, serving, the loop, teardown.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "answer.h"
#include "auth.h"
#include "clock.h"
#include "code_store.h"
#include "config.h"
#include "http.h"
#include "issuer.h"
#include "live.h"
#include "log.h"
#include "net_tcp.h"
#include "notify.h"
#include "resp_cmd.h"
#include "sign.h"
#include "signer.h"
#include "tls.h"
#include "source.h"
#include "worker.h"

#define MAIN_DEFAULT_CONF	"/etc/cardd/cardd.conf"
#define MAIN_DRAIN_MS		10000
#define MAIN_BACKLOG		1024
#define MAIN_NLISTEN		2	/* HTTP, RESP */
#define MAIN_READY_POLL_US	20000	/* how often to look before ready */

/* The main thread's events, freed at the end. */
/* What a config says about who asks and whom to trust, built together. */
struct main_sec {
	struct auth_table	*at;
	struct issuer_table	*it;
	struct tls_ctx		*tc;
};

struct main_events {
	struct event	*term;
	struct event	*intr;
	struct event	*hup;
	struct event	*tick;
	struct event	*ready;		/* polls until an index can answer */
	struct event	*watchdog;	/* NULL: no systemd watchdog */
};

static const char *main_conf;	/* the file SIGHUP reads again */
static int main_ready;		/* READY=1 has been sent */

static void	main_usage(FILE *);
static int	main_options(int, char **, const char **, int *);
static int	main_check(const char *);
static int	main_security(const struct settings *, struct main_sec *,
		    char *, size_t);
static void	main_security_free(struct main_sec *);
static enum jws_alg main_alg(const struct settings *);
static void	main_security_swap(struct main_sec *);
static void	main_threads(void);
static void	main_live_start(const char *);
static int	main_listen_one(const char *, int, const struct conn_ops *,
		    struct net_listener *, size_t);
static int	main_listeners(struct net_listener *);
static void	main_serve(struct event_base *);
static void	main_events_add(struct event_base *, struct main_events *);
static void	main_teardown(struct event_base *, struct main_events *);
static void	main_on_stop(evutil_socket_t, short, void *);
static void	main_on_tick(evutil_socket_t, short, void *);
static void	main_on_watchdog(evutil_socket_t, short, void *);
static void	main_on_ready(evutil_socket_t, short, void *);
static void	main_status(const char *);
static void	main_on_reload(evutil_socket_t, short, void *);
static void	main_reload_over(void);

/* Print how to call us. */
static void
main_usage(FILE *fp)
{
	fprintf(fp, "usage: cardd [-t] [-c FILE]\n"
	    "       cardd --version\n"
	    "  -c FILE   configuration file (default %s)\n"
	    "  -t        check the configuration and the signing key, "
	    "then exit\n", MAIN_DEFAULT_CONF);
}

/* The signing algorithm a configuration names (sign_alg). */
static enum jws_alg
main_alg(const struct settings *s)
{
	return s->sign_alg == SIGN_ALG_SM2 ? JWS_SM2 : JWS_EDDSA;
}

/*
 * The client table, the code issuers and, with a TLS listener, the TLS
 * context of a config. Returns 0, or -1 with err set.
 */
static int
main_security(const struct settings *s, struct main_sec *sec, char *err,
    size_t errlen)
{
	memset(sec, 0, sizeof(*sec));
	if ((sec->at = auth_table_new(s->clients.v, s->clients.n, err,
	    errlen)) == NULL ||
	    (sec->it = issuer_table_new(s->code_issuers.v, s->code_issuers.n,
	    err, errlen)) == NULL ||
	    ((s->http_tls || s->resp_tls) &&
	    (sec->tc = tls_ctx_new(s, err, errlen)) == NULL)) {
		main_security_free(sec);
		return -1;
	}
	return 0;
}

/* Free what main_security made (or what a swap handed back). */
static void
main_security_free(struct main_sec *sec)
{
	auth_table_free(sec->at);
	issuer_table_free(sec->it);
	tls_ctx_free(sec->tc);
	memset(sec, 0, sizeof(*sec));
}

/*
 * Put sec in the live state (the caller is writing it); sec gets the
 * old parts back. A NULL TLS context keeps the running one: TLS
 * listeners stay what they are until a restart.
 */
static void
main_security_swap(struct main_sec *sec)
{
	sec->at = live_swap_auth(sec->at);
	sec->it = live_swap_issuers(sec->it);
	if (sec->tc != NULL && (settings.http_tls || settings.resp_tls))
		sec->tc = live_swap_tls(sec->tc);
}

/* -t: the config parsed already; check the keys and TLS material too. */
static int
main_check(const char *path)
{
	char err[512];
	struct sign_keyring *kr;
	struct main_sec sec;

	kr = sign_keyring_load(settings.signing_key, main_alg(&settings),
	    settings.key_id, settings.publish_keys, NULL, err, sizeof(err));
	if (kr == NULL) {
		fprintf(stderr, "cardd: %s: signing_key: %s\n", path, err);
		return 1;
	}
	sign_keyring_free(kr);
	if (main_security(&settings, &sec, err, sizeof(err)) != 0) {
		fprintf(stderr, "cardd: %s: %s\n", path, err);
		return 1;
	}
	main_security_free(&sec);
	printf("cardd: %s: configuration OK\n", path);
	return 0;
}

/*
 * One listener on every worker (-1 fds when spec is off). A probe bind
 * first makes sure nobody else holds the port.
 */
static int
main_listen_one(const char *spec, int tls, const struct conn_ops *ops,
    struct net_listener *ls, size_t stride)
{
	char err[256];

	for (int i = 0; i < settings.threads; i++)
		ls[(size_t)i * stride] = (struct net_listener){ -1, tls, ops };
	if (spec == NULL)
		return 0;
	if (net_tcp_probe(spec, err, sizeof(err)) != 0) {
		log_error("msg=\"cannot listen\" error=\"%s\"", err);
		return -1;
	}
	for (int i = 0; i < settings.threads; i++)
		if ((ls[(size_t)i * stride].fd = net_tcp_listen(spec,
		    MAIN_BACKLOG, err, sizeof(err))) < 0) {
			log_error("msg=\"cannot listen\" error=\"%s\"", err);
			return -1;
		}
	log_info("msg=listening protocol=%s address=%s", ops->name, spec);
	return 0;
}

/* Every worker's listeners: ls holds MAIN_NLISTEN per worker. */
static int
main_listeners(struct net_listener *ls)
{
	if (main_listen_one(settings.http_listen, settings.http_tls,
	    &http_ops, ls, MAIN_NLISTEN) != 0 ||
	    main_listen_one(settings.resp_listen, settings.resp_tls,
	    &resp_cmd_ops, ls + 1, MAIN_NLISTEN) != 0)
		return -1;
	return 0;
}

/* SIGTERM, SIGINT: leave the loop; main() drains the workers. */
static void
main_on_stop(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("msg=\"stopping\" signal=%d", (int)sig);
	notify_send("STOPPING=1\nSTATUS=draining connections");
	event_base_loopexit(arg, NULL);
}

/* Tell systemd how things stand (prefix: READY=1 or similar, or ""). */
static void
main_status(const char *prefix)
{
	struct stats_gauges g;
	struct stats sum;

	memset(&sum, 0, sizeof(sum));
	worker_stats_sum(&sum);
	source_gauges(&g);
	notify_send("%sSTATUS=%llu cards, source %s (%s), synced %.0f s ago, "
	    "%llu connections", prefix, (unsigned long long)g.cards,
	    g.source_kind, g.sync_state, g.synced_age,
	    (unsigned long long)atomic_load(&sum.conns_open));
}

/* Every few seconds: the status line systemctl status shows. */
static void
main_on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	main_status("");
}

/*
 * Until the first index is loaded and fresh, look again every few tens of
 * milliseconds; then say ready once, in the log and to systemd, and stop
 * looking. Ready means able to answer (PROTOCOL.md, /readyz): a balancer
 * or a unit ordered after ours must not reach a daemon that says 503.
 */
static void
main_on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct event *self = event_base_get_running_event(arg);

	enum answer_state state;

	(void)fd;
	(void)what;
	live_enter(LIVE_OTHER);	/* the index pointer is live state */
	state = answer_state_at(clock_now_ms());
	live_leave(LIVE_OTHER);
	if (state != ANSWER_READY)
		return;
	event_del(self);
	main_ready = 1;
	log_info("msg=ready cards=%llu", (unsigned long long)live_count());
	main_status("READY=1\n");
}

/* Watchdog: ping only while every worker's loop still turns. */
static void
main_on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (worker_alive())
		notify_send("WATCHDOG=1");
	else
		log_error("msg=\"a worker loop is stuck; not pinging the "
		    "watchdog\"");
}

/* A reload is over, done or refused: READY=1 again, once it was sent. */
static void
main_reload_over(void)
{
	main_status(main_ready ? "READY=1\n" : "");
}

/*
 * SIGHUP: read the config and the signing key again. Anything wrong
 * refuses the whole reload with one log line and the running
 * configuration stays. Otherwise the reloadable keys and the new key
 * take effect together, between two batches of every worker; no
 * connection is dropped.
 */
static void
main_on_reload(evutil_socket_t sig, short what, void *arg)
{
	const char *conf = main_conf;
	struct settings next;
	struct sign_keyring *kr, *old;
	struct main_sec sec;
	char err[512];
	size_t len;

	(void)sig;
	(void)what;
	(void)arg;
	log_info("msg=\"reloading\" config=\"%s\"", conf);
	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)
	    clock_monotonic_usec());
	if (config_load(conf, &next, err, sizeof(err)) != 0) {
		log_error("msg=\"reload refused; the running configuration "
		    "stays\" error=\"%s\"", err);
		settings_free(&next);
		main_reload_over();
		return;
	}
	/* The main thread is the only writer of the keys: reading them here
	 * without the lock is safe. */
	kr = sign_keyring_load(next.signing_key, main_alg(&next), next.key_id,
	    next.publish_keys, live_keys(), err, sizeof(err));
	if (kr == NULL) {
		log_error("msg=\"reload refused; the running configuration "
		    "stays\" error=\"signing_key: %s\"", err);
		settings_free(&next);
		main_reload_over();
		return;
	}
	if (main_security(&next, &sec, err, sizeof(err)) != 0) {
		log_error("msg=\"reload refused; the running configuration "
		    "stays\" error=\"%s\"", err);
		sign_keyring_free(kr);
		settings_free(&next);
		main_reload_over();
		return;
	}
	live_write_begin();
	config_apply(&settings, &next);
	old = live_swap_keys(kr);
	main_security_swap(&sec);
	live_write_end();
	log_set_level(settings.log_level);
	sign_keyring_free(old);
	main_security_free(&sec);
	settings_free(&next);
	log_info("msg=\"reloaded\" kid=%s", sign_kid(kr, &len));
	main_reload_over();
}

/*
 * Parse the command line. Returns -1 to go on, or the exit code when
 * there is nothing more to do (--version, --help, a usage error).
 */
static int
main_options(int argc, char **argv, const char **conf, int *test)
{
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:th", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			*conf = optarg;
			break;
		case 't':
			*test = 1;
			break;
		case 'V':
			printf("cardd %s\n", CARDD_VERSION);
			return 0;
		case 'h':
			main_usage(stdout);
			return 0;
		default:
			main_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		main_usage(stderr);
		return 2;
	}
	return -1;
}

/* The live state answers are made with: zone, keys, clients, TLS. */
static void
main_live_start(const char *conf)
{
	struct sign_keyring *kr;
	struct main_sec sec;
	char err[512];
	size_t len;

	main_threads();
	if (clock_set_zone(settings.timezone) != 0 ||
	    live_init(settings.threads) != 0 || code_store_init() != 0)
		fatalx("msg=\"out of memory\"");
	if ((kr = sign_keyring_load(settings.signing_key, main_alg(&settings),
	    settings.key_id, settings.publish_keys, NULL, err,
	    sizeof(err))) == NULL)
		fatalx("msg=\"cannot load the signing key\" error=\"%s\"", err);
	live_set_keys(kr);
	if (main_security(&settings, &sec, err, sizeof(err)) != 0)
		fatalx("msg=\"cannot set up clients, code issuers or TLS\" "
		    "error=\"%s\"", err);
	live_write_begin();
	main_security_swap(&sec);
	live_write_end();
	if (settings.auth == AUTH_NONE)
		log_warnx("msg=\"auth none: anyone who reaches the loopback "
		    "listeners may ask\"");
	log_info("msg=starting version=%s config=\"%s\" kid=%s threads=%d "
	    "signers=%d", CARDD_VERSION, conf, sign_kid(kr, &len),
	    settings.threads, settings.signers);
}

/*
 * threads and signers "auto": one of each per two CPUs this process may
 * run on, at least one. Signing is most of an answer's cost and a worker
 * sleeps while its job is signed, so on two cores one worker and one
 * signer keep both busy without fighting over them (bench/RESULTS.md,
 * issue 11, has the measurements behind this).
 */
static void
main_threads(void)
{
	cpu_set_t set;
	int ncpu = sched_getaffinity(0, sizeof(set), &set) == 0 ?
	    CPU_COUNT(&set) : (int)sysconf(_SC_NPROCESSORS_ONLN);
	int half = ncpu / 2 > 1 ? ncpu / 2 : 1;

	if (settings.threads == 0)
		settings.threads = half > 64 ? 64 : half;
	if (settings.signers == 0)
		settings.signers = half > 64 ? 64 : half;
}

/* The source on the main loop, the listeners and the workers. */
static void
main_serve(struct event_base *base)
{
	struct net_listener *ls;
	char err[512];

	if (source_start(base, err, sizeof(err)) != 0)
		fatalx("msg=\"cannot load the source\" error=\"%s\"", err);
	ls = calloc((size_t)settings.threads * MAIN_NLISTEN, sizeof(*ls));
	if (ls == NULL || main_listeners(ls) != 0)
		fatalx("msg=\"cannot start listeners\"");
	if (signer_start(settings.signers) != 0)
		fatalx("msg=\"cannot start signer threads\"");
	if (worker_start(settings.threads, ls, MAIN_NLISTEN) != 0)
		fatalx("msg=\"cannot start worker threads\"");
	free(ls);
}

/* Signals, the status tick and the watchdog, on the main loop. */
static void
main_events_add(struct event_base *base, struct main_events *ev)
{
	struct timeval tick = { 5, 0 }, poll = { 0, MAIN_READY_POLL_US }, wd;
	uint64_t half = notify_watchdog_usec() / 2;

	ev->term = evsignal_new(base, SIGTERM, main_on_stop, base);
	ev->intr = evsignal_new(base, SIGINT, main_on_stop, base);
	ev->hup = evsignal_new(base, SIGHUP, main_on_reload, NULL);
	ev->tick = event_new(base, -1, EV_PERSIST, main_on_tick, NULL);
	ev->ready = event_new(base, -1, EV_PERSIST, main_on_ready, base);
	event_add(ev->ready, &poll);
	event_add(ev->term, NULL);
	event_add(ev->intr, NULL);
	event_add(ev->hup, NULL);
	if (notify_active())	/* STATUS= is for systemd only */
		event_add(ev->tick, &tick);
	ev->watchdog = NULL;
	if (half == 0)
		return;
	wd.tv_sec = (time_t)(half / 1000000);
	wd.tv_usec = (suseconds_t)(half % 1000000);
	ev->watchdog = event_new(base, -1, EV_PERSIST, main_on_watchdog, NULL);
	event_add(ev->watchdog, &wd);
}

/* After the loop: drain the workers, stop the source, free it all. */
static void
main_teardown(struct event_base *base, struct main_events *ev)
{
	worker_stop(MAIN_DRAIN_MS);
	signer_stop();
	source_stop();
	event_free(ev->term);
	event_free(ev->intr);
	event_free(ev->hup);
	event_free(ev->tick);
	event_free(ev->ready);
	if (ev->watchdog != NULL)
		event_free(ev->watchdog);
	event_base_free(base);
	sign_keyring_free(live_set_keys(NULL));
	live_write_begin();
	auth_table_free(live_swap_auth(NULL));
	issuer_table_free(live_swap_issuers(NULL));
	tls_ctx_free(live_swap_tls(NULL));
	live_write_end();
	code_store_free();
	settings_free(&settings);
}

int
main(int argc, char **argv)
{
	const char *conf = MAIN_DEFAULT_CONF;
	struct main_events ev;
	struct event_base *base;
	char err[512];
	int test = 0, r;

	if ((r = main_options(argc, argv, &conf, &test)) >= 0)
		return r;
	/* A reload asked for before the loop runs has nothing to reload. */
	signal(SIGHUP, SIG_IGN);
	log_init(LOGL_INFO);
	evthread_use_pthreads();
	if (notify_init() != 0)
		log_warnx("msg=\"NOTIFY_SOCKET is unusable; not talking to "
		    "systemd\"");
	if (config_load(conf, &settings, err, sizeof(err)) != 0) {
		fprintf(stderr, "cardd: %s\n", err);
		return 1;
	}
	if (test)
		return main_check(conf);
	log_set_level(settings.log_level);
	signal(SIGPIPE, SIG_IGN);
	main_conf = conf;
	main_live_start(conf);
	/*
	 * The signal events first: a SIGHUP or SIGTERM that comes as soon as
	 * the workers answer must find them (the default action of both is
	 * to end the process); libevent keeps it for the loop.
	 */
	if ((base = event_base_new()) == NULL)
		fatalx("msg=\"cannot create the event loop\"");
	main_events_add(base, &ev);
	main_serve(base);
	log_info("msg=\"listening; ready once an index is loaded and "
	    "fresh\"");
	event_base_dispatch(base);
	main_teardown(base, &ev);
	log_info("msg=stopped");
	return 0;
}
