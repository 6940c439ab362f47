/* SPDX-License-Identifier: MIT */
/*
 * cardctl code: mint an electronic card code (PROTOCOL.md §10), the
 * compact JWS a card platform's app shows as a QR code, signed with the
 * issuer's Ed25519 key (or SM2 key: alg SM2, §11); with --qr it is
 * drawn in the terminal first. Header and payload members come in a
 * fixed order, and Ed25519 is deterministic, so the same arguments (with
 * --iat and --jti) give the same bytes: PROTOCOL.md's worked example and
 * the tests rely on that (SM2 signatures are randomised).
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <qrencode.h>

#include "b64url.h"
#include "cardcode.h"
#include "cardctl.h"
#include "jws.h"
#include "record.h"
#include "sm2.h"

#define CODE_NAME_MAX	CARDCODE_NAME_MAX	/* iss and kid */
#define CODE_JTI_MIN	8
#define CODE_JTI_MAX	64
#define CODE_JTI_RAND	16		/* random bytes of a default jti */
#define CODE_TTL_DEFAULT 60
#define CODE_TTL_MAX	86400
#define CODE_IAT_MAX	INT64_C(253402300799)	/* 9999-12-31T23:59:59Z */
#define CODE_JSON_MAX	512		/* header or payload, with room */
#define CODE_TEXT_MAX	(2 * B64URL_LEN(CODE_JSON_MAX) + JWS_SIG_B64_LEN + 3)
#define CODE_QR_MARGIN	4		/* quiet zone, in modules */

/* code's options as given. */
struct code_args {
	const char	*key;
	const char	*iss;
	const char	*ttl;
	const char	*kid;
	const char	*iat;
	const char	*jti;
	int		 qr;
};

/* What goes into one code, every field checked. */
struct code_claims {
	char		 sub[STMT_ID_MAX + 1];
	const char	*iss;
	char		 kid[CODE_NAME_MAX + 1];
	enum jws_alg	 alg;		/* the key's: EdDSA or SM2 */
	char		 jti[CODE_JTI_MAX + 1];
	int64_t		 iat;
	int64_t		 exp;
};

static int	code_decimal(const char *, int64_t, int64_t *);
static int	code_check_card(const char *);
static int	code_check_iss(const char *);
static int	code_check_kid(const char *);
static int	code_check_ttl(const char *);
static int	code_check_iat(const char *);
static int	code_check_jti(const char *);
static int	code_args(int, char **, struct code_args *, const char **);
static int	code_no_passphrase(char *, int, int, void *);
static EVP_PKEY	*code_load_key(const char *);
static int	code_fill(const struct code_args *, const char *,
		    EVP_PKEY *, struct code_claims *);
static size_t	code_json(const struct code_claims *, char *, size_t,
		    char *, size_t, size_t *);
static int	code_sign(EVP_PKEY *, const struct code_claims *, char *);
static int	code_qr_light(const QRcode *, int, int);
static void	code_qr_print(FILE *, const QRcode *);
static int	code_qr(FILE *, const char *);

/* Unsigned decimal in 0..max, no sign, spaces or leading junk. */
static int
code_decimal(const char *s, int64_t max, int64_t *out)
{
	int64_t n = 0;

	if (*s == '\0' || strlen(s) > 19)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || n > (max - (*s - '0')) / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	*out = n;
	return 0;
}

/* CARD: a card number by the store's own rules (PROTOCOL.md §1). */
static int
code_check_card(const char *v)
{
	char id[STMT_ID_MAX];

	if (record_id_normalize(v, strlen(v), id) > 0)
		return 0;
	fprintf(stderr, "cardctl code: CARD must be 6-32 of 0-9 A-Z\n");
	return CARDCTL_USAGE;
}

/* --iss: the issuer's name as cardd's code_issuer line spells it. */
static int
code_check_iss(const char *v)
{
	if (cardcode_name_valid(v, strlen(v)))
		return 0;
	fprintf(stderr, "cardctl code: --iss must be 1-64 of "
	    "A-Z a-z 0-9 . _ -\n");
	return CARDCTL_USAGE;
}

/* --kid: the same character set, since it goes into the header as is. */
static int
code_check_kid(const char *v)
{
	if (cardcode_name_valid(v, strlen(v)))
		return 0;
	fprintf(stderr, "cardctl code: --kid must be 1-64 of "
	    "A-Z a-z 0-9 . _ -\n");
	return CARDCTL_USAGE;
}

/* --ttl: whole seconds, 1 to a day. */
static int
code_check_ttl(const char *v)
{
	int64_t n;

	if (code_decimal(v, CODE_TTL_MAX, &n) == 0 && n >= 1)
		return 0;
	fprintf(stderr, "cardctl code: --ttl must be 1 to %d seconds\n",
	    CODE_TTL_MAX);
	return CARDCTL_USAGE;
}

/* --iat: a NumericDate that stays one after the ttl is added. */
static int
code_check_iat(const char *v)
{
	int64_t n;

	if (code_decimal(v, CODE_IAT_MAX, &n) == 0)
		return 0;
	fprintf(stderr, "cardctl code: --iat must be seconds since the epoch, "
	    "0 to %" PRId64 "\n", CODE_IAT_MAX);
	return CARDCTL_USAGE;
}

/* --jti: 8-64 of base64url, as §10 accepts. */
static int
code_check_jti(const char *v)
{
	size_t len = strlen(v);

	if (len >= CODE_JTI_MIN && len <= CODE_JTI_MAX && b64url_valid(v, len))
		return 0;
	fprintf(stderr, "cardctl code: --jti must be 8-64 of base64url "
	    "(A-Z a-z 0-9 - _)\n");
	return CARDCTL_USAGE;
}

/* Parse code's arguments; the card is checked, --key and --iss needed. */
static int
code_args(int argc, char **argv, struct code_args *a, const char **card)
{
#define CODE_OPT(name, field, check) \
	{ name, 1, offsetof(struct code_args, field), check }
	static const struct cardctl_opt opts[] = {
		CODE_OPT("--key", key, NULL),
		CODE_OPT("--iss", iss, code_check_iss),
		CODE_OPT("--ttl", ttl, code_check_ttl),
		CODE_OPT("--kid", kid, code_check_kid),
		CODE_OPT("--iat", iat, code_check_iat),
		CODE_OPT("--jti", jti, code_check_jti),
		{ "--qr", 0, offsetof(struct code_args, qr), NULL },
		{ NULL, 1, 0, code_check_card },
	};
#undef CODE_OPT
	int npos, rc;

	if ((rc = cardctl_parse(argc, argv, opts, CARDCTL_NOPTS(opts), a,
	    card, 1, &npos)) != 0)
		return rc;
	if (npos != 1)
		fprintf(stderr, "cardctl code: one CARD is needed\n");
	else if (a->key == NULL)
		fprintf(stderr, "cardctl code: --key ISSUER.pem is needed\n");
	else if (a->iss == NULL)
		fprintf(stderr, "cardctl code: --iss NAME is needed\n");
	else
		return 0;
	return CARDCTL_BADARGS;
}

/* Refuse an encrypted PEM rather than prompt for its passphrase. */
static int
code_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* The issuer's private key, which must be Ed25519; NULL has said why. */
static EVP_PKEY *
code_load_key(const char *path)
{
	FILE *fp = fopen(path, "r");
	EVP_PKEY *pkey = NULL;

	if (fp != NULL) {
		pkey = PEM_read_PrivateKey(fp, NULL, code_no_passphrase, NULL);
		fclose(fp);
	}
	if (pkey == NULL) {
		fprintf(stderr, "cardctl code: %s: not a readable, unencrypted "
		    "PEM private key\n", path);
		return NULL;
	}
	if (!EVP_PKEY_is_a(pkey, "ED25519") && !EVP_PKEY_is_a(pkey, "SM2")) {
		fprintf(stderr, "cardctl code: %s: neither an Ed25519 nor an SM2 "
		    "key (it is %s); codes are signed with EdDSA or SM2\n", path,
		    EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey)
		    : "another kind");
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}

/* Fill in the claims: given values, or the defaults §10 asks for. */
static int
code_fill(const struct code_args *a, const char *card, EVP_PKEY *pkey,
    struct code_claims *c)
{
	uint8_t pub[JWS_PUB_MAX], raw[CODE_JTI_RAND];
	const char *why;
	int64_t ttl = CODE_TTL_DEFAULT;
	int n = record_id_normalize(card, strlen(card), c->sub);

	c->sub[n] = '\0';
	c->iss = a->iss;
	if (a->ttl != NULL)
		code_decimal(a->ttl, CODE_TTL_MAX, &ttl);
	c->iat = (int64_t)time(NULL);
	if (a->iat != NULL)
		code_decimal(a->iat, CODE_IAT_MAX, &c->iat);
	c->exp = c->iat + ttl;
	if (jws_key_of(pkey, &c->alg, pub, &why) != 0)
		return -1;
	if (a->kid != NULL)
		snprintf(c->kid, sizeof(c->kid), "%s", a->kid);
	else {
		/* The kid cardctl keygen's JWKS gives the same key. */
		jws_thumbprint_alg(c->alg, pub, c->kid);
		c->kid[JWS_THUMB_LEN] = '\0';
	}
	if (a->jti != NULL)
		snprintf(c->jti, sizeof(c->jti), "%s", a->jti);
	else if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	else
		c->jti[b64url_encode(raw, sizeof(raw), c->jti)] = '\0';
	return 0;
}

/*
 * The header and payload JSON, members in the fixed order of §10's
 * worked example; every value is from a set that needs no escaping.
 * Returns the header's length (0: too long) and the payload's in plen.
 */
static size_t
code_json(const struct code_claims *c, char *hdr, size_t hcap, char *pay,
    size_t pcap, size_t *plen)
{
	int h, p;

	h = snprintf(hdr, hcap, "{\"alg\":\"%s\",\"kid\":\"%s\","
	    "\"typ\":\"card-code+jwt\"}", jws_alg_name(c->alg), c->kid);
	p = snprintf(pay, pcap, "{\"iss\":\"%s\",\"sub\":\"%s\",\"iat\":%"
	    PRId64 ",\"exp\":%" PRId64 ",\"jti\":\"%s\"}", c->iss, c->sub,
	    c->iat, c->exp, c->jti);
	if (h < 0 || p < 0 || (size_t)h >= hcap || (size_t)p >= pcap)
		return 0;
	*plen = (size_t)p;
	return (size_t)h;
}

/* The code text into out (CODE_TEXT_MAX): header.payload.signature. */
static int
code_sign(EVP_PKEY *pkey, const struct code_claims *c, char *out)
{
	char hdr[CODE_JSON_MAX], pay[CODE_JSON_MAX];
	uint8_t sig[JWS_SIG_LEN];
	size_t hlen, plen, n, siglen = sizeof(sig);
	EVP_MD_CTX *ctx;
	int ok;

	if ((hlen = code_json(c, hdr, sizeof(hdr), pay, sizeof(pay),
	    &plen)) == 0)
		return -1;
	n = b64url_encode(hdr, hlen, out);
	out[n++] = '.';
	n += b64url_encode(pay, plen, out + n);
	/* Ed25519 is one-shot: no digest, the whole input at once. */
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		ok = 0;
	else if (c->alg == JWS_SM2)
		ok = sm2_sign(ctx, pkey, out, n, sig) == 0;
	else
		ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
		    EVP_DigestSign(ctx, sig, &siglen, (const uint8_t *)out,
		    n) == 1 && siglen == sizeof(sig);
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	out[n++] = '.';
	n += b64url_encode(sig, sizeof(sig), out + n);
	out[n] = '\0';
	return 0;
}

/* Whether module (x, y) of the drawing, quiet zone included, is light. */
static int
code_qr_light(const QRcode *qr, int x, int y)
{
	int w = qr->width;

	x -= CODE_QR_MARGIN;
	y -= CODE_QR_MARGIN;
	if (x < 0 || y < 0 || x >= w || y >= w)
		return 1;
	return !(qr->data[y * w + x] & 1);
}

/*
 * Draw the symbol two module rows per line with half blocks. Light
 * modules are ink and dark ones the terminal's background, so on a dark
 * terminal (the usual one) the scanner sees dark on light, as printed
 * (`qrencode -t UTF8i`). Below the last row is background too.
 */
static void
code_qr_print(FILE *fp, const QRcode *qr)
{
	static const char *const glyph[4] = {
		" ", "\342\226\204", "\342\226\200", "\342\226\210"
	};		/* none, lower, upper, both halves light */
	int n = qr->width + 2 * CODE_QR_MARGIN;

	for (int y = 0; y < n; y += 2) {
		for (int x = 0; x < n; x++)
			fputs(glyph[code_qr_light(qr, x, y) << 1 |
			    (y + 1 < n && code_qr_light(qr, x, y + 1))], fp);
		fputc('\n', fp);
	}
}

/* The code as a QR symbol: level M, 8-bit, case kept (base64url). */
static int
code_qr(FILE *fp, const char *text)
{
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);

	if (qr == NULL) {
		fprintf(stderr, "cardctl code: cannot make the QR code\n");
		return -1;
	}
	code_qr_print(fp, qr);
	QRcode_free(qr);
	return 0;
}

/* cardctl code CARD --key ISSUER.pem --iss NAME [--ttl S] [--kid KID]
 * [--iat T] [--jti J] [--qr] */
int
code_main(int argc, char **argv)
{
	struct code_args a = { 0 };
	struct code_claims c = { 0 };
	const char *card = NULL;
	char text[CODE_TEXT_MAX];
	EVP_PKEY *pkey;
	int rc;

	if ((rc = code_args(argc, argv, &a, &card)) != 0)
		return rc;
	if ((pkey = code_load_key(a.key)) == NULL)
		return CARDCTL_USAGE;
	rc = code_fill(&a, card, pkey, &c) == 0 &&
	    code_sign(pkey, &c, text) == 0 ? CARDCTL_OK : CARDCTL_USAGE;
	EVP_PKEY_free(pkey);
	if (rc != CARDCTL_OK) {
		fprintf(stderr, "cardctl code: cannot sign the code\n");
		return rc;
	}
	if (a.qr && code_qr(stdout, text) != 0)
		return CARDCTL_USAGE;
	printf("%s\n", text);
	if (fflush(stdout) != 0) {
		perror("stdout");
		return CARDCTL_USAGE;
	}
	return CARDCTL_OK;
}
