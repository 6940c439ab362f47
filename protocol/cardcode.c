/* SPDX-License-Identifier: MIT */
/*
 * Electronic card codes (PROTOCOL.md §10): a compact JWS whose payload
 * names a card, signed by the card platform. cardcode_parse() reads the
 * text and tells a bad request (not a code at all) from a code that is
 * well formed but not acceptable (code_invalid); cardcode_times() and
 * cardcode_verify() judge the rest. Nothing here knows issuers, clients
 * or the clock: the caller passes the key and the time.
 */
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "b64url.h"
#include "cardcode.h"

#define CARDCODE_JSON_MAX	1536	/* decoded header or payload */
#define CARDCODE_JTI_MIN	8
#define CARDCODE_JTI_MAX	64
#define CARDCODE_TIME_MAX	((int64_t)1 << 40)	/* year 36812 */

static json_t	*cardcode_object(const char *, size_t);
static enum cardcode_verdict cardcode_header(json_t *, struct cardcode *,
		    const char **);
static enum cardcode_verdict cardcode_claims(json_t *, struct cardcode *);
static int	cardcode_string(json_t *, const char *, char *, size_t);
static int	cardcode_time(json_t *, const char *, int64_t *);

/* An issuer or key name: 1-64 of A-Z a-z 0-9 . _ - (safe in JSON). */
int
cardcode_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > CARDCODE_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Decode one base64url part into a JSON object, or NULL. */
static json_t *
cardcode_object(const char *p, size_t len)
{
	uint8_t buf[CARDCODE_JSON_MAX];
	ssize_t n = b64url_decode(p, len, buf, sizeof(buf));
	json_t *o;

	if (n <= 0)
		return NULL;
	o = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES,
	    NULL);
	if (o != NULL && !json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* A string member of at most cap - 1 bytes (no NUL), copied to out. */
static int
cardcode_string(json_t *o, const char *key, char *out, size_t cap)
{
	json_t *v = json_object_get(o, key);
	size_t len;

	if (!json_is_string(v) || (len = json_string_length(v)) >= cap ||
	    memchr(json_string_value(v), '\0', len) != NULL)
		return -1;
	memcpy(out, json_string_value(v), len + 1);
	return 0;
}

/* A NumericDate member as whole seconds, 0..CARDCODE_TIME_MAX. */
static int
cardcode_time(json_t *o, const char *key, int64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > CARDCODE_TIME_MAX)
		return -1;
	*out = (int64_t)json_integer_value(v);
	return 0;
}

/* The protected header: alg decides bad request; the rest, invalid. */
static enum cardcode_verdict
cardcode_header(json_t *h, struct cardcode *cc, const char **err)
{
	const char *alg = json_string_value(json_object_get(h, "alg"));
	const char *typ;

	if (alg != NULL && strcmp(alg, "EdDSA") == 0)
		cc->alg = JWS_EDDSA;
	else if (alg != NULL && strcmp(alg, "SM2") == 0)
		cc->alg = JWS_SM2;
	else {
		*err = "code alg must be EdDSA or SM2";
		return CARDCODE_BAD;
	}
	if (cardcode_string(h, "kid", cc->kid, sizeof(cc->kid)) != 0 ||
	    cc->kid[0] == '\0') {
		cc->why = "no kid";
		return CARDCODE_INVALID;
	}
	typ = json_string_value(json_object_get(h, "typ"));
	if (typ == NULL || (strcasecmp(typ, "card-code+jwt") != 0 &&
	    strcasecmp(typ, "application/card-code+jwt") != 0)) {
		cc->why = "typ is not card-code+jwt";
		return CARDCODE_INVALID;
	}
	if (json_object_get(h, "crit") != NULL) {
		cc->why = "crit is not understood";
		return CARDCODE_INVALID;
	}
	return CARDCODE_OK;
}

/* The claims; any fault makes the code invalid. */
static enum cardcode_verdict
cardcode_claims(json_t *c, struct cardcode *cc)
{
	char jti[CARDCODE_JTI_MAX + 1];
	size_t n;

	if (cardcode_string(c, "iss", cc->iss, sizeof(cc->iss)) != 0 ||
	    !cardcode_name_valid(cc->iss, strlen(cc->iss))) {
		cc->iss[0] = '\0';
		cc->why = "iss is not an issuer name";
		return CARDCODE_INVALID;
	}
	if (cardcode_string(c, "sub", cc->sub, sizeof(cc->sub)) != 0) {
		cc->why = "sub is not a card number";
		return CARDCODE_INVALID;
	}
	if (cardcode_time(c, "iat", &cc->iat) != 0 ||
	    cardcode_time(c, "exp", &cc->exp) != 0 ||
	    (json_object_get(c, "nbf") != NULL &&
	    cardcode_time(c, "nbf", &cc->nbf) != 0)) {
		cc->why = "iat, exp or nbf is not a NumericDate in seconds";
		return CARDCODE_INVALID;
	}
	if (cardcode_string(c, "jti", jti, sizeof(jti)) != 0 ||
	    (n = strlen(jti)) < CARDCODE_JTI_MIN || !b64url_valid(jti, n)) {
		cc->why = "jti is not 8-64 characters of base64url";
		return CARDCODE_INVALID;
	}
	return CARDCODE_OK;
}

/*
 * Read a code. CARDCODE_BAD: *err says, for the client, why the text is
 * not a code at all (it never quotes the text). CARDCODE_INVALID: a
 * code that is not acceptable, cc->why says why. CARDCODE_OK: every
 * claim is read, nothing verified yet. cc->input points into text.
 */
enum cardcode_verdict
cardcode_parse(const char *text, size_t len, struct cardcode *cc,
    const char **err)
{
	const char *d1, *d2;
	enum cardcode_verdict v;
	json_t *h, *c;

	memset(cc, 0, sizeof(*cc));
	if (len > CARDCODE_MAX) {
		*err = "code is longer than 2048 bytes";
		return CARDCODE_BAD;
	}
	d1 = memchr(text, '.', len);
	d2 = d1 != NULL ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - text)) :
	    NULL;
	if (d1 == NULL || d2 == NULL || d1 == text || d2 == d1 + 1 ||
	    d2 + 1 == text + len || !b64url_valid(text, (size_t)(d1 - text)) ||
	    !b64url_valid(d1 + 1, (size_t)(d2 - d1 - 1)) ||
	    !b64url_valid(d2 + 1, len - (size_t)(d2 + 1 - text))) {
		*err = "code is not three base64url parts (a compact JWS)";
		return CARDCODE_BAD;
	}
	if (b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - text), cc->sig,
	    sizeof(cc->sig)) != JWS_SIG_LEN) {
		*err = "code signature is not 64 bytes";
		return CARDCODE_BAD;
	}
	if ((h = cardcode_object(text, (size_t)(d1 - text))) == NULL) {
		*err = "code header is not a JSON object";
		return CARDCODE_BAD;
	}
	if ((c = cardcode_object(d1 + 1, (size_t)(d2 - d1 - 1))) == NULL) {
		json_decref(h);
		*err = "code payload is not a JSON object";
		return CARDCODE_BAD;
	}
	cc->input = text;
	cc->input_len = (size_t)(d2 - text);
	v = cardcode_header(h, cc, err);
	if (v == CARDCODE_OK)
		v = cardcode_claims(c, cc);
	else if (v == CARDCODE_INVALID)
		(void)cardcode_claims(c, cc);	/* iss, for the statement */
	json_decref(h);
	json_decref(c);
	return v;
}

/*
 * Judge the times at now (seconds): a lifetime over max_lifetime (or not
 * positive), or iat/nbf after now + skew, is invalid; now after exp +
 * skew is expired.
 */
enum cardcode_verdict
cardcode_times(const struct cardcode *cc, int64_t now, int64_t max_lifetime,
    int64_t skew)
{
	if (cc->exp <= cc->iat || cc->exp - cc->iat > max_lifetime ||
	    cc->iat > now + skew || cc->nbf > now + skew)
		return CARDCODE_INVALID;
	if (now > cc->exp + skew)
		return CARDCODE_EXPIRED;
	return CARDCODE_OK;
}

/*
 * 1 when the signature verifies with key, 0 when not (or when key is not
 * of the code's alg), -1 on error.
 */
int
cardcode_verify(const struct cardcode *cc, EVP_PKEY *key)
{
	if ((cc->alg == JWS_SM2) != (EVP_PKEY_is_a(key, "SM2") == 1))
		return 0;
	return jws_verify_pkey(key, cc->input, cc->input_len, cc->sig);
}

/* SHA-256 of the code text: the key of its binding. */
void
cardcode_digest(const char *text, size_t len, uint8_t out[32])
{
	if (EVP_Digest(text, len, out, NULL, EVP_sha256(), NULL) != 1)
		memset(out, 0, 32);
}

/* The statement's "code": unpadded base64url of the SHA-256. */
void
cardcode_hash(const char *text, size_t len, char out[CARDCODE_HASH_LEN])
{
	uint8_t d[32];

	cardcode_digest(text, len, d);
	b64url_encode(d, sizeof(d), out);
}
