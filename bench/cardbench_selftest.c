/* SPDX-License-Identifier: MIT */
/*
 * cardbench --selftest: checks the parts whose mistakes would not show
 * in a run. The histogram against exact order statistics of a million
 * samples (every percentile an upper bound within the bucket width) and
 * against hand-made cases; the Zipf sampler against the exact
 * probabilities; the request encoders against the shared parsers; the
 * answer parsers; and the verifier on the worked example of
 * PROTOCOL.md §8, on detached JWSs and on batch proofs made here with a
 * fresh key (and on tampered copies of each). For --codes: the pool's
 * line rules, requests by code (and with a token), reasons read from
 * statements, and the verifier on answers by code.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "b64url.h"
#include "cardbench.h"
#include "cardbench_codes.h"
#include "cardbench_conf.h"
#include "cardbench_hist.h"
#include "cardbench_pick.h"
#include "cardbench_reply.h"
#include "cardbench_req.h"
#include "cardbench_verify.h"
#include "http1.h"
#include "jws.h"
#include "merkle.h"
#include "resp.h"
#include "stmt.h"

#define ST_SAMPLES	1000000

/* A check: when it fails, say which and go on. */
#define CHECK(ok, ...)	do {					\
	if (!(ok))						\
		cardbench_selftest_fail(__LINE__, __VA_ARGS__);	\
} while (0)
#define ST_BATCH	5

static int	selftest_failed;
static char	selftest_kid[JWS_THUMB_LEN];
static char	selftest_err[256];

static void	cardbench_selftest_fail(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	cardbench_selftest_cmp_u64(const void *, const void *);
static void	cardbench_selftest_hist_layout(void);
static void	cardbench_selftest_hist_exact(void);
static void	cardbench_selftest_hist_small(void);
static void	cardbench_selftest_zipf(uint64_t, double);
static void	cardbench_selftest_req(void);
static void	cardbench_selftest_reply(void);
static void	cardbench_selftest_verify_example(void);
static EVP_PKEY	*cardbench_selftest_key(char *, size_t *);
static size_t	cardbench_selftest_sign(EVP_PKEY *, const char *, size_t,
		    uint8_t *);
static size_t	cardbench_selftest_statement(uint64_t, char *);
static void	cardbench_selftest_verify_detached(EVP_PKEY *, const char *,
		    size_t);
static void	cardbench_selftest_verify_batch(EVP_PKEY *, const char *,
		    size_t);
static int	cardbench_selftest_pool(const char *, char *, size_t);
static size_t	cardbench_selftest_code(const char *, char *);
static void	cardbench_selftest_codes(void);
static void	cardbench_selftest_req_code(void);
static void	cardbench_selftest_reason(void);
static size_t	cardbench_selftest_code_statement(uint64_t, const char *,
		    char *);
static void	cardbench_selftest_verify_code(EVP_PKEY *, const char *,
		    size_t);

/* Count and print a failed check. */
static void
cardbench_selftest_fail(int line, const char *fmt, ...)
{
	va_list ap;

	selftest_failed++;
	fprintf(stderr, "selftest: line %d: FAIL ", line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

/* qsort order of uint64_t. */
static int
cardbench_selftest_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Every µs value falls in the bucket whose edges surround it. */
static void
cardbench_selftest_hist_layout(void)
{
	size_t i, prev = 0;

	for (uint64_t us = 0; us < (1ull << 27); us += us < (1 << 22) ? 1 :
	    997) {
		i = cardbench_hist_index(us);
		CHECK(i >= prev, "index not monotonic at %llu",
		    (unsigned long long)us);
		if (i == CARDBENCH_HIST_BUCKETS - 1)
			continue;
		CHECK(us < cardbench_hist_upper_us(i) && (i == 0 ||
		    us >= cardbench_hist_upper_us(i - 1)), "bucket edges "
		    "around %llu", (unsigned long long)us);
		CHECK(i < CARDBENCH_HIST_EXACT || (double)(
		    cardbench_hist_upper_us(i) - cardbench_hist_upper_us(i - 1))
		    <= (double)us / 500, "bucket at %llu too wide",
		    (unsigned long long)us);
		prev = i;
	}
}

/*
 * A million log-normal latencies (median 300 µs, long tail into
 * seconds): each percentile must lie between the exact order statistic
 * and one bucket width above it; a merge of two halves must agree.
 */
static void
cardbench_selftest_hist_exact(void)
{
	static struct cardbench_hist h, a, b;
	static const double pcts[] = { 1, 10, 50, 90, 99, 99.9, 99.99, 100 };
	uint64_t *v = malloc(ST_SAMPLES * sizeof(*v));
	struct cardbench_pick p;
	double exact, got, sum = 0;

	cardbench_pick_init(&p, 42, 1, 0);
	cardbench_hist_init(&h);
	cardbench_hist_init(&a);
	cardbench_hist_init(&b);
	for (size_t i = 0; v != NULL && i < ST_SAMPLES; i++) {
		double u1 = cardbench_pick_unit(&p) + 1e-12;
		double u2 = cardbench_pick_unit(&p);
		double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);

		v[i] = (uint64_t)(300e3 * exp(1.5 * z));
		cardbench_hist_record(&h, v[i]);
		cardbench_hist_record(i % 2 ? &a : &b, v[i]);
		sum += (double)v[i];
	}
	if (v == NULL)
		return;
	cardbench_hist_merge(&a, &b);
	qsort(v, ST_SAMPLES, sizeof(*v), cardbench_selftest_cmp_u64);
	for (size_t k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++) {
		size_t rank = (size_t)ceil(pcts[k] / 100 * ST_SAMPLES);

		exact = (double)v[rank - 1] / 1e3;
		got = cardbench_hist_percentile_us(&h, pcts[k]);
		CHECK(got >= exact && got <= exact * (1 + 1.0 / 256) + 1,
		    "p%g: %.3f us, exact %.3f us", pcts[k], got, exact);
		CHECK(got == cardbench_hist_percentile_us(&a, pcts[k]),
		    "p%g differs after a merge", pcts[k]);
		printf("  p%-6g exact %12.3f us  histogram %12.3f us  "
		    "(+%.3f%%)\n", pcts[k], exact, got, 100 * (got - exact) /
		    exact);
	}
	CHECK(fabs(cardbench_hist_mean_us(&h) - sum / ST_SAMPLES / 1e3) <
	    1e-6 * sum / ST_SAMPLES, "mean");
	free(v);
}

/* Cases worked by hand. */
static void
cardbench_selftest_hist_small(void)
{
	static struct cardbench_hist h;

	cardbench_hist_init(&h);
	CHECK(cardbench_hist_percentile_us(&h, 50) == 0, "empty");
	cardbench_hist_record(&h, 37400);
	CHECK(cardbench_hist_percentile_us(&h, 50) == 37.4 &&
	    cardbench_hist_percentile_us(&h, 100) == 37.4, "one value");
	cardbench_hist_init(&h);
	for (uint64_t us = 1; us <= 100; us++)
		cardbench_hist_record(&h, us * 1000);	/* 1..100 µs */
	CHECK(cardbench_hist_percentile_us(&h, 50) == 51, "p50 of 1..100");
	CHECK(cardbench_hist_percentile_us(&h, 99) == 100, "p99 of 1..100");
	CHECK(cardbench_hist_percentile_us(&h, 100) == 100, "max 1..100");
	CHECK(cardbench_hist_mean_us(&h) == 50.5, "mean of 1..100");
	CHECK(fabs(cardbench_hist_stdev_us(&h) - 28.866) < 1e-3,
	    "stdev of 1..100");
	cardbench_hist_record(&h, 3600ull * 1000000000);	/* an hour */
	CHECK(h.overflow == 1 && cardbench_hist_percentile_us(&h, 100) ==
	    3600e6, "overflow");
}

/*
 * Zipf(s) over n ranks: 2M draws against the exact distribution, by
 * total variation distance over bins of ranks [2^j, 2^(j+1)) (per-rank
 * counts of rare ranks are mostly noise) and rank by rank for the top
 * ranks; the scatter of ranks over cards must be a permutation.
 */
static void
cardbench_selftest_zipf(uint64_t n, double s)
{
	uint64_t *count = calloc(n + 1, sizeof(*count)), draws = 2000000;
	uint8_t *seen = calloc(n, 1);
	double got[65] = { 0 }, want[65] = { 0 }, norm = 0, tv = 0, w;
	struct cardbench_pick p;
	int bin;

	if (count == NULL || seen == NULL)
		return;
	cardbench_pick_init(&p, 7, n, s);
	for (uint64_t i = 0; i < draws; i++)
		count[cardbench_pick_rank(&p)]++;
	for (uint64_t k = 1; k <= n; k++)
		norm += pow((double)k, -s);
	for (uint64_t k = 1; k <= n; k++) {
		w = pow((double)k, -s) / norm;
		bin = 63 - __builtin_clzll(k);
		got[bin] += (double)count[k] / (double)draws;
		want[bin] += w;
		if (k <= 3 && w > 0.01)
			CHECK(fabs((double)count[k] / (double)draws - w) <
			    0.02 * w, "zipf %g rank %llu", s,
			    (unsigned long long)k);
		seen[cardbench_pick_rank_card(&p, k)]++;
	}
	for (int b = 0; b < 65; b++)
		tv += fabs(got[b] - want[b]) / 2;
	for (uint64_t c = 0; c < n; c++)
		CHECK(seen[c] == 1, "scatter of %llu cards is not 1:1",
		    (unsigned long long)n);
	printf("  zipf s=%-4g n=%-6llu binned total variation %.4f, "
	    "P(rank 1) %.4f (exact %.4f)\n", s, (unsigned long long)n, tv,
	    (double)count[1] / (double)draws, 1 / norm);
	CHECK(tv < 0.005, "zipf %g: total variation %.4f", s, tv);
	free(count);
	free(seen);
}

/* The encoders' output parses back with the shared parsers. */
static void
cardbench_selftest_req(void)
{
	struct cardbench_req r = { .card = 1234, .seq = 77, .thread = 3,
	    .check = BENCH_COVERAGE, .nonce = 1 };
	struct resp_limits lim = { 16, 4096, 4096 };
	struct resp_arg argv[16];
	struct http1_request hr;
	char out[CARDBENCH_REQ_MAX], scratch[4096], nonce[32];
	static const char tmpl[] = "*2\r\n$7\r\nHGETALL\r\n$17\r\n"
	    "card:000000001234\r\n";
	const char *err;
	size_t argc = 0, n;

	cardbench_req_init(BENCH_RESP, "h:1", "pension", NULL, NULL);
	n = cardbench_req_encode(&r, out, sizeof(out));
	nonce[cardbench_req_nonce(&r, nonce)] = '\0';
	CHECK(resp_parse_command(out, n, &lim, argv, &argc, scratch, &err)
	    == (ssize_t)n && argc == 5 && resp_arg_is(&argv[0], "COVERAGE") &&
	    argv[1].len == 12 && memcmp(argv[1].p, "000000001234", 12) == 0 &&
	    resp_arg_is(&argv[2], "pension") && resp_arg_is(&argv[4], nonce),
	    "RESP request");
	cardbench_req_init(BENCH_HTTP, "h:1", "medical", NULL, NULL);
	n = cardbench_req_encode(&r, out, sizeof(out));
	nonce[cardbench_req_nonce(&r, nonce)] = '\0';
	snprintf(scratch, sizeof(scratch), "/v1/coverage?card=000000001234&"
	    "scheme=medical&nonce=%s", nonce);
	CHECK(http1_parse_request(out, n, &hr, &err) == (ssize_t)n &&
	    hr.target_len == strlen(scratch) &&
	    memcmp(hr.target, scratch, hr.target_len) == 0, "HTTP request");
	CHECK(strlen(nonce) == CARDBENCH_NONCE_LEN &&
	    b64url_valid(nonce, strlen(nonce)), "nonce form");
	cardbench_req_init(BENCH_RESP, "h:1", "medical", "HGETALL card:{card}",
	    NULL);
	r.check = BENCH_TEMPLATE;
	n = cardbench_req_encode(&r, out, sizeof(out));
	CHECK(n == strlen(tmpl) && memcmp(out, tmpl, n) == 0, "template");
}

/* Answers: whole, partial, refused, broken. */
static void
cardbench_selftest_reply(void)
{
	static const char resp_ok[] = "*2\r\n$3\r\n{x}\r\n$4\r\nA..B\r\n";
	static const char resp_err[] = "-ERR not ready: loading\r\n";
	static const char http_ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 3"
	    "\r\nCard-Signature: A..B\r\n\r\n{x}";
	static const char http_err[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Length: 32\r\nConnection: close\r\n\r\n"
	    "{\"error\":\"stale\",\"detail\":\"old\"}";
	struct cardbench_reply a;
	ssize_t n;

	n = cardbench_reply_parse(BENCH_RESP, 0, resp_ok, sizeof(resp_ok) - 1,
	    &a);
	CHECK(n == sizeof(resp_ok) - 1 && a.ok && a.stmt_len == 3 &&
	    a.sig_len == 4, "RESP answer");
	CHECK(cardbench_reply_parse(BENCH_RESP, 0, resp_ok, 10, &a) ==
	    CARDBENCH_REPLY_PARTIAL, "RESP partial");
	n = cardbench_reply_parse(BENCH_RESP, 0, resp_err,
	    sizeof(resp_err) - 1, &a);
	CHECK(n > 0 && !a.ok && strcmp(a.kind, "ERR not ready") == 0,
	    "RESP refusal '%s'", a.kind);
	n = cardbench_reply_parse(BENCH_HTTP, 0, http_ok, sizeof(http_ok) - 1,
	    &a);
	CHECK(n == sizeof(http_ok) - 1 && a.ok && a.stmt_len == 3 &&
	    a.sig_len == 4, "HTTP answer");
	CHECK(cardbench_reply_parse(BENCH_HTTP, 0, http_ok,
	    sizeof(http_ok) - 2, &a) == CARDBENCH_REPLY_PARTIAL,
	        "HTTP partial");
	n = cardbench_reply_parse(BENCH_HTTP, 0, http_err,
	    sizeof(http_err) - 1, &a);
	CHECK(n == sizeof(http_err) - 1 && !a.ok && a.close &&
	    strcmp(a.kind, "http 503 stale") == 0, "HTTP refusal '%s'", a.kind);
	CHECK(cardbench_reply_parse(BENCH_HTTP, 0, "HTTP/1.1 200 OK\r\n\r\n",
	    19, &a) == CARDBENCH_REPLY_ERROR, "HTTP without Content-Length");
}

/* PROTOCOL.md §8: the worked example verifies (up to its nonce). */
static void
cardbench_selftest_verify_example(void)
{
	static const char jwks[] = "{\"keys\":[{\"kty\":\"OKP\",\"crv\":"
	    "\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\","
	    "\"kid\":\"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k\"}]}";
	char stmt[] = "{\"v\":1,\"check\":\"coverage\",\"card\":"
	    "\"000000000000\",\"scheme\":\"medical\",\"region\":\"440300\","
	    "\"at\":\"2026-11-28\",\"result\":\"covered\",\"reason\":\"ok\","
	    "\"rev\":1,\"synced_at\":\"2026-11-28T06:00:00.000Z\",\"issued_at\""
	    ":\"2026-11-28T06:00:00.250Z\",\"kid\":\"kPrK_qmxVWaYVA9wwBF6Iuo3v"
	    "Vzz7TxHCTwXBygrS4k\",\"nonce\":\"q7Zx0nYp\"}";
	static const char jws[] = "eyJhbGciOiJFZERTQSIsImtpZCI6ImtQcktfcW14Vl"
	    "dhWVZBOXd3QkY2SXVvM3ZWeno3VHhIQ1R3WEJ5Z3JTNGsifQ..-8OSE0WP7elzXqi"
	    "ZDkU1AyJ8MXFfZi5WtJzls95YkQwC9jJXwK2WUZYp2bXTIurPoYcZqk-vEWvIycPj"
	    "seqwBw";
	struct cardbench_req r = { .card = 0, .check = BENCH_COVERAGE };
	char why[256];
	int batch;

	CHECK(cardbench_verify_keys(jwks, sizeof(jwks) - 1, "medical") ==
	    1, "example JWKS");
	/* Signature, card, check, scheme and kid hold; the nonce is not
	 * one cardbench would have sent. */
	CHECK(cardbench_verify_one(&r, stmt, strlen(stmt), jws,
	    strlen(jws), &batch, why, sizeof(why)) == VFAIL_NONCE && !batch,
	    "example: %s", why);
	stmt[10] ^= 1;
	CHECK(cardbench_verify_one(&r, stmt, strlen(stmt), jws,
	    strlen(jws), &batch, why, sizeof(why)) == VFAIL_SIGNATURE,
	    "example tampered");
}

/* A fresh Ed25519 key; its kid (thumbprint) into kid. */
static EVP_PKEY *
cardbench_selftest_key(char *kid, size_t *kid_len)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	uint8_t pub[JWS_PUB_LEN];
	size_t len = sizeof(pub);
	char jwks[JWS_JWK_MAX + 16], jwk[JWS_JWK_MAX];

	if (k == NULL || EVP_PKEY_get_raw_public_key(k, pub, &len) != 1)
		return NULL;
	jws_thumbprint(pub, kid);
	*kid_len = JWS_THUMB_LEN;
	len = jws_jwk(pub, kid, JWS_THUMB_LEN, jwk);
	len = (size_t)snprintf(jwks, sizeof(jwks), "{\"keys\":[%.*s]}",
	    (int)len, jwk);
	CHECK(cardbench_verify_keys(jwks, len, "medical") > 0, "JWKS");
	return k;
}

/* Ed25519 signature of bytes. */
static size_t
cardbench_selftest_sign(EVP_PKEY *k, const char *msg, size_t len, uint8_t *sig)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t n = JWS_SIG_LEN;

	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) != 1 ||
	    EVP_DigestSign(ctx, sig, &n, (const uint8_t *)msg, len) != 1)
		n = 0;
	EVP_MD_CTX_free(ctx);
	return n;
}

/* The statement cardd would make for validity of card c with nonce c. */
static size_t
cardbench_selftest_statement(uint64_t c, char *out)
{
	char card[CARDBENCH_CARD_MAX], nonce[CARDBENCH_NONCE_LEN];
	struct cardbench_req r = { .card = c, .seq = c, .nonce = 1 };
	struct stmt s = { .check = STMT_VALIDITY, .id = card, .scheme = -1,
	    .region = -1, .at = 20000, .reason = REASON_OK, .rev = 1,
	    .kid = selftest_kid, .kid_len = JWS_THUMB_LEN, .nonce = nonce };

	s.id_len = cardbench_req_card(c, card);
	s.nonce_len = cardbench_req_nonce(&r, nonce);
	return stmt_write(&s, out, STMT_MAX);
}

/* Detached JWSs made here verify; tampered ones do not. */
static void
cardbench_selftest_verify_detached(EVP_PKEY *k, const char *kid, size_t kid_len)
{
	struct cardbench_req r = { .card = 5, .seq = 5, .nonce = 1 };
	char stmt[STMT_MAX], hdr[JWS_HDR_MAX], in[1024], jws[JWS_DETACHED_MAX];
	uint8_t sig[JWS_SIG_LEN];
	size_t len = cardbench_selftest_statement(5, stmt), hl = jws_header(kid,
	    kid_len, hdr);
	size_t jl, il = jws_signing_input(hdr, hl, stmt, len, in);
	char why[256];
	int batch;

	CHECK(cardbench_selftest_sign(k, in, il, sig) == JWS_SIG_LEN, "sign");
	jl = jws_detached(hdr, hl, sig, jws);
	CHECK(cardbench_verify_one(&r, stmt, len, jws, jl, &batch, why,
	    sizeof(why)) == VFAIL_OK && !batch, "detached: %s", why);
	r.seq = 6;
	CHECK(cardbench_verify_one(&r, stmt, len, jws, jl, &batch, why,
	    sizeof(why)) == VFAIL_NONCE, "detached, other nonce");
	r.seq = 5;
	r.card = 6;
	CHECK(cardbench_verify_one(&r, stmt, len, jws, jl, &batch, why,
	    sizeof(why)) == VFAIL_STATEMENT, "detached, other card");
	r.card = 5;
	jws[jl - 3] = jws[jl - 3] == 'A' ? 'B' : 'A';
	CHECK(cardbench_verify_one(&r, stmt, len, jws, jl, &batch, why,
	    sizeof(why)) == VFAIL_SIGNATURE, "detached, tampered");
}

/* Batch proofs over ST_BATCH statements verify; swapped ones do not. */
static void
cardbench_selftest_verify_batch(EVP_PKEY *k, const char *kid, size_t kid_len)
{
	static uint8_t tree[MERKLE_TREE_SLOTS(ST_BATCH)][MERKLE_HASH];
	uint8_t path[MERKLE_MAX_PATH][MERKLE_HASH], sig[JWS_SIG_LEN];
	char stmt[ST_BATCH][STMT_MAX], obj[MERKLE_INPUT_MAX];
	char proof[MERKLE_PROOF_MAX], why[256];
	size_t len[ST_BATCH], root, n, np, m;
	struct cardbench_req r = { .nonce = 1 };
	int batch;

	for (uint64_t i = 0; i < ST_BATCH; i++) {
		len[i] = cardbench_selftest_statement(100 + i, stmt[i]);
		merkle_leaf(stmt[i], len[i], tree[i]);
	}
	root = merkle_build(tree, ST_BATCH);
	n = jws_header(kid, kid_len, proof);
	m = merkle_signing_input(proof, n, tree[root], ST_BATCH, obj);
	CHECK(cardbench_selftest_sign(k, obj, m, sig) == JWS_SIG_LEN,
	    "sign root");
	n = jws_detached(proof, n, sig, proof);
	for (uint64_t i = 0; i < ST_BATCH; i++) {
		char one[MERKLE_PROOF_MAX];

		np = merkle_path((const uint8_t (*)[MERKLE_HASH])tree, ST_BATCH,
		    i, path);
		memcpy(one, proof, n);
		m = n + merkle_proof_tail(ST_BATCH, i,
		    (const uint8_t (*)[MERKLE_HASH])path, np, one + n);
		r.card = r.seq = 100 + i;
		CHECK(cardbench_verify_one(&r, stmt[i], len[i], one, m,
		    &batch, why, sizeof(why)) == VFAIL_OK && batch,
		    "batch leaf %llu: %s", (unsigned long long)i, why);
		r.card = r.seq = 100 + (i + 1) % ST_BATCH;
		CHECK(cardbench_verify_one(&r, stmt[(i + 1) % ST_BATCH],
		    len[(i + 1) % ST_BATCH], one, m, &batch, why,
		        sizeof(why)) !=
		    VFAIL_OK, "batch leaf %llu, other statement",
		    (unsigned long long)i);
		one[n - 2] = one[n - 2] == 'A' ? 'B' : 'A';
		r.card = r.seq = 100 + i;
		CHECK(cardbench_verify_one(&r, stmt[i], len[i], one, m,
		    &batch, why, sizeof(why)) == VFAIL_SIGNATURE,
		    "batch leaf %llu, tampered signature",
		        (unsigned long long)i);
	}
}

/* Load a pool from text written to a temporary file; 0 when loaded. */
static int
cardbench_selftest_pool(const char *text, char *err, size_t errlen)
{
	char path[] = "/tmp/cardbench-selftest-XXXXXX";
	int fd = mkstemp(path), rc = -1;
	size_t len = strlen(text);

	if (fd >= 0 && write(fd, text, len) == (ssize_t)len)
		rc = cardbench_codes_load(path, err, errlen);
	else
		snprintf(err, errlen, "cannot write %s", path);
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	return rc;
}

/* A code-shaped text for a claims object (the signature is filler). */
static size_t
cardbench_selftest_code(const char *claims, char *out)
{
	static const char hdr[] = "{\"alg\":\"EdDSA\",\"kid\":\"k1\","
	    "\"typ\":\"card-code+jwt\"}";
	uint8_t sig[JWS_SIG_LEN];
	size_t n;

	memset(sig, 7, sizeof(sig));
	n = b64url_encode(hdr, sizeof(hdr) - 1, out);
	out[n++] = '.';
	n += b64url_encode(claims, strlen(claims), out + n);
	out[n++] = '.';
	n += b64url_encode(sig, sizeof(sig), out + n);
	out[n++] = '\n';
	out[n] = '\0';
	return n;
}

/* The pool's lines: blanks skipped, CRLF taken, bad lines named. */
static void
cardbench_selftest_codes(void)
{
	char long_line[CARDBENCH_CODE_MAX + 3], err[256];
	const char *p;
	size_t len;

	CHECK(cardbench_selftest_pool("a.b.c\n\nA-_z.0.9\r\n\r\nxx.yyy.zz",
	    err, sizeof(err)) == 0 && cardbench_codes_count() == 3,
	    "pool of 3: %s", err);
	p = cardbench_codes_get(1, &len);
	CHECK(len == 8 && memcmp(p, "A-_z.0.9", 8) == 0, "CRLF line");
	CHECK(cardbench_codes_longest() == 2, "longest code");
	CHECK(cardbench_selftest_pool("a.b.c\n\na+b.c.d\n", err,
	    sizeof(err)) != 0 && strstr(err, ":3: not made of") != NULL &&
	    cardbench_codes_count() == 0, "bad character: '%s'", err);
	memset(long_line, 'x', sizeof(long_line));
	long_line[CARDBENCH_CODE_MAX + 1] = '\n';
	long_line[CARDBENCH_CODE_MAX + 2] = '\0';
	CHECK(cardbench_selftest_pool(long_line, err, sizeof(err)) != 0 &&
	    strstr(err, ":1: longer than 2048") != NULL, "long: '%s'", err);
	long_line[CARDBENCH_CODE_MAX] = '\n';
	long_line[CARDBENCH_CODE_MAX + 1] = '\0';
	CHECK(cardbench_selftest_pool(long_line, err, sizeof(err)) == 0,
	    "2048 bytes: %s", err);
	CHECK(cardbench_selftest_pool("\n\r\n", err, sizeof(err)) != 0 &&
	    strstr(err, "no codes") != NULL, "blank pool: '%s'", err);
}

/* Requests by code, over RESP and HTTP, with a token. */
static void
cardbench_selftest_req_code(void)
{
	struct cardbench_req r = { .card = 1, .seq = 9, .check = BENCH_COVERAGE,
	    .nonce = 1, .bycode = 1 };
	struct resp_limits lim = { 16, 4096, 4096 };
	struct resp_arg argv[16];
	struct http1_request hr;
	const struct http1_header *h;
	char out[CARDBENCH_REQ_MAX], scratch[4096];
	const char *code, *err;
	size_t argc = 0, n, len;

	code = cardbench_codes_get(1, &len);
	cardbench_req_init(BENCH_RESP, "h:1", "medical", NULL, "t0k");
	n = cardbench_req_encode(&r, out, sizeof(out));
	CHECK(resp_parse_command(out, n, &lim, argv, &argc, scratch, &err)
	    == (ssize_t)n && argc == 6 && resp_arg_is(&argv[0], "COVERAGE") &&
	    argv[1].len == len && memcmp(argv[1].p, code, len) == 0 &&
	    resp_arg_is(&argv[2], "medical") && resp_arg_is(&argv[3],
	    "BYCODE"), "RESP request by code");
	n = cardbench_req_auth(out, sizeof(out));
	CHECK(resp_parse_command(out, n, &lim, argv, &argc, scratch, &err)
	    == (ssize_t)n && argc == 2 && resp_arg_is(&argv[1], "t0k"),
	    "RESP AUTH");
	cardbench_req_init(BENCH_HTTP, "h:1", "medical", NULL, "t0k");
	r.check = BENCH_VALIDITY;
	r.nonce = 0;
	n = cardbench_req_encode(&r, out, sizeof(out));
	snprintf(scratch, sizeof(scratch), "/v1/validity?code=%.*s",
	    (int)len, code);
	CHECK(http1_parse_request(out, n, &hr, &err) == (ssize_t)n &&
	    hr.target_len == strlen(scratch) &&
	    memcmp(hr.target, scratch, hr.target_len) == 0 &&
	    (h = http1_find(hr.headers, hr.num_headers, "authorization")) !=
	    NULL && h->value_len == 10 && memcmp(h->value, "Bearer t0k", 10)
	    == 0, "HTTP request by code");
	CHECK(cardbench_req_auth(out, sizeof(out)) == 0, "no AUTH over HTTP");
	cardbench_req_init(BENCH_HTTP, "h:1", "medical", NULL, NULL);
}

/* Reasons out of statements. */
static void
cardbench_selftest_reason(void)
{
	static const char a[] = "{\"v\":1,\"result\":\"invalid\","
	    "\"reason\":\"code_replayed\",\"rev\":0}";
	static const char b[] = "{\"v\":1,\"reason\":\"ok\"}";
	static const char c[] = "{\"v\":1,\"reason\":\"brand_new\"}";

	CHECK(cardbench_reply_reason(a, sizeof(a) - 1) ==
	    REASON_CODE_REPLAYED, "reason code_replayed");
	CHECK(cardbench_reply_reason(b, sizeof(b) - 1) == REASON_OK,
	    "reason ok");
	CHECK(cardbench_reply_reason(c, sizeof(c) - 1) == REASON_COUNT &&
	    cardbench_reply_reason(b, 12) == REASON_COUNT, "reason unknown");
}

/* cardd's statement for validity by code i of the pool, showing card. */
static size_t
cardbench_selftest_code_statement(uint64_t i, const char *card, char *out)
{
	uint8_t digest[32];
	char hash[JWS_THUMB_LEN];
	size_t len;
	const char *code = cardbench_codes_get(i, &len);
	struct stmt s = { .check = STMT_VALIDITY, .id = card, .code = hash,
	    .iss = "selftest-iss", .iss_len = 12, .scheme = -1, .region = -1,
	    .at = 20000, .reason = REASON_OK, .rev = 1, .kid = selftest_kid,
	    .kid_len = JWS_THUMB_LEN, .replay_local = 1 };

	EVP_Digest(code, len, digest, NULL, EVP_sha256(), NULL);
	b64url_encode(digest, sizeof(digest), hash);
	s.id_len = card != NULL ? strlen(card) : 0;
	return stmt_write(&s, out, STMT_MAX);
}

/* Answers by code: hash, issuer and a shown card must be the code's. */
static void
cardbench_selftest_verify_code(EVP_PKEY *k, const char *kid, size_t kid_len)
{
	static const char *const cards[] = { NULL, "00000000000A",
	    "00000000000B" };
	static const enum cardbench_vfail want[] = { VFAIL_OK, VFAIL_OK,
	    VFAIL_STATEMENT };
	struct cardbench_req r = { .card = 0, .bycode = 1 };
	char pool[1024], stmt[STMT_MAX], hdr[JWS_HDR_MAX], in[1024];
	char jws[JWS_DETACHED_MAX], why[256];
	uint8_t sig[JWS_SIG_LEN];
	size_t n, len, hl = jws_header(kid, kid_len, hdr), jl;
	int batch;

	n = cardbench_selftest_code("{\"iss\":\"selftest-iss\",\"sub\":"
	    "\"00000000000a\",\"iat\":1,\"exp\":61,\"jti\":\"abcdefgh\"}",
	    pool);
	cardbench_selftest_code("{\"iss\":\"selftest-iss\",\"sub\":"
	    "\"00000000000b\",\"iat\":1,\"exp\":61,\"jti\":\"abcdefgi\"}",
	    pool + n);
	CHECK(cardbench_selftest_pool(pool, why, sizeof(why)) == 0,
	    "code pool: %s", why);
	for (size_t i = 0; i < 4; i++) {
		len = cardbench_selftest_code_statement(i == 3, cards[i % 3],
		    stmt);
		jl = jws_signing_input(hdr, hl, stmt, len, in);
		CHECK(cardbench_selftest_sign(k, in, jl, sig) == JWS_SIG_LEN,
		    "sign");
		jl = jws_detached(hdr, hl, sig, jws);
		/* i == 3: the answer for the pool's other code. */
		CHECK(cardbench_verify_one(&r, stmt, len, jws, jl, &batch, why,
		    sizeof(why)) == (i == 3 ? VFAIL_STATEMENT : want[i]),
		    "by code, case %zu: %s", i, why);
	}
	cardbench_codes_free();
}

/* Run every check. Returns 0 when all hold. */
int
cardbench_selftest(void)
{
	struct cardbench_verify_result vr;
	char kid[JWS_THUMB_LEN];
	size_t kid_len = 0;
	EVP_PKEY *k;

	printf("histogram: bucket layout, percentiles against exact values\n");
	cardbench_selftest_hist_layout();
	cardbench_selftest_hist_exact();
	cardbench_selftest_hist_small();
	printf("card choice\n");
	cardbench_selftest_zipf(1000, 0);
	cardbench_selftest_zipf(1000, 0.99);
	cardbench_selftest_zipf(100000, 1.0);
	cardbench_selftest_zipf(1000, 1.5);
	printf("requests, answers, verification\n");
	cardbench_selftest_req();
	cardbench_selftest_reply();
	cardbench_selftest_reason();
	printf("code pool, requests by code\n");
	cardbench_selftest_codes();
	if (cardbench_selftest_pool("x.y.z\nAAAA.BBBB.CCCC\n", selftest_err,
	    sizeof(selftest_err)) == 0)
		cardbench_selftest_req_code();
	cardbench_codes_free();
	cardbench_selftest_verify_example();
	if ((k = cardbench_selftest_key(kid, &kid_len)) != NULL) {
		memcpy(selftest_kid, kid, sizeof(selftest_kid));
		cardbench_selftest_verify_detached(k, kid, kid_len);
		cardbench_selftest_verify_batch(k, kid, kid_len);
		cardbench_selftest_verify_code(k, kid, kid_len);
		EVP_PKEY_free(k);
	} else
		CHECK(0, "keygen");
	cardbench_verify_finish(&vr);
	printf("selftest: %s\n", selftest_failed ? "FAILED" : "ok");
	return selftest_failed ? -1 : 0;
}
