/* SPDX-License-Identifier: MIT */
/*
 * The HTTP/1.1 interface (PROTOCOL.md §5). Requests are parsed in place from
 * the connection's input (protocol/http1.c); every complete request in
 * the buffer is answered before the worker writes, so a pipelining
 * client gets its answers in one write. Keep-alive is the default for
 * HTTP/1.1. A request whose framing cannot be trusted (bad head, body
 * size unknown, too big) is answered and the connection closed; any other
 * error leaves the connection usable. What HTTP remembers of a connection
 * (struct http_conn) is its own, behind the socket layer's ops table.
 */
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "answer.h"
#include "auth.h"
#include "batch.h"
#include "code_bind.h"
#include "code_store.h"
#include "config.h"
#include "cors.h"
#include "date.h"
#include "fhir.h"
#include "http.h"
#include "http1.h"
#include "live.h"
#include "net_tcp.h"
#include "openapi.h"
#include "sign.h"
#include "sign_queue.h"
#include "source.h"
#include "worker.h"

#define HTTP_HEAD_MAX	512
#define HTTP_F_CLOSE	0x1	/* Connection: close */
#define HTTP_F_10	0x2	/* HTTP/1.0 keep-alive */
#define HTTP_F_HEAD	0x4	/* no body */
#define HTTP_F_ALLOW_GET 0x8	/* 405: Allow: GET, HEAD */
#define HTTP_F_ALLOW_POST 0x10	/* 405: Allow: POST */
#define HTTP_F_AUTH	0x20	/* 401: WWW-Authenticate */
#define HTTP_F_RETRY	0x40	/* 429: Retry-After */
#define HTTP_F_FHIR	0x80	/* FHIR: application/fhir+json */
#define HTTP_F_CACHE	0x100	/* cacheable (the keys): sig is the ETag */
#define HTTP_KEYS_MAX_AGE "300"	/* seconds a client may keep the JWKS */
#define HTTP_F_PREFLIGHT 0x200	/* a CORS preflight's answer */
#define HTTP_CORS_SHIFT	16	/* bits 16-23: the Origin let in (cors.c) */
#define HTTP_VALUE_MAX	(CARDCODE_MAX + 1)	/* longer values are bad;
					   a code is the longest */
#define HTTP_TOKEN_MAX	128	/* longest bearer token remembered */

/* What an answer to checks is: one statement, a batch, FHIR. */
enum http_kind { HTTP_ONE, HTTP_BATCH, HTTP_FHIR };

/* What HTTP keeps of one connection between requests. */
struct http_conn {
	struct sign_queue_hold	 hold;		/* answers awaiting a signature */
	struct auth_id		 id;		/* the last Authorization's */
	char			 token[HTTP_TOKEN_MAX];
	size_t			 token_len;
	int			 continue_sent;	/* 100 Continue for this body */
	struct code_bind_wait	*wait;		/* an answer awaits binding */
	unsigned		 wait_flags;	/* its response's */
	enum http_kind		 wait_kind;
	struct fhir_req		*wait_fhir;	/* HTTP_FHIR: what it echoes */
	struct timespec		 wait_t0;
};

struct http_ctx {
	struct conn			*c;
	struct worker			*w;		/* c's */
	unsigned			 extra;		/* HTTP_F_ALLOW_* */
	const struct auth_id		*id;		/* who asks */
	int				 bad_auth;	/* malformed header */
	const struct http1_request	*req;
	const char			*query;
	size_t				 query_len;
	const char			*body;
	size_t				 body_len;
	int				 head;		/* HEAD: no body */
	int				 fhir;		/* /fhir/: errors are
							   OperationOutcomes */
	const char			*expr;		/* ... naming this */
	char				 detail[64];	/* an error's, made */
	int				 fixed;		/* flags below, not the req's */
	unsigned			 flags;
	struct timespec			 t0;
};

struct http_route {
	const char	*path;
	const char	*method;
	void		(*fn)(struct http_ctx *);
};

static void	http_validity(struct http_ctx *);
static void	http_coverage(struct http_ctx *);
static void	http_batch(struct http_ctx *);
static void	http_keys(struct http_ctx *);
static void	http_openapi(struct http_ctx *);
static void	http_cached(struct http_ctx *, const char *, const char *,
		    size_t, const char *, size_t);
static void	http_healthz(struct http_ctx *);
static void	http_readyz(struct http_ctx *);
static void	http_metrics(struct http_ctx *);
static void	http_fhir_check(struct http_ctx *);
static void	http_fhir_metadata(struct http_ctx *);

static const struct http_route http_routes[] = {
	{ "/v1/validity", "GET", http_validity },
	{ "/v1/coverage", "GET", http_coverage },
	{ "/v1/check", "POST", http_batch },
	{ "/v1/keys", "GET", http_keys },
	{ "/v1/openapi.json", "GET", http_openapi },
	{ "/healthz", "GET", http_healthz },
	{ "/readyz", "GET", http_readyz },
	{ "/metrics", "GET", http_metrics },
	{ "/fhir/CoverageEligibilityRequest/$check", "POST", http_fhir_check },
	{ "/fhir/CoverageEligibilityRequest/%24check", "POST",
	    http_fhir_check },
	{ "/fhir/metadata", "GET", http_fhir_metadata },
};
#define HTTP_NROUTES (sizeof(http_routes) / sizeof(http_routes[0]))

static const char *http_reason(int);
static int	http_render(struct buf *, int, const char *, const char *,
		    size_t, const char *, size_t, unsigned, const char *);
static unsigned	http_flags(const struct http_ctx *);
static void	http_reply(struct http_ctx *, int, const char *, const char *,
		    size_t, const char *, size_t);
static void	http_render_signed(struct conn *, struct buf *, unsigned,
		    const char *, size_t, const char *, size_t);
static void	http_error(struct http_ctx *, int, enum stats_err,
		    const char *);
static void	http_error_fhir(struct http_ctx *, int, enum stats_err,
		    const char *, const char *, const char *);
static int	http_request(struct conn *, size_t *);
static void	http_route(struct http_ctx *);
static int	http_preflight(struct http_ctx *);
static void	http_cors(unsigned, char *, size_t);
static void	http_check(struct http_ctx *, enum stmt_check);
static int	http_params(struct http_ctx *, struct check_req *,
		    const char **);
static int	http_ready(struct http_ctx *);
static void	http_identity(struct http_ctx *);
static int	http_allowed(struct http_ctx *, unsigned, unsigned,
		    struct auth_who *);
static int	http_resolve(struct http_ctx *, struct check_req *,
		    const char *);
static int	http_admit(struct http_ctx *, struct check_req *, size_t,
		    int, struct auth_who *);
static void	http_answer(struct http_ctx *, const char *, size_t);
static void	http_checks(struct http_ctx *, const struct check_req *,
		    size_t, enum http_kind, const struct fhir_req *,
		    const struct auth_who *);
static void	http_fhir_answer(struct http_ctx *, const struct check_req *,
		    size_t, const struct fhir_req *, const struct auth_who *);
static int	http_wait(struct http_ctx *, const struct check_req *, size_t,
		    enum http_kind, const struct fhir_req *,
		    const struct auth_who *);
static void	http_on_bound(struct conn *, const struct check_req *, size_t,
		    const struct auth_who *);
static void	http_input(struct conn *);
static void	http_close(struct conn *);

static const char http_refusal[] = "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: application/json\r\nContent-Length: 62\r\n"
    "Connection: close\r\n\r\n"
    "{\"error\":\"overloaded\",\"detail\":\"too many connections\"}";

const struct conn_ops http_ops = {
	.name = "http",
	.iface = IFACE_HTTP,
	.state_size = sizeof(struct http_conn),
	.refusal = http_refusal,
	.refusal_len = sizeof(http_refusal) - 1,
	.input = http_input,
	.close = http_close,
};

/* The reason phrase of a status. */
static const char *
http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

/*
 * Write one response. sig (may be NULL) goes in Card-Signature, or with
 * HTTP_F_CACHE in ETag, the answer then cacheable for a while; a closing
 * connection says so, and an HTTP/1.0 keep-alive one says that.
 */
static int
http_render(struct buf *out, int status, const char *ctype, const char *sig,
    size_t siglen, const char *body, size_t len, unsigned flags,
    const char *date)
{
	size_t cap = HTTP_HEAD_MAX + siglen + len;
	char cors[HTTP_HEAD_MAX];
	int n;

	http_cors(flags, cors, sizeof(cors));
	cap += strlen(cors);
	if (buf_reserve(out, cap) != 0)
		return -1;
	n = snprintf(buf_tail(out), cap, "HTTP/1.1 %d %s\r\nServer: cardd"
	    "\r\nDate: %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: %s\r\n%s%s%.*s%s%s%s%s\r\n", status,
	    http_reason(status), date, ctype, len, flags & HTTP_F_CACHE ?
	    "max-age=" HTTP_KEYS_MAX_AGE : "no-store", cors, !sig ? "" :
	    flags & HTTP_F_CACHE ? "ETag: " : "Card-Signature: ", (int)siglen,
	    sig ? sig : "",
	    sig ? "\r\n" : "", flags & HTTP_F_ALLOW_GET ?
	    "Allow: GET, HEAD\r\n" : flags & HTTP_F_ALLOW_POST ?
	    "Allow: POST\r\n" : "", flags & HTTP_F_AUTH ?
	    "WWW-Authenticate: Bearer realm=\"cardd\"\r\n" :
	    flags & HTTP_F_RETRY ? "Retry-After: 1\r\n" : "",
	    flags & HTTP_F_CLOSE ?
	    "Connection: close\r\n" : flags & HTTP_F_10 ?
	    "Connection: keep-alive\r\n" : "");
	out->len += (size_t)n;
	if (!(flags & HTTP_F_HEAD)) {
		memcpy(buf_tail(out), body, len);
		out->len += len;
	}
	return 0;
}

/*
 * The CORS lines of a response (PROTOCOL.md §5.5): with cors_origins
 * set, Vary: Origin always; for an Origin let in, who may read it and
 * the headers it may see; for a preflight, what it may send.
 */
static void
http_cors(unsigned flags, char *out, size_t cap)
{
	int which = (int)(flags >> HTTP_CORS_SHIFT) & 0xff;
	const char *o;
	size_t n;

	out[0] = '\0';
	if (settings.cors_origins == NULL)
		return;
	if (which == 0) {
		snprintf(out, cap, "Vary: Origin\r\n");
		return;
	}
	n = cors_origin(settings.cors_origins, which, &o);
	snprintf(out, cap, "Vary: Origin\r\nAccess-Control-Allow-Origin: "
	    "%.*s\r\nAccess-Control-Expose-Headers: Card-Signature, ETag"
	    "\r\n%s", (int)n, o, flags & HTTP_F_PREFLIGHT ?
	    "Access-Control-Allow-Methods: GET, HEAD, POST\r\n"
	    "Access-Control-Allow-Headers: Authorization, Content-Type\r\n"
	    "Access-Control-Max-Age: 600\r\n" : "");
}

/* The flags of a response to this request. */
static unsigned
http_flags(const struct http_ctx *x)
{
	if (x->fixed)
		return x->flags;
	return (x->c->closing ? HTTP_F_CLOSE : 0) | (x->head ? HTTP_F_HEAD : 0) |
	    (x->req != NULL && x->req->minor == 0 ? HTTP_F_10 : 0) | x->extra;
}

/* Append one response to the connection's output. */
static void
http_reply(struct http_ctx *x, int status, const char *ctype, const char *sig,
    size_t siglen, const char *body, size_t len)
{
	if (http_render(&x->c->out, status, ctype, sig, siglen, body, len,
	    http_flags(x), x->w->clock.http_date) != 0)
		x->c->closing = 1;
}

/* sign_queue callback: the signed answer, once its proof is known. */
static void
http_render_signed(struct conn *c, struct buf *out, unsigned flags,
    const char *body, size_t len, const char *sig, size_t siglen)
{
	if (http_render(out, 200, flags & HTTP_F_FHIR ? FHIR_CTYPE :
	    "application/json", sig, siglen, body, len, flags,
	    worker_of(c)->clock.http_date) != 0)
		c->closing = 1;
}

/* Append a JSON error; detail is our own text, never client bytes. */
static void
http_error(struct http_ctx *x, int status, enum stats_err kind,
    const char *detail)
{
	static const char *const codes[ERR_COUNT] = {
		"bad_request", "not_found", "method_not_allowed",
		"too_large", "not_ready", "stale", "bad_request",
		"unauthorized", "forbidden", "rate_limited", "internal",
		"busy"
	};
	char body[512];
	size_t n;

	if (x->fhir) {
		http_error_fhir(x, status, kind, fhir_issue_code(status),
		    detail, x->expr);
		return;
	}
	n = (size_t)snprintf(body, sizeof(body), "{\"error\":\"%s\","
	    "\"detail\":\"", codes[kind]);
	/* Our details may quote JSON ({"checks":[...]}): escape them. */
	for (; *detail != '\0' && n + 4 < sizeof(body); detail++) {
		if (*detail == '"' || *detail == '\\')
			body[n++] = '\\';
		body[n++] = *detail;
	}
	memcpy(body + n, "\"}", 2);
	STAT_ADD(x->w->stats.errors[IFACE_HTTP][kind], 1);
	http_reply(x, status, "application/json", NULL, 0, body, n + 2);
}

/* Append an OperationOutcome (code: its IssueType; expr may be NULL). */
static void
http_error_fhir(struct http_ctx *x, int status, enum stats_err kind,
    const char *code, const char *detail, const char *expr)
{
	char body[768];
	size_t n = fhir_outcome(body, sizeof(body), code, detail, expr);

	STAT_ADD(x->w->stats.errors[IFACE_HTTP][kind], 1);
	http_reply(x, status, FHIR_CTYPE, NULL, 0, body, n);
}

/* Answer every complete request in the connection's input. */
static void
http_input(struct conn *c)
{
	size_t used;

	clock_update(&worker_of(c)->clock);
	while (!c->closing && c->in.len > 0 &&
	    net_tcp_room(c, settings.client_max_output)) {
		if (http_request(c, &used) != 0)
			break;
		buf_consume(&c->in, used);
	}
}

/*
 * Parse and answer one request. Returns 0 with *used set when one was
 * consumed, -1 when more input is needed or the connection is closing.
 */
static int
http_request(struct conn *c, size_t *used)
{
	struct http1_request req;
	struct http_ctx x = { .c = c, .w = worker_of(c) };
	struct http_conn *hc = c->state;
	const struct http1_header *h;
	const char *err;
	ssize_t r = http1_parse_request(buf_head(&c->in), c->in.len, &req,
	    &err);
	size_t body = 0;

	clock_gettime(CLOCK_MONOTONIC, &x.t0);
	if (r == HTTP1_PARTIAL && c->in.len <= (size_t)settings.http_max_header)
		return -1;
	c->closing = r < 0 || (size_t)r > (size_t)settings.http_max_header;
	if (r == HTTP1_PARTIAL || (r > 0 && c->closing)) {
		http_error(&x, 431, ERR_TOO_LARGE, "request head too large");
		return -1;
	}
	if (r < 0) {
		http_error(&x, 400, ERR_PROTOCOL, err);
		return -1;
	}
	x.req = &req;
	if (http1_find(req.headers, req.num_headers, "transfer-encoding")) {
		c->closing = 1;
		http_error(&x, 501, ERR_PROTOCOL, "transfer codings are not "
		    "supported; send Content-Length");
		return -1;
	}
	if ((h = http1_find(req.headers, req.num_headers, "content-length")) &&
	    http1_parse_length(h->value, h->value_len, &body) != 0) {
		c->closing = 1;
		http_error(&x, 400, ERR_PROTOCOL, "bad Content-Length");
		return -1;
	}
	if (h == NULL && req.method_len == 4 && memcmp(req.method, "POST",
	    4) == 0) {
		/* Its body, if any, cannot be framed: answer and close. */
		c->closing = 1;
		http_error(&x, 411, ERR_TOO_LARGE, "a POST needs "
		    "Content-Length");
		return -1;
	}
	if (body > (size_t)settings.http_max_body) {
		c->closing = 1;
		http_error(&x, 413, ERR_TOO_LARGE, "request body too large");
		return -1;
	}
	if (c->in.len - (size_t)r < body) {
		h = http1_find(req.headers, req.num_headers, "expect");
		if (h && http1_token_is(h->value, h->value_len, "100-continue")
		    && !hc->continue_sent && req.minor == 1) {
			buf_append(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
			hc->continue_sent = 1;
		}
		return -1;
	}
	hc->continue_sent = 0;
	if (req.minor == 1 && http1_find(req.headers, req.num_headers,
	    "host") == NULL) {
		/* RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400. */
		x.body = buf_head(&c->in) + r;
		http_error(&x, 400, ERR_BAD_REQUEST, "HTTP/1.1 needs a Host "
		    "header");
		*used = (size_t)r + body;
		return 0;
	}
	h = http1_find(req.headers, req.num_headers, "connection");
	if (req.minor == 0 ? !(h && http1_token_is(h->value, h->value_len,
	    "keep-alive")) : (h && http1_token_is(h->value, h->value_len,
	    "close")))
		c->closing = 1;
	x.body = buf_head(&c->in) + r;
	x.body_len = body;
	if ((h = http1_find(req.headers, req.num_headers, "origin")) != NULL)
		x.extra |= (unsigned)cors_match(settings.cors_origins,
		    h->value, h->value_len) << HTTP_CORS_SHIFT;
	http_identity(&x);
	http_route(&x);
	*used = (size_t)r + body;
	return 0;
}

/*
 * A CORS preflight (OPTIONS with Access-Control-Request-Method) from an
 * Origin let in: answered 200, empty; returns 1 when it was one.
 */
static int
http_preflight(struct http_ctx *x)
{
	const struct http1_request *req = x->req;

	if (req->method_len != 7 || memcmp(req->method, "OPTIONS", 7) != 0 ||
	    (x->extra >> HTTP_CORS_SHIFT) == 0 || http1_find(req->headers,
	    req->num_headers, "access-control-request-method") == NULL)
		return 0;
	x->extra |= HTTP_F_PREFLIGHT;
	http_reply(x, 200, "text/plain", NULL, 0, "", 0);
	return 1;
}

/* Find the handler of a request's path and method. */
static void
http_route(struct http_ctx *x)
{
	const struct http1_request *req = x->req;
	const char *q = memchr(req->target, '?', req->target_len);
	size_t plen = q ? (size_t)(q - req->target) : req->target_len;
	int get = req->method_len == 3 && memcmp(req->method, "GET", 3) == 0;
	int head = req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;

	x->query = q ? q + 1 : req->target + plen;
	x->query_len = req->target_len - plen - (q != NULL);
	x->head = head;		/* a HEAD answer never has a body */
	x->fhir = plen >= 6 && memcmp(req->target, "/fhir/", 6) == 0;
	for (size_t i = 0; i < HTTP_NROUTES; i++) {
		const struct http_route *rt = &http_routes[i];

		if (strlen(rt->path) != plen ||
		    memcmp(rt->path, req->target, plen) != 0)
			continue;
		if (rt->method[0] == 'G' && (get || head))
			rt->fn(x);
		else if (http_preflight(x))
			return;
		else if (rt->method[0] == 'P' && req->method_len == 4 &&
		    memcmp(req->method, "POST", 4) == 0)
			rt->fn(x);
		else {
			x->extra = rt->method[0] == 'G' ? HTTP_F_ALLOW_GET :
			    HTTP_F_ALLOW_POST;
			http_error(x, 405, ERR_METHOD, rt->method[0] == 'G' ?
			    "use GET or HEAD" : "use POST");
		}
		return;
	}
	http_error(x, 404, ERR_NOT_FOUND, "no such resource");
}

/*
 * Who asks: the bearer token of this request, else the connection's
 * certificate. The last token's hash is kept per connection, so a client
 * that sends the same header on every request costs one SHA-256.
 */
static void
http_identity(struct http_ctx *x)
{
	struct http_conn *hc = x->c->state;
	const struct http1_header *h = http1_find(x->req->headers,
	    x->req->num_headers, "authorization");
	const char *t;
	size_t n;

	x->id = &x->c->id;
	if (h == NULL)
		return;
	t = h->value;
	n = h->value_len;
	if (n < 8 || strncasecmp(t, "bearer ", 7) != 0 ||
	    n - 7 > HTTP_TOKEN_MAX) {
		x->bad_auth = 1;
		return;
	}
	t += 7;
	n -= 7;
	if (n != hc->token_len || memcmp(t, hc->token, n) != 0) {
		auth_id_token(&hc->id, t, n);
		memcpy(hc->token, t, n);
		hc->token_len = n;
	}
	x->id = &hc->id;
}

/*
 * May this request ask for need, at the price of cost requests? Answers
 * 401, 403 or 429 itself when not; returns 1 when it may.
 */
static int
http_allowed(struct http_ctx *x, unsigned need, unsigned cost,
    struct auth_who *who)
{
	enum auth_result r;
	char detail[128];

	if (x->bad_auth) {
		x->extra |= HTTP_F_AUTH;
		http_error(x, 401, ERR_UNAUTHORIZED, "Authorization must be "
		    "Bearer TOKEN");
		return 0;
	}
	r = auth_allow(live_auth(), settings.auth == AUTH_REQUIRED, x->id,
	    need, cost, (int64_t)clock_monotonic_usec(), who);
	switch (r) {
	case AUTH_OK:
		return 1;
	case AUTH_MISSING:
	case AUTH_UNKNOWN:
		x->extra |= HTTP_F_AUTH;
		http_error(x, 401, ERR_UNAUTHORIZED, r == AUTH_MISSING ?
		    "a bearer token or a client certificate is required" :
		    "unknown token or certificate");
		return 0;
	case AUTH_FORBIDDEN:
		http_error(x, 403, ERR_FORBIDDEN, "this client may not ask this");
		return 0;
	case AUTH_OVER_BURST:
		snprintf(detail, sizeof(detail), "a batch of %u checks exceeds "
		    "this client's burst of %u: send at most %u per request",
		    cost, who->burst, who->burst);
		http_error(x, 413, ERR_TOO_LARGE, detail);
		return 0;
	default:
		x->extra |= HTTP_F_RETRY;
		http_error(x, 429, ERR_RATE_LIMITED, "rate limited: too many "
		    "requests from this client");
		return 0;
	}
}

/* 503 unless answers may be given now; returns 1 when ready. */
static int
http_ready(struct http_ctx *x)
{
	switch (answer_state(x->w)) {
	case ANSWER_NOT_READY:
		http_error(x, 503, ERR_NOT_READY, "no index loaded yet");
		return 0;
	case ANSWER_STALE:
		http_error(x, 503, ERR_STALE, "index older than max_staleness");
		return 0;
	default:
		return 1;
	}
}

/* Fill a request from the query string. */
static int
http_params(struct http_ctx *x, struct check_req *r, const char **err)
{
	const char *cur = x->query, *end = x->query + x->query_len;
	struct http1_param p;
	char name[16], value[HTTP_VALUE_MAX];
	ssize_t nlen, vlen;
	int id;

	while (http1_query_next(&cur, end, &p)) {
		if (p.name_len > sizeof(name) || p.value_len > sizeof(value) ||
		    (nlen = http1_pct_decode(p.name, p.name_len, name)) < 0 ||
		    (vlen = http1_pct_decode(p.value, p.value_len, value)) < 0) {
			*err = "malformed or overlong query parameter";
			return -1;
		}
		id = check_param_lookup(name, (size_t)nlen);
		if (id < 0 || id == P_CHECK) {
			*err = check_unknown("unknown query parameter", name,
			    (size_t)nlen, x->detail, sizeof(x->detail));
			return -1;
		}
		if (check_set(r, id, value, (size_t)vlen, err) != 0)
			return -1;
	}
	return check_finish(r, err);
}

/*
 * Answer a signed statement (or batch body): its reply is written once
 * a signer has signed it (sign_queue.c).
 */
static void
http_answer(struct http_ctx *x, const char *body, size_t len)
{
	struct http_conn *hc = x->c->state;

	if (sign_queue_add(x->w->queue, x->c, &hc->hold, http_render_signed,
	    http_flags(x), body, len, &x->t0, IFACE_HTTP) != 0)
		http_error(x, 500, ERR_INTERNAL, "out of memory");
}

/*
 * Judge a request's code, when it has one (prefix names a batch item
 * in the detail). Answers 400 or 503 itself and returns 0 when the
 * request cannot be answered.
 */
static int
http_resolve(struct http_ctx *x, struct check_req *r, const char *prefix)
{
	char detail[160];
	const char *err;

	if (!r->by_code)
		return 1;
	switch (code_store_resolve(r, x->w->clock.ms, &err)) {
	case CODE_STORE_OK:
		return 1;
	case CODE_STORE_BAD:
		snprintf(detail, sizeof(detail), "%s%s", prefix, err);
		http_error(x, 400, ERR_BAD_REQUEST, detail);
		return 0;
	default:
		http_error(x, 503, ERR_BUSY, "too many codes in flight");
		return 0;
	}
}

/* GET /v1/validity and /v1/coverage. */
static void
http_check(struct http_ctx *x, enum stmt_check check)
{
	struct check_req r;
	struct auth_who who;
	const char *err;

	if (!http_allowed(x, check == STMT_VALIDITY ? AUTH_ALLOW_VALIDITY :
	    AUTH_ALLOW_COVERAGE, 1, &who))
		return;
	check_init(&r, check);
	if (http_params(x, &r, &err) != 0) {
		http_error(x, 400, ERR_BAD_REQUEST, err);
		return;
	}
	if (!http_ready(x) || !http_resolve(x, &r, ""))
		return;
	if (!r.by_code || !http_wait(x, &r, 1, HTTP_ONE, NULL, &who))
		http_checks(x, &r, 1, HTTP_ONE, NULL, &who);
}

/*
 * Answer resolved checks for who: one statement, the body of POST
 * /v1/check with one statement per item, or a FHIR response (fr).
 */
static void
http_checks(struct http_ctx *x, const struct check_req *reqs, size_t n,
    enum http_kind kind, const struct fhir_req *fr,
    const struct auth_who *who)
{
	char stmt[STMT_MAX], *body;
	size_t len;

	if (kind == HTTP_FHIR) {
		http_fhir_answer(x, reqs, n, fr, who);
		return;
	}
	if (kind == HTTP_ONE) {
		if ((len = answer_statement(x->w, reqs, IFACE_HTTP, who,
		    stmt, NULL)) == 0)
			http_error(x, 500, ERR_INTERNAL, "statement too long");
		else
			http_answer(x, stmt, len);
		return;
	}
	if ((body = malloc(n * (STMT_MAX + 1) + 16)) == NULL) {
		http_error(x, 500, ERR_INTERNAL, "out of memory");
		return;
	}
	len = (size_t)sprintf(body, "{\"results\":[");
	for (size_t i = 0; i < n; i++) {
		len += answer_statement(x->w, &reqs[i], IFACE_HTTP, who,
		    body + len, NULL);
		body[len++] = i + 1 < n ? ',' : ']';
	}
	body[len++] = '}';
	http_answer(x, body, len);
	free(body);
}

/*
 * Have the answer wait for the fleet's binding of its codes; 1 when it
 * does (the connection answers nothing more meanwhile: net_tcp_room).
 */
static int
http_wait(struct http_ctx *x, const struct check_req *reqs, size_t n,
    enum http_kind kind, const struct fhir_req *fr,
    const struct auth_who *who)
{
	struct http_conn *hc = x->c->state;
	struct fhir_req *keep = NULL;

	if (fr != NULL && (keep = malloc(sizeof(*keep))) == NULL)
		return 0;	/* answered with a local binding, at once */
	hc->wait = code_bind_start(x->w->bind, x->c, reqs, n, who,
	    http_on_bound);
	if (hc->wait == NULL) {
		free(keep);
		return 0;
	}
	if (keep != NULL)
		*keep = *fr;
	hc->wait_fhir = keep;
	hc->wait_flags = http_flags(x);
	hc->wait_kind = kind;
	hc->wait_t0 = x->t0;
	return 1;
}

/* code_bind callback: the bindings are known (or timed out): answer. */
static void
http_on_bound(struct conn *c, const struct check_req *reqs, size_t n,
    const struct auth_who *who)
{
	struct http_conn *hc = c->state;
	struct http_ctx x = { .c = c, .w = worker_of(c), .fixed = 1,
	    .flags = hc->wait_flags, .t0 = hc->wait_t0,
	    .fhir = (hc->wait_flags & HTTP_F_FHIR) != 0 };

	hc->wait = NULL;
	clock_update(&x.w->clock);
	http_checks(&x, reqs, n, hc->wait_kind, hc->wait_fhir, who);
	free(hc->wait_fhir);
	hc->wait_fhir = NULL;
}

/* GET /v1/validity. */
static void
http_validity(struct http_ctx *x)
{
	http_check(x, STMT_VALIDITY);
}

/* GET /v1/coverage. */
static void
http_coverage(struct http_ctx *x)
{
	http_check(x, STMT_COVERAGE);
}

/*
 * May these checks be answered now, for who asks: allowed, ready, their
 * codes judged (items: name each in the detail)? Answers the refusal
 * itself and returns 0 when not.
 */
static int
http_admit(struct http_ctx *x, struct check_req *reqs, size_t n, int items,
    struct auth_who *who)
{
	char detail[160] = "";
	unsigned need = 0;

	for (size_t i = 0; i < n; i++)
		need |= reqs[i].check == STMT_VALIDITY ? AUTH_ALLOW_VALIDITY :
		    AUTH_ALLOW_COVERAGE;
	if (!http_allowed(x, need, (unsigned)n, who) || !http_ready(x))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (items)
			snprintf(detail, sizeof(detail), "checks[%zu]: ", i);
		if (!http_resolve(x, &reqs[i], detail))
			return 0;
	}
	return 1;
}

/* POST /v1/check: up to max_batch checks, one signature over the body. */
static void
http_batch(struct http_ctx *x)
{
	struct check_req *reqs;
	struct auth_who who;
	char detail[160];
	size_t n;
	int too_many;

	if (batch_parse(x->body, x->body_len, (size_t)settings.max_batch,
	    &reqs, &n, &too_many, detail, sizeof(detail)) != 0) {
		http_error(x, too_many ? 413 : 400, too_many ? ERR_TOO_LARGE :
		    ERR_BAD_REQUEST, detail);
		return;
	}
	if (http_admit(x, reqs, n, 1, &who) &&
	    !http_wait(x, reqs, n, HTTP_BATCH, NULL, &who))
		http_checks(x, reqs, n, HTTP_BATCH, NULL, &who);
	free(reqs);
}

/* Is the body FHIR JSON (application/fhir+json, or plain JSON)? */
static int
http_fhir_ctype(const struct http_ctx *x)
{
	const struct http1_header *h = http1_find(x->req->headers,
	    x->req->num_headers, "content-type");
	static const char *const ok[] = { FHIR_CTYPE, "application/json" };

	for (size_t i = 0; h != NULL && i < 2; i++) {
		size_t n = strlen(ok[i]);

		if (h->value_len >= n && strncasecmp(h->value, ok[i], n) == 0 &&
		    (h->value_len == n || h->value[n] == ';' ||
		    h->value[n] == ' '))
			return 1;
	}
	return 0;
}

/*
 * POST /fhir/CoverageEligibilityRequest/$check (PROTOCOL.md §12): its
 * checks answered together, one signature over the response.
 */
static void
http_fhir_check(struct http_ctx *x)
{
	struct check_req *reqs;
	struct fhir_req fr;
	struct fhir_error e;
	struct auth_who who;
	size_t n;

	x->extra |= HTTP_F_FHIR;
	if (!http_fhir_ctype(x)) {
		http_error(x, 415, ERR_BAD_REQUEST, "send the request as "
		    "Content-Type: " FHIR_CTYPE);
		return;
	}
	if (fhir_req_parse(x->body, x->body_len, (size_t)settings.max_batch,
	    &fr, &reqs, &n, &e) != 0) {
		http_error_fhir(x, e.status, e.status == 413 ? ERR_TOO_LARGE :
		    e.status == 500 ? ERR_INTERNAL : ERR_BAD_REQUEST, e.code,
		    e.diagnostics, e.expression);
		return;
	}
	x->expr = "CoverageEligibilityRequest.patient";	/* a bad code */
	if (http_admit(x, reqs, n, 0, &who) &&
	    !http_wait(x, reqs, n, HTTP_FHIR, &fr, &who))
		http_checks(x, reqs, n, HTTP_FHIR, &fr, &who);
	free(reqs);
}

/* The FHIR response to answered checks: statements in, one body out. */
static void
http_fhir_answer(struct http_ctx *x, const struct check_req *reqs, size_t n,
    const struct fhir_req *fr, const struct auth_who *who)
{
	struct fhir_answer *ans = calloc(n, sizeof(*ans));
	char *stmts = malloc(n * STMT_MAX), *body = NULL;
	size_t len = 0, i;

	for (i = 0; ans != NULL && stmts != NULL && i < n; i++) {
		ans[i].stmt = stmts + i * STMT_MAX;
		ans[i].len = answer_statement(x->w, &reqs[i], IFACE_HTTP, who,
		    stmts + i * STMT_MAX, &ans[i].reason);
		if (ans[i].len == 0)
			break;
	}
	if (i == n)
		body = fhir_resp_render(fr, reqs, ans, n, x->w->clock.ms,
		    x->w->clock.today, &len);
	if (body == NULL)
		http_error(x, 500, ERR_INTERNAL, "cannot write the response");
	else
		http_answer(x, body, len);
	free(body);
	free(stmts);
	free(ans);
}

/* GET /fhir/metadata: the CapabilityStatement. */
static void
http_fhir_metadata(struct http_ctx *x)
{
	size_t len;
	const char *cs = fhir_metadata(&len);

	http_reply(x, 200, FHIR_CTYPE, NULL, 0, cs, len);
}

/*
 * GET /v1/keys: the JWKS, cacheable for HTTP_KEYS_MAX_AGE seconds, with
 * the keyring's ETag; If-None-Match with it gets 304. A verifier that
 * meets a kid it lacks fetches again (PROTOCOL.md §4.2).
 */
static void
http_keys(struct http_ctx *x)
{
	size_t len, n;
	const char *jwks = sign_jwks(live_keys(), &len);
	const char *etag = sign_jwks_etag(live_keys(), &n);

	http_cached(x, "application/jwk-set+json", etag, n, jwks, len);
}

/* GET /v1/openapi.json: the API's OpenAPI 3.1 document, built in. */
static void
http_openapi(struct http_ctx *x)
{
	size_t len, n;
	const char *doc = openapi_doc(&len);
	const char *etag = openapi_etag(&n);

	http_cached(x, "application/json", etag, n, doc, len);
}

/*
 * A cacheable resource (Cache-Control: max-age, ETag): 304 without a body
 * when If-None-Match names its tag (or is *).
 */
static void
http_cached(struct http_ctx *x, const char *ctype, const char *etag,
    size_t n, const char *body, size_t len)
{
	const struct http1_header *h = http1_find(x->req->headers,
	    x->req->num_headers, "if-none-match");

	x->extra |= HTTP_F_CACHE;
	if (n > 0 && h != NULL && ((h->value_len == 1 && h->value[0] == '*') ||
	    memmem(h->value, h->value_len, etag, n) != NULL)) {
		x->extra |= HTTP_F_HEAD;	/* 304: no body */
		http_reply(x, 304, ctype, etag, n, body, len);
		return;
	}
	http_reply(x, 200, ctype, etag, n, body, len);
}

/* GET /healthz: the process answers. */
static void
http_healthz(struct http_ctx *x)
{
	http_reply(x, 200, "application/json", NULL, 0, "{\"status\":\"ok\"}",
	    15);
}

/* GET /readyz: an index is loaded and fresh. */
static void
http_readyz(struct http_ctx *x)
{
	enum answer_state st = answer_state(x->w);
	char body[256], synced[DATE_RFC3339_LEN];
	int64_t at = live_synced_at();
	int n;

	date_rfc3339_ms(at, synced);
	n = snprintf(body, sizeof(body), "{\"ready\":%s,\"state\":\"%s\","
	    "\"cards\":%llu,\"synced_at\":\"%.*s\"}",
	    st == ANSWER_READY ? "true" : "false",
	    st == ANSWER_READY ? "ready" : st == ANSWER_STALE ? "stale" :
	    "not_ready", (unsigned long long)live_count(),
	    at ? DATE_RFC3339_LEN : 0, synced);
	http_reply(x, st == ANSWER_READY ? 200 : 503, "application/json", NULL,
	    0, body, (size_t)n);
}

/* GET /metrics: Prometheus text. */
static void
http_metrics(struct http_ctx *x)
{
	struct stats sum;
	struct stats_gauges g;
	struct auth_who who;
	struct buf b = { 0 };

	if (!http_allowed(x, AUTH_ALLOW_METRICS, 1, &who))
		return;
	memset(&sum, 0, sizeof(sum));
	worker_stats_sum(&sum);
	source_gauges(&g);
	g.ready = answer_state(x->w) == ANSWER_READY;
	if (stats_render(&b, &sum, &g) != 0)
		http_error(x, 500, ERR_INTERNAL, "metrics too large");
	else
		http_reply(x, 200, "text/plain; version=0.0.4", NULL, 0,
		    buf_head(&b), b.len);
	buf_free(&b);
}

/* The connection closes: drop answers it awaits, wipe the token it kept. */
static void
http_close(struct conn *c)
{
	struct http_conn *hc = c->state;

	sign_queue_forget(worker_of(c)->queue, &hc->hold);
	code_bind_cancel(hc->wait);
	free(hc->wait_fhir);
	OPENSSL_cleanse(hc, sizeof(*hc));
}
