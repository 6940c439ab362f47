/* SPDX-License-Identifier: MIT */
/*
 * Encoding requests. RESP checks are multibulk commands
 * (VALIDITY <card> [NONCE n], COVERAGE <card> <scheme> [NONCE n]); HTTP
 * checks are keep-alive GETs of /v1/validity and /v1/coverage. A nonce
 * is the base64url of 12 bytes: a random run id (4), the thread (2) and
 * the thread's counter (6), so it is unique within a run and across runs
 * and can be rebuilt from the request to check that it was echoed.
 * --cmd-template is split at spaces once; {card} and {nonce} inside an
 * argument are replaced per request.
 *
 * By code (--codes, PROTOCOL.md §10) the code from the pool takes the
 * number's place: VALIDITY <code> BYCODE, COVERAGE <code> <scheme>
 * BYCODE, or code= in the query (its alphabet needs no escaping). With
 * --token, HTTP requests carry it in Authorization, and a RESP
 * connection sends AUTH once, first (cardbench_req_auth).
 */
#include <sys/random.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "b64url.h"
#include "cardbench_codes.h"
#include "cardbench_conf.h"
#include "cardbench_req.h"
#include "resp.h"

#define REQ_TMPL_ARGS	32

static int		 req_proto;
static char		 req_host[256];
static const char	*req_scheme;
static size_t		 req_scheme_len;
static const char	*req_token;
static uint8_t		 req_run[4];
static char		*req_tmpl_copy;
static struct resp_arg	 req_tmpl[REQ_TMPL_ARGS];
static size_t		 req_tmpl_argc;

static int	cardbench_req_template(const char *);
static const char *cardbench_req_subject(const struct cardbench_req *,
		    char *, size_t *);
static size_t	cardbench_req_subst(const struct resp_arg *,
		    const struct cardbench_req *, char *, size_t);
static size_t	cardbench_req_resp(const struct cardbench_req *, char *,
		    size_t);
static size_t	cardbench_req_http(const struct cardbench_req *, char *,
		    size_t);
static size_t	cardbench_req_templated(const struct cardbench_req *, char *,
		    size_t);

/*
 * Set the fixed parts of every request (startup only), and check that
 * the longest request fits.
 */
int
cardbench_req_init(int proto, const char *target, const char *scheme,
    const char *cmd_template, const char *token)
{
	uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	int bycode = cardbench_codes_count() > 0 && !cmd_template;
	struct cardbench_req probe = { .card = bycode ?
	    cardbench_codes_longest() : UINT64_MAX, .nonce = 1,
	    .bycode = (uint8_t)bycode,
	    .check = cmd_template ? BENCH_TEMPLATE : BENCH_COVERAGE };
	char out[CARDBENCH_REQ_MAX];

	req_proto = proto;
	snprintf(req_host, sizeof(req_host), "%s", target);
	req_scheme = scheme;
	req_scheme_len = strlen(scheme);
	req_token = token;
	if (getrandom(req_run, sizeof(req_run), 0) != sizeof(req_run))
		memcpy(req_run, &t, sizeof(req_run));
	free(req_tmpl_copy);
	req_tmpl_copy = NULL;
	req_tmpl_argc = 0;
	if (cmd_template && cardbench_req_template(cmd_template) != 0)
		return -1;
	return cardbench_req_encode(&probe, out, sizeof(out)) > 0 ? 0 : -1;
}

/* Split a command template at spaces. */
static int
cardbench_req_template(const char *tmpl)
{
	char *save = NULL, *w;

	if ((req_tmpl_copy = strdup(tmpl)) == NULL)
		return -1;
	for (w = strtok_r(req_tmpl_copy, " ", &save); w != NULL;
	    w = strtok_r(NULL, " ", &save)) {
		if (req_tmpl_argc == REQ_TMPL_ARGS)
			return -1;
		req_tmpl[req_tmpl_argc++] = (struct resp_arg){ w, strlen(w) };
	}
	return req_tmpl_argc ? 0 : -1;
}

/* The card number as at least 12 digits, as cardctl gen makes them. */
size_t
cardbench_req_card(uint64_t card, char *out)
{
	char digits[CARDBENCH_CARD_MAX];
	size_t k = sizeof(digits), n;

	do {
		digits[--k] = (char)('0' + card % 10);
		card /= 10;
	} while (card != 0);
	while (sizeof(digits) - k < 12)
		digits[--k] = '0';
	n = sizeof(digits) - k;
	memcpy(out, digits + k, n);
	return n;
}

/* The request's nonce, CARDBENCH_NONCE_LEN characters. */
size_t
cardbench_req_nonce(const struct cardbench_req *r, char *out)
{
	uint8_t raw[12];

	memcpy(raw, req_run, 4);
	raw[4] = (uint8_t)(r->thread >> 8);
	raw[5] = (uint8_t)r->thread;
	for (int i = 0; i < 6; i++)
		raw[6 + i] = (uint8_t)(r->seq >> (8 * (5 - i)));
	return b64url_encode(raw, sizeof(raw), out);
}

/* Name of a check, for reports. */
const char *
cardbench_req_check_name(enum cardbench_check c)
{
	static const char *const names[BENCH_CHECK_COUNT] = { "validity",
	    "coverage", "template" };

	return names[c];
}

/* RESP AUTH with the --token, to send first on a connection; 0: none. */
size_t
cardbench_req_auth(char *out, size_t cap)
{
	struct resp_arg argv[2] = { { "AUTH", 4 }, { req_token,
	    req_token ? strlen(req_token) : 0 } };

	if (req_token == NULL || req_proto != BENCH_RESP)
		return 0;
	return resp_command(out, cap, 2, argv);
}

/* What a request asks about: the card number, or the code's text. */
static const char *
cardbench_req_subject(const struct cardbench_req *r, char *card, size_t *len)
{
	if (r->bycode)
		return cardbench_codes_get(r->card, len);
	*len = cardbench_req_card(r->card, card);
	return card;
}

/* A RESP check as a multibulk command. */
static size_t
cardbench_req_resp(const struct cardbench_req *r, char *out, size_t cap)
{
	char card[CARDBENCH_CARD_MAX], nonce[CARDBENCH_NONCE_LEN];
	struct resp_arg argv[6];
	size_t argc = 0;

	if (r->check == BENCH_COVERAGE)
		argv[argc++] = (struct resp_arg){ "COVERAGE", 8 };
	else
		argv[argc++] = (struct resp_arg){ "VALIDITY", 8 };
	argv[argc].p = cardbench_req_subject(r, card, &argv[argc].len);
	argc++;
	if (r->check == BENCH_COVERAGE)
		argv[argc++] = (struct resp_arg){ req_scheme, req_scheme_len };
	if (r->bycode)
		argv[argc++] = (struct resp_arg){ "BYCODE", 6 };
	if (r->nonce) {
		argv[argc++] = (struct resp_arg){ "NONCE", 5 };
		argv[argc++] = (struct resp_arg){ nonce,
		    cardbench_req_nonce(r, nonce) };
	}
	return resp_command(out, cap, argc, argv);
}

/* An HTTP check as a keep-alive GET. */
static size_t
cardbench_req_http(const struct cardbench_req *r, char *out, size_t cap)
{
	char card[CARDBENCH_CARD_MAX], nonce[CARDBENCH_NONCE_LEN + 1];
	int cov = r->check == BENCH_COVERAGE, n;
	size_t len;
	const char *id = cardbench_req_subject(r, card, &len);

	nonce[r->nonce ? cardbench_req_nonce(r, nonce) : 0] = '\0';
	n = snprintf(out, cap, "GET /v1/%s?%s=%.*s%s%s%s%s HTTP/1.1\r\n"
	    "Host: %s\r\n%s%s%s\r\n", cov ? "coverage" : "validity",
	    r->bycode ? "code" : "card", (int)len, id,
	    cov ? "&scheme=" : "", cov ? req_scheme : "",
	    r->nonce ? "&nonce=" : "", nonce, req_host,
	    req_token ? "Authorization: Bearer " : "",
	    req_token ? req_token : "", req_token ? "\r\n" : "");
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* One template argument with {card} and {nonce} replaced. */
static size_t
cardbench_req_subst(const struct resp_arg *a, const struct cardbench_req *r,
    char *out, size_t cap)
{
	const char *p = a->p, *end = a->p + a->len;
	size_t n = 0;

	while (p < end && n + CARDBENCH_CARD_MAX < cap) {
		if (end - p >= 6 && memcmp(p, "{card}", 6) == 0) {
			n += cardbench_req_card(r->card, out + n);
			p += 6;
		} else if (end - p >= 7 && memcmp(p, "{nonce}", 7) == 0) {
			n += cardbench_req_nonce(r, out + n);
			p += 7;
		} else
			out[n++] = *p++;
	}
	return p == end ? n : 0;
}

/* A --cmd-template command. */
static size_t
cardbench_req_templated(const struct cardbench_req *r, char *out, size_t cap)
{
	char buf[CARDBENCH_REQ_MAX];
	struct resp_arg argv[REQ_TMPL_ARGS];
	size_t used = 0, n;

	for (size_t i = 0; i < req_tmpl_argc; i++) {
		if (memchr(req_tmpl[i].p, '{', req_tmpl[i].len) == NULL) {
			argv[i] = req_tmpl[i];
			continue;
		}
		n = cardbench_req_subst(&req_tmpl[i], r, buf + used,
		    sizeof(buf) - used);
		argv[i] = (struct resp_arg){ buf + used, n };
		used += n;
	}
	return resp_command(out, cap, req_tmpl_argc, argv);
}

/* Encode one request into out. Returns its length, 0 if cap is short. */
size_t
cardbench_req_encode(const struct cardbench_req *r, char *out, size_t cap)
{
	if (r->check == BENCH_TEMPLATE)
		return cardbench_req_templated(r, out, cap);
	return req_proto == BENCH_HTTP ? cardbench_req_http(r, out, cap) :
	    cardbench_req_resp(r, out, cap);
}
