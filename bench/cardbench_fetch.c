/* SPDX-License-Identifier: MIT */
/*
 * Before the run: the keys to verify with, from a file or from the
 * server under test (HTTP GET /v1/keys, or the RESP command JWKS). One
 * blocking connection with the run's timeout; nothing here is measured.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cardbench_conf.h"
#include "cardbench_fetch.h"
#include "http1.h"
#include "resp.h"

#define FETCH_MAX	(1 << 20)

static int	cardbench_fetch_connect(void);
static size_t	cardbench_fetch_exchange(const char *, size_t, char *, size_t);
static char	*cardbench_fetch_body(const char *, size_t, size_t *);

/* A blocking connection to the target, with timeouts. */
static int
cardbench_fetch_connect(void)
{
	const struct cardbench_conf *c = &cardbench_conf;
	struct timeval tv = { (time_t)c->timeout,
	    (suseconds_t)((c->timeout - (double)(time_t)c->timeout) * 1e6) };
	int fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)&c->addr, c->addrlen) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send a request; read until one whole answer (or the end). */
static size_t
cardbench_fetch_exchange(const char *req, size_t len, char *buf, size_t cap)
{
	int http = cardbench_conf.proto == BENCH_HTTP;
	int fd = cardbench_fetch_connect();
	struct resp_reply r;
	size_t n = 0;
	ssize_t k;

	if (fd < 0 || send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while (n < cap && (k = read(fd, buf + n, cap - n)) > 0) {
		n += (size_t)k;
		if (!http && resp_parse_reply(buf, n, &r) > 0)
			break;
	}
	close(fd);
	return n;
}

/* The JWKS out of an answer, as a new NUL-terminated string. */
static char *
cardbench_fetch_body(const char *buf, size_t n, size_t *len)
{
	struct http1_response res;
	struct resp_reply r;
	const struct http1_header *h;
	const char *p = NULL;
	size_t body = 0;
	ssize_t head;
	char *out;

	if (cardbench_conf.proto == BENCH_HTTP) {
		head = http1_parse_response(buf, n, &res);
		h = head > 0 ? http1_find(res.headers, res.num_headers,
		    "content-length") : NULL;
		if (h != NULL && res.status == 200 &&
		    http1_parse_length(h->value, h->value_len, &body) == 0 &&
		    n - (size_t)head >= body)
			p = buf + head;
	} else if (resp_parse_reply(buf, n, &r) > 0 && r.type == RESP_BULK) {
		p = r.p;
		body = r.len;
	}
	if (p == NULL || (out = malloc(body + 1)) == NULL)
		return NULL;
	memcpy(out, p, body);
	out[body] = '\0';
	*len = body;
	return out;
}

/* Ask the server for its JWKS. NULL (and a message) on failure. */
char *
cardbench_fetch_jwks(size_t *len)
{
	char req[512], *buf = malloc(FETCH_MAX), *out = NULL;
	size_t n;

	if (cardbench_conf.proto == BENCH_HTTP)
		n = (size_t)snprintf(req, sizeof(req), "GET /v1/keys HTTP/1.1"
		    "\r\nHost: %s\r\nConnection: close\r\n\r\n",
		    cardbench_conf.target);
	else
		n = (size_t)snprintf(req, sizeof(req), "*1\r\n$4\r\nJWKS\r\n");
	if (buf != NULL && (n = cardbench_fetch_exchange(req, n, buf,
	    FETCH_MAX)) > 0)
		out = cardbench_fetch_body(buf, n, len);
	if (out == NULL)
		fprintf(stderr, "cardbench: cannot fetch the JWKS from %s\n",
		    cardbench_conf.target);
	free(buf);
	return out;
}

/* Read a whole file. NULL (and a message) on failure. */
char *
cardbench_fetch_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "r");
	char *buf = malloc(FETCH_MAX);

	*len = 0;
	if (fp != NULL && buf != NULL) {
		*len = fread(buf, 1, FETCH_MAX - 1, fp);
		buf[*len] = '\0';
	}
	if (fp == NULL || buf == NULL || ferror(fp)) {
		fprintf(stderr, "cardbench: %s: %s\n", path, strerror(errno));
		free(buf);
		buf = NULL;
	}
	if (fp != NULL)
		fclose(fp);
	return buf;
}
