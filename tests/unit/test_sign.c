/* SPDX-License-Identifier: MIT */
/* sign: key loading rules, and the worked example of protocol/PROTOCOL.md. */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sign.h"
#include "testhelp.h"

#define EXAMPLE_KEY "-----BEGIN PRIVATE KEY-----\n" \
	"MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n" \
	"-----END PRIVATE KEY-----\n"
#define EXAMPLE_KID "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
#define EXAMPLE_STMT "{\"v\":1,\"check\":\"coverage\",\"card\":\"000000000000\"," \
	"\"scheme\":\"medical\",\"region\":\"440300\",\"at\":\"2026-11-28\"," \
	"\"result\":\"covered\",\"reason\":\"ok\",\"rev\":1,\"synced_at\":" \
	"\"2026-11-28T06:00:00.000Z\",\"issued_at\":\"2026-11-28T06:00:00.250Z\"," \
	"\"kid\":\"" EXAMPLE_KID "\",\"nonce\":\"q7Zx0nYp\"}"
#define EXAMPLE_JWS "eyJhbGciOiJFZERTQSIsImtpZCI6ImtQcktfcW14VldhWVZBOXd3QkY2" \
	"SXVvM3ZWeno3VHhIQ1R3WEJ5Z3JTNGsifQ..-8OSE0WP7elzXqiZDkU1AyJ8MXFfZi5W" \
	"tJzls95YkQwC9jJXwK2WUZYp2bXTIurPoYcZqk-vEWvIycPjseqwBw"

static char key_path[64];

static void	write_key(const char *, mode_t);
static void	test_example(void);
static void	test_kid_configured(void);
static void	test_refused(void);
static void	test_rotation(void);

/* Write a key file with a mode. */
static void
write_key(const char *pem, mode_t mode)
{
	int fd;

	unlink(key_path);
	fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, pem, strlen(pem)) != (ssize_t)strlen(pem))
		abort();
	fchmod(fd, mode);
	close(fd);
}

/* The key of RFC 8037 A.1 signs the PROTOCOL.md example to its bytes. */
static void
test_example(void)
{
	struct sign_keyring *kr;
	struct sign_ctx *ctx = sign_ctx_new();
	char err[256], jws[JWS_DETACHED_MAX];
	const char *kid, *jwks;
	size_t len;

	write_key(EXAMPLE_KEY, 0600);
	kr = sign_keyring_load(key_path, JWS_EDDSA, NULL, NULL, NULL, err, sizeof(err));
	CHECK(kr != NULL);
	if (kr == NULL)
		return;
	kid = sign_kid(kr, &len);
	CHECK_EQ_STR(kid, len, EXAMPLE_KID);
	CHECK(sign_jws(ctx, kr, EXAMPLE_STMT, strlen(EXAMPLE_STMT), jws,
	    &len) == 0);
	CHECK_EQ_STR(jws, len, EXAMPLE_JWS);
	/* The context signs again and again, each message on its own. */
	CHECK(sign_jws(ctx, kr, "{\"a\":1}", 7, jws, &len) == 0);
	CHECK(sign_jws(ctx, kr, EXAMPLE_STMT, strlen(EXAMPLE_STMT), jws,
	    &len) == 0);
	CHECK_EQ_STR(jws, len, EXAMPLE_JWS);
	jwks = sign_jwks(kr, &len);
	CHECK_EQ_STR(jwks, len, "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
	    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\",\"kid\":\""
	    EXAMPLE_KID "\",\"use\":\"sig\",\"alg\":\"EdDSA\"}]}");
	sign_keyring_free(kr);
	sign_ctx_free(ctx);
}

/* A configured key_id replaces the thumbprint in kid and header. */
static void
test_kid_configured(void)
{
	struct sign_keyring *kr;
	char err[256];
	const char *kid;
	size_t len;

	write_key(EXAMPLE_KEY, 0400);
	kr = sign_keyring_load(key_path, JWS_EDDSA, "2026a", NULL, NULL, err, sizeof(err));
	CHECK(kr != NULL);
	if (kr == NULL)
		return;
	kid = sign_kid(kr, &len);
	CHECK_EQ_STR(kid, len, "2026a");
	sign_keyring_free(kr);
}

/* Readable by others, missing, not PEM, not Ed25519: refused, said why. */
static void
test_refused(void)
{
	char err[256];

	write_key(EXAMPLE_KEY, 0644);
	CHECK(sign_keyring_load(key_path, JWS_EDDSA, NULL, NULL, NULL, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "chmod 600") != NULL);
	write_key(EXAMPLE_KEY, 0640);
	CHECK(sign_keyring_load(key_path, JWS_EDDSA, NULL, NULL, NULL, err, sizeof(err)) == NULL);
	write_key("not a key\n", 0600);
	CHECK(sign_keyring_load(key_path, JWS_EDDSA, NULL, NULL, NULL, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "not a PEM private key") != NULL);
	/* An EC P-256 key: PEM, but not Ed25519. */
	write_key("-----BEGIN PRIVATE KEY-----\n"
	    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgYTF7IlKxcq6LB8Yn\n"
	    "bbNTfgIj1Cz3Hd/fDk6nl55HZ/OhRANCAAQRqkjbDdOl3F6TV5w2VXiNTIaFwLo0\n"
	    "Vfl4X4pbwKL4cpiaalJM/1Hu66BdjPGvKOz9AGvEG85zkw6hYNMLD6xg\n"
	    "-----END PRIVATE KEY-----\n", 0600);
	CHECK(sign_keyring_load(key_path, JWS_EDDSA, NULL, NULL, NULL, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "not an Ed25519 key") != NULL);
	unlink(key_path);
	CHECK(sign_keyring_load(key_path, JWS_EDDSA, NULL, NULL, NULL, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "No such file") != NULL);
}

/* A replaced signer stays published; publish_keys adds public keys. */
static void
test_rotation(void)
{
	struct sign_keyring *a, *b;
	char err[256], pub[128];
	const char *jwks;
	size_t len;
	FILE *fp;

	write_key(EXAMPLE_KEY, 0600);
	a = sign_keyring_load(key_path, JWS_EDDSA, "old", NULL, NULL, err, sizeof(err));
	CHECK(a != NULL);
	if (a == NULL)
		return;
	b = sign_keyring_load(key_path, JWS_EDDSA, "new", NULL, a, err, sizeof(err));
	CHECK(b != NULL);
	if (b == NULL)
		return;
	jwks = sign_jwks(b, &len);
	CHECK(strstr(jwks, "\"kid\":\"new\"") != NULL);
	CHECK(strstr(jwks, "\"kid\":\"old\"") != NULL);
	CHECK(strstr(jwks, "\"kid\":\"new\"") < strstr(jwks, "\"kid\":\"old\""));
	sign_keyring_free(b);
	/* publish_keys: a public key file, with a kid or its thumbprint. */
	snprintf(pub, sizeof(pub), "%s.pub", key_path);
	fp = fopen(pub, "w");
	fputs("-----BEGIN PUBLIC KEY-----\n"
	    "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
	    "-----END PUBLIC KEY-----\n", fp);
	fclose(fp);
	snprintf(err, sizeof(err), "%s=2025z", pub);
	b = sign_keyring_load(key_path, JWS_EDDSA, "new", err, NULL, err, sizeof(err));
	CHECK(b != NULL);
	if (b != NULL) {
		jwks = sign_jwks(b, &len);
		CHECK(strstr(jwks, "\"kid\":\"2025z\"") != NULL);
		sign_keyring_free(b);
	}
	CHECK(sign_keyring_load(key_path, JWS_EDDSA, "new", "/nonexistent.pub", NULL,
	    err, sizeof(err)) == NULL);
	CHECK(strstr(err, "publish_keys") != NULL);
	unlink(pub);
	sign_keyring_free(a);
}

int
main(void)
{
	snprintf(key_path, sizeof(key_path), "/tmp/cardd-test-sign-%d.pem",
	    (int)getpid());
	test_example();
	test_kid_configured();
	test_refused();
	test_rotation();
	unlink(key_path);
	TEST_REPORT("sign");
}
