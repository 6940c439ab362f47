/* SPDX-License-Identifier: MIT */
/*
 * cardd: answers signed validity and coverage checks of combined work
 * permit / social security cards, over HTTP and RESP, from an in-memory
 * index of its source. The main thread loads the config, the key and the
 * source, starts the workers, then handles signals and follows the
 * source until it is told to stop.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "auth.h"
#include "clock.h"
#include "config.h"
#include "live.h"
#include "log.h"
#include "net_tcp.h"
#include "notify.h"
#include "sign.h"
#include "tls.h"
#include "source.h"
#include "worker.h"

#define MAIN_DEFAULT_CONF	"/etc/cardd/cardd.conf"
#define MAIN_DRAIN_MS		10000
#define MAIN_BACKLOG		1024

static const char *main_conf;	/* the file SIGHUP reads again */

static void	main_usage(FILE *);
static int	main_check(const char *);
static int	main_security(const struct settings *, struct auth_table **,
		    struct tls_ctx **, char *, size_t);
static int	main_listeners(int (*)[PROTO_COUNT]);
static void	main_on_stop(evutil_socket_t, short, void *);
static void	main_on_tick(evutil_socket_t, short, void *);
static void	main_on_watchdog(evutil_socket_t, short, void *);
static void	main_status(const char *);
static void	main_on_reload(evutil_socket_t, short, void *);

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

/*
 * The client table and, with a TLS listener, the TLS context of a
 * config. Returns 0, or -1 with err set.
 */
static int
main_security(const struct settings *s, struct auth_table **at,
    struct tls_ctx **tc, char *err, size_t errlen)
{
	*tc = NULL;
	if ((*at = auth_table_new(s->clients.v, s->clients.n, err, errlen)) ==
	    NULL)
		return -1;
	if ((s->http_tls || s->resp_tls) &&
	    (*tc = tls_ctx_new(s, err, errlen)) == NULL) {
		auth_table_free(*at);
		return -1;
	}
	return 0;
}

/* -t: the config parsed already; check the keys and TLS material too. */
static int
main_check(const char *path)
{
	char err[512];
	struct sign_keyring *kr;
	struct auth_table *at;
	struct tls_ctx *tc;

	kr = sign_keyring_load(settings.signing_key, settings.key_id,
	    settings.publish_keys, NULL, err, sizeof(err));
	if (kr == NULL) {
		fprintf(stderr, "cardd: %s: signing_key: %s\n", path, err);
		return 1;
	}
	sign_keyring_free(kr);
	if (main_security(&settings, &at, &tc, err, sizeof(err)) != 0) {
		fprintf(stderr, "cardd: %s: %s\n", path, err);
		return 1;
	}
	auth_table_free(at);
	tls_ctx_free(tc);
	printf("cardd: %s: configuration OK\n", path);
	return 0;
}

/*
 * Open one listening socket per worker and protocol. A probe bind first
 * makes sure nobody else holds the port.
 */
static int
main_listeners(int (*fds)[PROTO_COUNT])
{
	const char *spec[PROTO_COUNT] = { settings.http_listen,
	    settings.resp_listen };
	char err[256];

	for (int p = 0; p < PROTO_COUNT; p++) {
		for (int i = 0; i < settings.threads; i++)
			fds[i][p] = -1;
		if (spec[p] == NULL)
			continue;
		if (net_tcp_probe(spec[p], err, sizeof(err)) != 0) {
			log_error("msg=\"cannot listen\" error=\"%s\"", err);
			return -1;
		}
		for (int i = 0; i < settings.threads; i++)
			if ((fds[i][p] = net_tcp_listen(spec[p], MAIN_BACKLOG,
			    err, sizeof(err))) < 0) {
				log_error("msg=\"cannot listen\" error=\"%s\"",
				    err);
				return -1;
			}
		log_info("msg=listening protocol=%s address=%s",
		    p == PROTO_HTTP ? "http" : "resp", spec[p]);
	}
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
	struct auth_table *at;
	struct tls_ctx *tc;
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
		main_status("READY=1\n");
		return;
	}
	/* The main thread is the only writer of the keys: reading them here
	 * without the lock is safe. */
	kr = sign_keyring_load(next.signing_key, next.key_id, next.publish_keys,
	    live_keys(), err, sizeof(err));
	if (kr == NULL) {
		log_error("msg=\"reload refused; the running configuration "
		    "stays\" error=\"signing_key: %s\"", err);
		settings_free(&next);
		main_status("READY=1\n");
		return;
	}
	if (main_security(&next, &at, &tc, err, sizeof(err)) != 0) {
		log_error("msg=\"reload refused; the running configuration "
		    "stays\" error=\"%s\"", err);
		sign_keyring_free(kr);
		settings_free(&next);
		main_status("READY=1\n");
		return;
	}
	/* TLS listeners stay what they are until a restart: a config that
	 * turns TLS off keeps the running context. */
	live_write_begin();
	config_apply(&settings, &next);
	old = live_swap_keys(kr);
	at = live_swap_auth(at);
	tc = (settings.http_tls || settings.resp_tls) && tc != NULL ?
	    live_swap_tls(tc) : tc;
	live_write_end();
	log_set_level(settings.log_level);
	sign_keyring_free(old);
	auth_table_free(at);
	tls_ctx_free(tc);
	settings_free(&next);
	log_info("msg=\"reloaded\" kid=%s", sign_kid(kr, &len));
	main_status("READY=1\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *conf = MAIN_DEFAULT_CONF;
	int ch, test = 0, (*fds)[PROTO_COUNT];
	struct event *ev_term, *ev_int, *ev_hup, *ev_tick, *ev_wd = NULL;
	struct timeval tick = { 5, 0 }, wd;
	struct event_base *base;
	struct sign_keyring *kr;
	char err[512];
	size_t len;

	while ((ch = getopt_long(argc, argv, "c:th", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 't':
			test = 1;
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
	log_init(LOGL_INFO);
	evthread_use_pthreads();
	if (notify_init() != 0)
		log_warn("msg=\"NOTIFY_SOCKET is unusable; not talking to "
		    "systemd\"");
	if (config_load(conf, &settings, err, sizeof(err)) != 0) {
		fprintf(stderr, "cardd: %s\n", err);
		return 1;
	}
	if (test)
		return main_check(conf);
	log_set_level(settings.log_level);
	signal(SIGPIPE, SIG_IGN);
	if (clock_set_zone(settings.timezone) != 0 ||
	    live_init(settings.threads) != 0)
		fatalx("msg=\"out of memory\"");
	if ((kr = sign_keyring_load(settings.signing_key, settings.key_id,
	    settings.publish_keys, NULL, err, sizeof(err))) == NULL)
		fatalx("msg=\"cannot load the signing key\" error=\"%s\"", err);
	live_set_keys(kr);
	{
		struct auth_table *at;
		struct tls_ctx *tc;

		if (main_security(&settings, &at, &tc, err, sizeof(err)) != 0)
			fatalx("msg=\"cannot set up clients or TLS\" error=\"%s\"",
			    err);
		live_write_begin();
		live_swap_auth(at);
		live_swap_tls(tc);
		live_write_end();
		if (settings.auth == AUTH_NONE)
			log_warn("msg=\"auth none: anyone who reaches the "
			    "loopback listeners may ask\"");
	}
	log_info("msg=starting version=%s config=\"%s\" kid=%s threads=%d",
	    CARDD_VERSION, conf, sign_kid(kr, &len), settings.threads);
	if ((base = event_base_new()) == NULL)
		fatalx("msg=\"cannot create the event loop\"");
	if (source_start(base, err, sizeof(err)) != 0)
		fatalx("msg=\"cannot load the source\" error=\"%s\"", err);
	fds = calloc((size_t)settings.threads, sizeof(*fds));
	if (fds == NULL || main_listeners(fds) != 0)
		fatalx("msg=\"cannot start listeners\"");
	if (worker_start(settings.threads, fds) != 0)
		fatalx("msg=\"cannot start worker threads\"");
	free(fds);
	ev_term = evsignal_new(base, SIGTERM, main_on_stop, base);
	ev_int = evsignal_new(base, SIGINT, main_on_stop, base);
	main_conf = conf;
	ev_hup = evsignal_new(base, SIGHUP, main_on_reload, NULL);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	event_add(ev_hup, NULL);
	ev_tick = event_new(base, -1, EV_PERSIST, main_on_tick, NULL);
	event_add(ev_tick, &tick);
	if (notify_watchdog_usec() > 0) {
		uint64_t half = notify_watchdog_usec() / 2;

		wd.tv_sec = (time_t)(half / 1000000);
		wd.tv_usec = (suseconds_t)(half % 1000000);
		ev_wd = event_new(base, -1, EV_PERSIST, main_on_watchdog, NULL);
		event_add(ev_wd, &wd);
	}
	log_info("msg=ready");
	main_status("READY=1\n");
	event_base_dispatch(base);
	worker_stop(MAIN_DRAIN_MS);
	source_stop();
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	event_free(ev_tick);
	if (ev_wd != NULL)
		event_free(ev_wd);
	event_base_free(base);
	sign_keyring_free(live_set_keys(NULL));
	live_write_begin();
	auth_table_free(live_swap_auth(NULL));
	tls_ctx_free(live_swap_tls(NULL));
	live_write_end();
	settings_free(&settings);
	log_info("msg=stopped");
	return 0;
}
