/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for daemon/net_tcp.c: backpressure from held replies, on a
 * socketpair with a made-up protocol. Each request is a line; each one
 * taken holds a reply, as a signed answer does until its signature is
 * back (sign_queue.c), and the test lets them go as a signer would.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <event2/event.h>

#include "config.h"
#include "live.h"
#include "net_tcp.h"
#include "testhelp.h"

static int taken;

/* The made-up protocol: take whole lines while there is room. */
static void
lines_input(struct conn *c)
{
	while (c->in.len > 0 && net_tcp_room(c, settings.client_max_output)) {
		const char *nl = memchr(buf_head(&c->in), '\n', c->in.len);

		if (nl == NULL)
			return;
		if (c->held++ == 0)
			c->hold_at = c->out_sent + c->out.len - c->out_placed;
		buf_consume(&c->in, (size_t)(nl - buf_head(&c->in)) + 1);
		taken++;
	}
}

static const struct conn_ops lines_ops = { .name = "lines",
	.input = lines_input };

struct rig {
	struct event_base	*base;
	struct stats		 stats;
	struct net_loop		 loop;
	struct conn		*c;
	int			 peer;		/* the client's end */
};

/* A loop with one connection; the client has sent n lines. */
static void
rig_open(struct rig *r, int n)
{
	const struct net_listener ls = { .fd = -1, .ops = &lines_ops };
	struct sockaddr_in sa = { .sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	static char lines[2 * 4096];
	int sv[2];

	CHECK(n <= 4096);
	memset(r, 0, sizeof(*r));
	taken = 0;
	r->base = event_base_new();
	r->loop = (struct net_loop){ .base = r->base, .stats = &r->stats };
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
	    0);
	r->peer = sv[1];
	r->c = net_tcp_conn_new(&r->loop, sv[0], &ls, (struct sockaddr *)&sa,
	    sizeof(sa));
	CHECK(r->c != NULL);
	for (int i = 0; i < n; i++)
		memcpy(lines + 2 * i, "x\n", 2);
	/* One write: a unix socket's buffer counts each write's overhead. */
	CHECK_EQ_INT(write(r->peer, lines, 2 * (size_t)n), 2 * n);
}

/* One turn of the loop, up to (not including) the end of the pass. */
static void
rig_turn(struct rig *r)
{
	event_base_loop(r->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

/* The end of the pass, as worker.c ends it. */
static void
rig_pass_end(struct rig *r)
{
	net_tcp_flush_deferred(&r->loop);
	if (r->loop.live_held) {
		live_leave(r->loop.reader);
		r->loop.live_held = 0;
	}
}

/* Every held reply comes back (written as nothing). */
static void
rig_release(struct rig *r)
{
	r->c->held = 0;
	r->c->hold_at = NET_HOLD_NONE;
	net_tcp_conn_defer(r->c);
}

/* Close the connection and the loop. */
static void
rig_close(struct rig *r)
{
	net_tcp_conn_close(r->c);
	close(r->peer);
	event_base_free(r->base);
}

/* Held replies stop reading; their return resumes it where it stopped. */
static void
test_held_replies_pause_and_resume(void)
{
	struct rig r;

	rig_open(&r, NET_HELD_MAX + 44);
	rig_turn(&r);
	rig_pass_end(&r);
	CHECK_EQ_INT(taken, NET_HELD_MAX);
	CHECK(r.c->paused);
	rig_turn(&r);			/* paused: the rest is not read */
	rig_pass_end(&r);
	CHECK_EQ_INT(taken, NET_HELD_MAX);
	rig_release(&r);
	rig_pass_end(&r);
	CHECK_EQ_INT(taken, NET_HELD_MAX + 44);
	CHECK(!r.c->paused);
	rig_close(&r);
}

/*
 * Replies that come back in the pass that ran out of room (the signer's
 * mail is handled after the read) leave room by the time the output is
 * settled: the requests left over must still be taken, not wait for the
 * idle timeout (a stall seen in test_signer's HTTP pipeline test).
 */
static void
test_room_back_within_the_pass(void)
{
	struct rig r;

	rig_open(&r, NET_HELD_MAX + 44);
	rig_turn(&r);
	CHECK_EQ_INT(taken, NET_HELD_MAX);
	rig_release(&r);		/* before the pass ends */
	rig_pass_end(&r);
	CHECK_EQ_INT(taken, NET_HELD_MAX + 44);
	CHECK(!r.c->paused);
	rig_close(&r);
}

/* A partial request after a resume is left to wait for its bytes. */
static void
test_partial_request_waits(void)
{
	struct rig r;

	rig_open(&r, NET_HELD_MAX);
	CHECK_EQ_INT(write(r.peer, "part", 4), 4);
	rig_turn(&r);
	rig_pass_end(&r);
	CHECK_EQ_INT(taken, NET_HELD_MAX);
	rig_release(&r);
	rig_pass_end(&r);
	CHECK(!r.c->paused);
	CHECK_EQ_INT(r.c->in.len, 4);
	CHECK_EQ_INT(write(r.peer, "\n", 1), 1);
	rig_turn(&r);
	rig_pass_end(&r);
	CHECK_EQ_INT(taken, NET_HELD_MAX + 1);
	rig_close(&r);
}

int
main(void)
{
	static const char conf[] = "auth none\n";
	char err[256] = "";

	if (config_parse(conf, strlen(conf), "test", &settings, err,
	    sizeof(err)) != 0 ||
	    live_init(1) != 0) {
		fprintf(stderr, "setup: %s\n", err);
		return 1;
	}
	test_held_replies_pause_and_resume();
	test_room_back_within_the_pass();
	test_partial_request_waits();
	TEST_REPORT("net_tcp");
}
