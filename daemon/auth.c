/* SPDX-License-Identifier: MIT */
/*
 * Who may ask what, and how often (PROTOCOL.md §9). Each `client` line of the
 * config names one client:
 *
 *   client NAME [token=sha256:HEX] [cert=NAME] [allow=LIST] [rate=N] [burst=N]
 *          [disclose=LIST]
 *
 * A client proves itself with a bearer token (HTTP Authorization, RESP
 * AUTH), of which the config holds only the SHA-256, or with a TLS client
 * certificate whose subject CN (or DNS name) is cert=NAME. allow lists
 * what it may ask (validity, coverage, metrics); rate and burst fill its
 * token bucket (requests per second, default 100, burst default = rate).
 * disclose lists what an answer to a card code may show it (card,
 * permit, until; PROTOCOL.md §10).
 * Card-number enumeration is the threat the limits answer.
 *
 * A connection keeps only its claim (the hash of its token or of its
 * certificate's name) and every request is judged against the live table,
 * so a reload that drops a client shuts it out at once. The table is
 * replaced whole on reload; its buckets start full.
 *
 * Connections per client address are counted here too, in a small table
 * shared by the workers.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <xxhash.h>

#include "auth.h"

#define AUTH_CERT_MAX	255
#define AUTH_ADDRS	65536	/* client addresses tracked at once */

struct auth_client {
	char		 name[AUTH_NAME_MAX + 1];
	int		 has_token;
	uint8_t		 token[AUTH_HASH];
	int		 has_cert;
	uint8_t		 cert[AUTH_HASH];
	unsigned	 allow;
	unsigned	 disclose;	/* AUTH_DISCLOSE_* */
	double		 rate;		/* requests per second */
	double		 burst;
	pthread_mutex_t	 lock;		/* the bucket below */
	double		 tokens;
	int64_t		 last_us;
};

struct auth_table {
	struct auth_client	*c;
	size_t			 n;
};

struct auth_addr {
	uint8_t		key[17];	/* family, then the address */
	uint32_t	count;
};

static pthread_mutex_t auth_addr_lock = PTHREAD_MUTEX_INITIALIZER;
static struct auth_addr *auth_addrs;

static const char *auth_parse(const char *, struct auth_client *);
static const char *auth_option(const char *, size_t, struct auth_client *);
static const char *auth_disclose(const char *, size_t, unsigned *);
static int	auth_hex(const char *, size_t, uint8_t *);
static void	auth_sha256(const void *, size_t, uint8_t[AUTH_HASH]);
static int	auth_take(struct auth_client *, unsigned, int64_t);
static size_t	auth_addr_key(const struct sockaddr *, uint8_t[17]);

/* SHA-256 of a token or a name. */
static void
auth_sha256(const void *p, size_t len, uint8_t out[AUTH_HASH])
{
	if (EVP_Digest(p, len, out, NULL, EVP_sha256(), NULL) != 1)
		memset(out, 0, AUTH_HASH);
}

/* Lowercase hex into bytes. */
static int
auth_hex(const char *s, size_t len, uint8_t *out)
{
	if (len != 2 * AUTH_HASH)
		return -1;
	for (size_t i = 0; i < AUTH_HASH; i++) {
		int v = 0;

		for (int k = 0; k < 2; k++) {
			char c = s[2 * i + k];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else
				return -1;
		}
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* disclose=card,permit,until into bits. */
static const char *
auth_disclose(const char *v, size_t vlen, unsigned *bits)
{
	static const char *const words[] = { "card", "permit", "until" };

	*bits = 0;
	for (const char *p = v, *end = v + vlen; p < end;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t n = (size_t)((comma ? comma : end) - p), k;

		for (k = 0; k < 3; k++)
			if (strlen(words[k]) == n && memcmp(p, words[k], n) == 0)
				break;
		if (k == 3)
			return "disclose= is a comma list of card, permit, until";
		*bits |= 1u << k;
		p += n + 1;
	}
	return NULL;
}

/* One key=value option of a client line. */
static const char *
auth_option(const char *w, size_t len, struct auth_client *c)
{
	const char *eq = memchr(w, '=', len), *v;
	size_t klen, vlen;
	char num[24];

	if (eq == NULL || eq == w || eq + 1 == w + len)
		return "options are key=value";
	klen = (size_t)(eq - w);
	v = eq + 1;
	vlen = len - klen - 1;
	if (klen == 5 && memcmp(w, "token", 5) == 0) {
		if (vlen < 7 || memcmp(v, "sha256:", 7) != 0 ||
		    auth_hex(v + 7, vlen - 7, c->token) != 0)
			return "token=sha256:<64 lowercase hex digits> "
			    "(cardctl token makes one)";
		c->has_token = 1;
		return NULL;
	}
	if (klen == 4 && memcmp(w, "cert", 4) == 0) {
		if (vlen > AUTH_CERT_MAX)
			return "cert= name too long";
		auth_sha256(v, vlen, c->cert);
		c->has_cert = 1;
		return NULL;
	}
	if (klen == 5 && memcmp(w, "allow", 5) == 0) {
		c->allow = 0;
		for (const char *p = v, *end = v + vlen; p < end;) {
			const char *comma = memchr(p, ',', (size_t)(end - p));
			size_t n = (size_t)((comma ? comma : end) - p);

			if (n == 8 && memcmp(p, "validity", 8) == 0)
				c->allow |= AUTH_ALLOW_VALIDITY;
			else if (n == 8 && memcmp(p, "coverage", 8) == 0)
				c->allow |= AUTH_ALLOW_COVERAGE;
			else if (n == 7 && memcmp(p, "metrics", 7) == 0)
				c->allow |= AUTH_ALLOW_METRICS;
			else
				return "allow= is a comma list of validity, "
				    "coverage, metrics";
			p += n + 1;
		}
		return NULL;
	}
	if (klen == 8 && memcmp(w, "disclose", 8) == 0)
		return auth_disclose(v, vlen, &c->disclose);
	if ((klen == 4 && memcmp(w, "rate", 4) == 0) ||
	    (klen == 5 && memcmp(w, "burst", 5) == 0)) {
		char *end;
		double d;

		if (vlen >= sizeof(num))
			return "rate= and burst= are numbers";
		memcpy(num, v, vlen);
		num[vlen] = '\0';
		d = strtod(num, &end);
		if (*end != '\0' || !(d > 0) || d > 1e9)
			return "rate= and burst= are numbers above 0";
		if (klen == 5 && d < 1)
			return "burst= is at least 1 (a request costs 1)";
		*(klen == 4 ? &c->rate : &c->burst) = d;
		return NULL;
	}
	return "unknown option (token, cert, allow, rate, burst, disclose)";
}

/* Parse one client line into c; returns an error or NULL. */
static const char *
auth_parse(const char *line, struct auth_client *c)
{
	const char *p = line, *why;
	size_t n;

	memset(c, 0, sizeof(*c));
	c->allow = AUTH_ALLOW_VALIDITY | AUTH_ALLOW_COVERAGE;
	c->rate = 100;
	n = strcspn(p, " \t");
	if (n == 0 || n > AUTH_NAME_MAX || strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._-") < n)
		return "client NAME: 1-64 characters of A-Z a-z 0-9 . _ -";
	memcpy(c->name, p, n);
	for (p += n; *p != '\0'; p += n) {
		p += strspn(p, " \t");
		if ((n = strcspn(p, " \t")) == 0)
			break;
		if ((why = auth_option(p, n, c)) != NULL)
			return why;
	}
	if (!c->has_token && !c->has_cert)
		return "a client needs token= or cert=";
	if (c->burst == 0)
		c->burst = c->rate < 1 ? 1 : c->rate;
	return NULL;
}

/* Config check of one client line. */
const char *
auth_check_client(const char *line)
{
	struct auth_client c;

	return auth_parse(line, &c);
}

/* The client table of the config's client lines. */
struct auth_table *
auth_table_new(char *const *lines, size_t n, char *err, size_t errlen)
{
	struct auth_table *t = calloc(1, sizeof(*t));
	const char *why;

	if (t == NULL || (n > 0 && (t->c = calloc(n, sizeof(*t->c))) == NULL)) {
		snprintf(err, errlen, "out of memory");
		free(t);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if ((why = auth_parse(lines[i], &t->c[i])) != NULL) {
			snprintf(err, errlen, "client: %s", why);
			t->n = i;
			auth_table_free(t);
			return NULL;
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp(t->c[k].name, t->c[i].name) == 0) {
				snprintf(err, errlen, "client %s is named twice",
				    t->c[i].name);
				t->n = i;
				auth_table_free(t);
				return NULL;
			}
		pthread_mutex_init(&t->c[i].lock, NULL);
		t->c[i].tokens = t->c[i].burst;
		t->n = i + 1;
	}
	return t;
}

/* Free a table. */
void
auth_table_free(struct auth_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++)
		pthread_mutex_destroy(&t->c[i].lock);
	OPENSSL_cleanse(t->c, t->n * sizeof(*t->c));
	free(t->c);
	free(t);
}

/* Number of clients. */
size_t
auth_table_size(const struct auth_table *t)
{
	return t == NULL ? 0 : t->n;
}

/* The claim of a bearer token. */
void
auth_id_token(struct auth_id *id, const char *token, size_t len)
{
	id->kind = AUTH_ID_TOKEN;
	auth_sha256(token, len, id->hash);
}

/* The claim of a verified certificate's name. */
void
auth_id_cert(struct auth_id *id, const char *name, size_t len)
{
	id->kind = AUTH_ID_CERT;
	auth_sha256(name, len, id->hash);
}

/* Take cost requests from a client's bucket; 0 when it had too few. */
static int
auth_take(struct auth_client *c, unsigned cost, int64_t now_us)
{
	int ok;

	pthread_mutex_lock(&c->lock);
	if (c->last_us != 0 && now_us > c->last_us)
		c->tokens += (double)(now_us - c->last_us) / 1e6 * c->rate;
	if (c->tokens > c->burst)
		c->tokens = c->burst;
	c->last_us = now_us;
	if ((ok = c->tokens >= cost))
		c->tokens -= cost;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

/*
 * May this claim ask for need (AUTH_ALLOW_* bits) now, at the price of
 * cost requests from its bucket? With auth none (required 0) everyone
 * may. A cost over the client's burst can never be paid: that is
 * AUTH_OVER_BURST, not a rate limit to wait out. *who names the client
 * when one matched. Hashes are compared in constant time.
 */
enum auth_result
auth_allow(struct auth_table *t, int required, const struct auth_id *id,
    unsigned need, unsigned cost, int64_t now_us, struct auth_who *who)
{
	struct auth_client *c = NULL;

	who->name = NULL;
	who->disclose = 0;
	who->burst = 0;
	if (!required)
		return AUTH_OK;
	if (id->kind == AUTH_ID_NONE)
		return AUTH_MISSING;
	for (size_t i = 0; t != NULL && i < t->n; i++) {
		const uint8_t *h = id->kind == AUTH_ID_TOKEN ? t->c[i].token :
		    t->c[i].cert;
		int has = id->kind == AUTH_ID_TOKEN ? t->c[i].has_token :
		    t->c[i].has_cert;

		if (has && CRYPTO_memcmp(h, id->hash, AUTH_HASH) == 0)
			c = &t->c[i];
	}
	if (c == NULL)
		return AUTH_UNKNOWN;
	who->name = c->name;
	who->disclose = c->disclose;
	who->burst = (unsigned)c->burst;
	if ((c->allow & need) != need)
		return AUTH_FORBIDDEN;
	if (cost > c->burst)	/* never, however long it waits */
		return AUTH_OVER_BURST;
	return auth_take(c, cost, now_us) ? AUTH_OK : AUTH_RATE_LIMITED;
}

/* The table key of a client address (family byte, then the address). */
static size_t
auth_addr_key(const struct sockaddr *sa, uint8_t key[17])
{
	memset(key, 0, 17);
	key[0] = (uint8_t)sa->sa_family;
	if (sa->sa_family == AF_INET)
		memcpy(key + 1, &((const struct sockaddr_in *)(const void *)sa)
		    ->sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(key + 1, &((const struct sockaddr_in6 *)(const void *)
		    sa)->sin6_addr, 16);
	return (size_t)XXH3_64bits(key, 17) % AUTH_ADDRS;
}

/*
 * Count one more connection from an address; 0 when it may have it, -1
 * when it has max already (or its part of the table is crowded). An
 * address lives in one of the 64 slots after its hash.
 */
int
auth_addr_acquire(const struct sockaddr *sa, int max)
{
	uint8_t key[17];
	size_t home = auth_addr_key(sa, key);
	struct auth_addr *found = NULL, *free_slot = NULL;
	int rc = -1;

	pthread_mutex_lock(&auth_addr_lock);
	if (auth_addrs == NULL)
		auth_addrs = calloc(AUTH_ADDRS, sizeof(*auth_addrs));
	for (size_t k = 0; auth_addrs != NULL && k < 64 && found == NULL; k++) {
		struct auth_addr *a = &auth_addrs[(home + k) % AUTH_ADDRS];

		if (a->count == 0 && free_slot == NULL)
			free_slot = a;
		else if (a->count != 0 && memcmp(a->key, key, 17) == 0)
			found = a;
	}
	if (found == NULL && free_slot != NULL) {
		memcpy(free_slot->key, key, 17);
		found = free_slot;
	}
	if (found != NULL && found->count < (uint32_t)max) {
		found->count++;
		rc = 0;
	}
	pthread_mutex_unlock(&auth_addr_lock);
	return rc;
}

/* A connection from this address closed. */
void
auth_addr_release(const struct sockaddr *sa)
{
	uint8_t key[17];
	size_t i = auth_addr_key(sa, key);

	pthread_mutex_lock(&auth_addr_lock);
	for (size_t k = 0; auth_addrs != NULL && k < 64;
	    k++, i = (i + 1) % AUTH_ADDRS)
		if (auth_addrs[i].count != 0 &&
		    memcmp(auth_addrs[i].key, key, 17) == 0) {
			auth_addrs[i].count--;
			break;
		}
	pthread_mutex_unlock(&auth_addr_lock);
}
