/* SPDX-License-Identifier: MIT */
/*
 * cardctl check: ask a running cardd over HTTP or RESP, print the
 * statement and its JWS (one line each), and with --verify check the
 * signature against the JWKS the same server publishes. A small
 * blocking client: one connection, one request, a 5 s timeout; TLS
 * (verifying the server, optionally with a client certificate) and a
 * bearer token ($CARDD_TOKEN or --token) when the server asks for them.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <netdb.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "cardctl.h"
#include "http1.h"
#include "resp.h"

#define CLIENT_MAX	(1 << 20)
#define CLIENT_NPARAMS	4

struct client_answer {
	char	*body;		/* statement, JWKS, or error text */
	size_t	 len;
	char	*jws;
	size_t	 jws_len;
	int	 ok;
};

/* How to reach the server: TLS, client certificate, token. */
struct client_sec {
	int		 tls;
	const char	*cacert;
	const char	*cert;
	const char	*key;
	const char	*token;
};

static struct client_sec client_sec;

/* The parameters passed on, in this order, each when given. */
static const char *const client_params[CLIENT_NPARAMS] = {
	"at", "birth", "nonce", "region"
};

struct client_opts {
	const char	*http;
	const char	*resp;
	const char	*check;
	const char	*id;
	const char	*scheme;
	const char	*param[CLIENT_NPARAMS];	/* client_params' values */
	int		 permit;
	int		 code;		/* the CARD argument is a card code */
	int		 verify;
	struct client_sec sec;
};

#define CLIENT_OPT(name, value, field) \
	{ name, value, offsetof(struct client_opts, field), NULL }

static const struct cardctl_opt client_opts_table[] = {
	CLIENT_OPT("--at", 1, param[0]),
	CLIENT_OPT("--birth", 1, param[1]),
	CLIENT_OPT("--nonce", 1, param[2]),
	CLIENT_OPT("--region", 1, param[3]),
	CLIENT_OPT("--http", 1, http),
	CLIENT_OPT("--resp", 1, resp),
	CLIENT_OPT("--token", 1, sec.token),
	CLIENT_OPT("--cacert", 1, sec.cacert),
	CLIENT_OPT("--cert", 1, sec.cert),
	CLIENT_OPT("--key", 1, sec.key),
	CLIENT_OPT("--tls", 0, sec.tls),
	CLIENT_OPT("--permit", 0, permit),
	CLIENT_OPT("--code", 0, code),
	CLIENT_OPT("--verify", 0, verify),
};

static int	client_connect(const char *);
static char	*client_exchange(const char *, const char *, size_t,
		    size_t *, int);
static SSL	*client_tls(int, const char *);
static ssize_t	client_io(SSL *, int, void *, size_t, int);
static int	client_http(const char *, const char *, struct client_answer *);
static int	client_resp(const char *, struct resp_arg *, size_t,
		    struct client_answer *);
static int	client_args(int, char **, struct client_opts *);
static int	client_ask(const struct client_opts *, struct client_answer *);
static void	client_answer_free(struct client_answer *);

/* Connect to HOST:PORT (or [v6]:PORT) with a 5 s timeout on reads. */
static int
client_connect(const char *spec)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	struct timeval tv = { 5, 0 };
	char host[256], *colon;
	int fd = -1;

	snprintf(host, sizeof(host), "%s", spec[0] == '[' ? spec + 1 : spec);
	if ((colon = strrchr(host, ':')) == NULL)
		return -1;
	*colon = '\0';
	if (colon > host && colon[-1] == ']')
		colon[-1] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	return fd;
}

/* TLS over a connected socket, verifying the server as host. */
static SSL *
client_tls(int fd, const char *spec)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char host[256], *colon;
	SSL *ssl = NULL;

	snprintf(host, sizeof(host), "%s", spec[0] == '[' ? spec + 1 : spec);
	if ((colon = strrchr(host, ':')) != NULL)
		*colon = '\0';
	if (colon != NULL && colon > host && colon[-1] == ']')
		colon[-1] = '\0';
	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if ((client_sec.cacert != NULL ? SSL_CTX_load_verify_locations(ctx,
	    client_sec.cacert, NULL) : SSL_CTX_set_default_verify_paths(ctx))
	    != 1 || (client_sec.cert != NULL &&
	    (SSL_CTX_use_certificate_chain_file(ctx, client_sec.cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, client_sec.key ? client_sec.key :
	    client_sec.cert, SSL_FILETYPE_PEM) != 1)) ||
	    (ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
	    SSL_set_tlsext_host_name(ssl, host) != 1 ||
	    SSL_set1_host(ssl, host) != 1 || SSL_connect(ssl) != 1) {
		fprintf(stderr, "cardctl: TLS with %s: %s\n", spec,
		    ERR_reason_error_string(ERR_get_error()));
		SSL_free(ssl);
		ssl = NULL;
	}
	SSL_CTX_free(ctx);
	return ssl;
}

/* Read (write: 1) on the socket or its TLS layer. */
static ssize_t
client_io(SSL *ssl, int fd, void *p, size_t len, int write_)
{
	size_t n;

	if (ssl == NULL)
		return write_ ? write(fd, p, len) : read(fd, p, len);
	if ((write_ ? SSL_write_ex(ssl, p, len, &n) :
	    SSL_read_ex(ssl, p, len, &n)) != 1)
		return -1;
	return (ssize_t)n;
}

/*
 * Send a request and read until the server closes (HTTP, Connection:
 * close) or, for RESP, until nreplies whole replies have arrived.
 */
static char *
client_exchange(const char *spec, const char *req, size_t len, size_t *outlen,
    int nreplies)
{
	int fd = client_connect(spec), resp = req[0] == '*';
	SSL *ssl = fd >= 0 && client_sec.tls ? client_tls(fd, spec) : NULL;
	char *buf = malloc(CLIENT_MAX);
	struct resp_reply r;
	size_t n = 0;
	ssize_t k;

	if (fd < 0 || buf == NULL || (client_sec.tls && ssl == NULL) ||
	    client_io(ssl, fd, (void *)(uintptr_t)req, len, 1) !=
	    (ssize_t)len) {
		fprintf(stderr, "cardctl: cannot talk to %s\n", spec);
		free(buf);
		SSL_free(ssl);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while (n < CLIENT_MAX &&
	    (k = client_io(ssl, fd, buf + n, CLIENT_MAX - n, 0)) > 0) {
		size_t at = 0;
		int got = 0;

		n += (size_t)k;
		while (resp && got < nreplies && (k = resp_parse_reply(buf + at,
		    n - at, &r)) > 0) {
			at += (size_t)k;
			got++;
		}
		if (resp && got == nreplies)
			break;
	}
	SSL_free(ssl);
	close(fd);
	*outlen = n;
	return buf;
}

/* GET a path over HTTP; the answer is the body and Card-Signature. */
static int
client_http(const char *spec, const char *path, struct client_answer *a)
{
	char req[1024];
	struct http1_response res;
	const struct http1_header *h;
	size_t n, body;
	ssize_t head;
	char *buf;

	n = (size_t)snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s"
	    "\r\n%s%s%sConnection: close\r\n\r\n", path, spec,
	    client_sec.token ? "Authorization: Bearer " : "",
	    client_sec.token ? client_sec.token : "",
	    client_sec.token ? "\r\n" : "");
	if (n >= sizeof(req) || (buf = client_exchange(spec, req, n, &n, 1))
	    == NULL)
		return -1;
	head = http1_parse_response(buf, n, &res);
	h = head > 0 ? http1_find(res.headers, res.num_headers,
	    "content-length") : NULL;
	if (h == NULL || http1_parse_length(h->value, h->value_len, &body) ||
	    n - (size_t)head < body) {
		fprintf(stderr, "cardctl: %s: not an HTTP answer\n", spec);
		free(buf);
		return -1;
	}
	a->ok = res.status == 200;
	if ((h = http1_find(res.headers, res.num_headers, "card-signature"))) {
		a->jws = strndup(h->value, h->value_len);
		a->jws_len = h->value_len;
	}
	a->body = strndup(buf + head, body);
	a->len = body;
	free(buf);
	return 0;
}

/*
 * Send one RESP command (after AUTH when there is a token); a check's
 * answer is an array of two bulks.
 */
static int
client_resp(const char *spec, struct resp_arg *argv, size_t argc,
    struct client_answer *a)
{
	struct resp_arg auth[2] = { { "AUTH", 4 }, { NULL, 0 } };
	char req[4096], *buf, *at;
	struct resp_reply r;
	size_t n = 0, len;
	ssize_t k;
	int replies = 1;

	if (client_sec.token != NULL && argv[0].len != 4) {
		auth[1].p = client_sec.token;
		auth[1].len = strlen(client_sec.token);
		n = resp_command(req, sizeof(req), 2, auth);
		replies = 2;
	}
	len = resp_command(req + n, sizeof(req) - n, argc, argv);
	if (len == 0 || (buf = client_exchange(spec, req, n + len, &n,
	    replies)) == NULL)
		return -1;
	at = buf;
	if (replies == 2 && (k = resp_parse_reply(at, n, &r)) > 0) {
		if (r.type == RESP_ERRMSG) {
			fprintf(stderr, "cardctl: AUTH: %.*s\n", (int)r.len, r.p);
			free(buf);
			return -1;
		}
		at += k;
		n -= (size_t)k;
	}
	if (resp_parse_reply(at, n, &r) <= 0) {
		fprintf(stderr, "cardctl: %s: not a RESP answer\n", spec);
		free(buf);
		return -1;
	}
	a->ok = r.type == RESP_ARRAY || r.type == RESP_BULK;
	if (r.type == RESP_ARRAY && r.nelem == 2) {
		a->body = strndup(r.elem[0].p, r.elem[0].len);
		a->len = r.elem[0].len;
		a->jws = strndup(r.elem[1].p, r.elem[1].len);
		a->jws_len = r.elem[1].len;
	} else {
		a->body = strndup(r.p ? r.p : "", r.len);
		a->len = r.len;
	}
	free(buf);
	return 0;
}

/* Fetch the server's JWKS over HTTP or RESP. */
int
client_fetch_jwks(const char *http, const char *resp, char **out, size_t *len)
{
	struct client_answer a = { 0 };
	struct resp_arg argv[1] = { { "JWKS", 4 } };
	int rc = http ? client_http(http, "/v1/keys", &a) :
	    client_resp(resp, argv, 1, &a);

	if (rc != 0 || !a.ok) {
		client_answer_free(&a);
		return -1;
	}
	*out = a.body;
	*len = a.len;
	free(a.jws);
	return 0;
}

/* Free an answer's strings. */
static void
client_answer_free(struct client_answer *a)
{
	free(a->body);
	free(a->jws);
}

/* Parse check's arguments; the TLS and token settings to client_sec. */
static int
client_args(int argc, char **argv, struct client_opts *o)
{
	const char *pos[3] = { NULL, NULL, NULL };
	int npos, rc;

	o->sec.token = getenv("CARDD_TOKEN");
	if ((rc = cardctl_parse(argc, argv, client_opts_table,
	    CARDCTL_NOPTS(client_opts_table), o, pos, 3, &npos)) != 0)
		return rc;
	o->check = pos[0];
	o->id = pos[1];
	o->scheme = pos[2];
	if (npos < 2 || (o->http != NULL && o->resp != NULL) ||
	    (o->permit && o->code))
		return CARDCTL_BADARGS;
	if (strcmp(o->check, "coverage") == 0 && npos != 3)
		return CARDCTL_BADARGS;
	if (strcmp(o->check, "coverage") != 0 &&
	    (strcmp(o->check, "validity") != 0 || npos != 2))
		return CARDCTL_BADARGS;
	if (o->http == NULL && o->resp == NULL)
		o->http = "127.0.0.1:8080";
	client_sec = o->sec;
	return 0;
}

/* Ask the check over the chosen protocol. */
static int
client_ask(const struct client_opts *o, struct client_answer *a)
{
	struct resp_arg argv[12];
	char path[4096];	/* a card code is up to 2048 bytes */
	size_t argc = 0, n;

	if (o->http != NULL) {
		n = (size_t)snprintf(path, sizeof(path), "/v1/%s?%s=%s%s%s",
		    o->check, o->code ? "code" : o->permit ? "permit" : "card",
		    o->id,
		    o->scheme ? "&scheme=" : "", o->scheme ? o->scheme : "");
		for (int k = 0; k < CLIENT_NPARAMS && n < sizeof(path); k++)
			if (o->param[k] != NULL)
				n += (size_t)snprintf(path + n, sizeof(path) - n,
				    "&%s=%s", client_params[k], o->param[k]);
		return n < sizeof(path) ? client_http(o->http, path, a) : -1;
	}
	argv[argc++] = (struct resp_arg){ o->check, strlen(o->check) };
	argv[argc++] = (struct resp_arg){ o->id, strlen(o->id) };
	if (o->scheme != NULL)
		argv[argc++] = (struct resp_arg){ o->scheme, strlen(o->scheme) };
	for (int k = 0; k < CLIENT_NPARAMS; k++)
		if (o->param[k] != NULL) {
			argv[argc++] = (struct resp_arg){ client_params[k],
			    strlen(client_params[k]) };
			argv[argc++] = (struct resp_arg){ o->param[k],
			    strlen(o->param[k]) };
		}
	if (o->permit)
		argv[argc++] = (struct resp_arg){ "BYPERMIT", 8 };
	if (o->code)
		argv[argc++] = (struct resp_arg){ "BYCODE", 6 };
	return client_resp(o->resp, argv, argc, a);
}

/* cardctl check ... */
int
client_check_main(int argc, char **argv)
{
	struct client_opts o = { 0 };
	struct client_answer a = { 0 };
	char *jwks = NULL, why[256];
	size_t jwks_len;
	int rc = CARDCTL_OK;

	if ((rc = client_args(argc, argv, &o)) != 0)
		return rc;
	if (client_ask(&o, &a) != 0)
		return CARDCTL_USAGE;
	if (!a.ok || a.jws == NULL) {
		fprintf(stderr, "cardctl: refused: %.*s\n", (int)a.len, a.body);
		client_answer_free(&a);
		return CARDCTL_USAGE;
	}
	printf("%.*s\n%.*s\n", (int)a.len, a.body, (int)a.jws_len, a.jws);
	fflush(stdout);	/* the answer before the verdict on stderr */
	if (o.verify) {
		if (client_fetch_jwks(o.http, o.resp, &jwks, &jwks_len) != 0) {
			fprintf(stderr, "cardctl: cannot fetch the JWKS\n");
			rc = CARDCTL_USAGE;
		} else {
			rc = keys_verify_text(jwks, jwks_len, a.body, a.len,
			    a.jws, a.jws_len, why, sizeof(why));
			fprintf(stderr, "signature %s\n", why);
		}
	}
	free(jwks);
	client_answer_free(&a);
	return rc;
}
