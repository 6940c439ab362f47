/* SPDX-License-Identifier: MIT */
/*
 * TLS on the listeners (PROTOCOL.md §9), through OpenSSL. One server context
 * holds the certificate chain, its key and, for mutual TLS, the CA that
 * client certificates must chain to; TLS 1.2 is the least version, the
 * cipher list is OpenSSL's (Debian's security level 2), renegotiation
 * and compression are off, session tickets let clients resume. A
 * context is immutable once built: SIGHUP builds a new one and swaps it
 * in through live.c, and connections keep the one they started with
 * (OpenSSL counts the references).
 *
 * Connections are non-blocking: each call says TLS_WANT when it must
 * wait for the socket, and net_tcp.c waits for the event it needs.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "config.h"
#include "tls.h"

struct tls_ctx {
	SSL_CTX		*ctx;
};

static int	tls_private_file(const char *, char *, size_t);
static const char *tls_error(void);
static int	tls_client_ca(SSL_CTX *, const struct settings *, char *,
		    size_t);

/* The last OpenSSL error, as text. */
static const char *
tls_error(void)
{
	static _Thread_local char buf[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "unknown TLS error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* A private key file must not be readable by group or others. */
static int
tls_private_file(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s: private key is accessible by group "
		    "or others (mode %03o); run chmod 600 on it", path,
		    (unsigned)st.st_mode & 0777);
		return -1;
	}
	return 0;
}

/* Ask for client certificates chaining to tls_client_ca. */
static int
tls_client_ca(SSL_CTX *ctx, const struct settings *s, char *err,
    size_t errlen)
{
	STACK_OF(X509_NAME) *names;
	int mode = SSL_VERIFY_PEER;

	if (s->tls_verify_client == TLS_VERIFY_NONE)
		return 0;
	if (SSL_CTX_load_verify_locations(ctx, s->tls_client_ca, NULL) != 1 ||
	    (names = SSL_load_client_CA_file(s->tls_client_ca)) == NULL) {
		snprintf(err, errlen, "tls_client_ca %s: %s", s->tls_client_ca,
		    tls_error());
		return -1;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	if (s->tls_verify_client == TLS_VERIFY_REQUIRED)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, NULL);
	SSL_CTX_set_verify_depth(ctx, 4);
	return 0;
}

/* A server context from the settings' tls_* keys. */
struct tls_ctx *
tls_ctx_new(const struct settings *s, char *err, size_t errlen)
{
	struct tls_ctx *t = calloc(1, sizeof(*t));
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (t == NULL || ctx == NULL) {
		snprintf(err, errlen, "cannot make a TLS context: %s",
		    tls_error());
		goto fail;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"cardd", 5);
	if (tls_private_file(s->tls_key, err, errlen) != 0)
		goto fail;
	if (SSL_CTX_use_certificate_chain_file(ctx, s->tls_cert) != 1) {
		snprintf(err, errlen, "tls_cert %s: %s", s->tls_cert,
		    tls_error());
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, s->tls_key, SSL_FILETYPE_PEM) !=
	    1 || SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "tls_key %s: %s", s->tls_key, tls_error());
		goto fail;
	}
	if (tls_client_ca(ctx, s, err, errlen) != 0)
		goto fail;
	t->ctx = ctx;
	return t;
fail:
	SSL_CTX_free(ctx);
	free(t);
	return NULL;
}

/* Drop a context; connections that use it keep it alive until they end. */
void
tls_ctx_free(struct tls_ctx *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

/* A server-side TLS connection on an accepted socket. */
SSL *
tls_conn_new(struct tls_ctx *t, int fd)
{
	SSL *ssl = SSL_new(t->ctx);

	if (ssl != NULL && SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	if (ssl != NULL)
		SSL_set_accept_state(ssl);
	return ssl;
}

/* End a TLS connection: a close_notify if it can go at once, then free. */
void
tls_conn_free(SSL *ssl)
{
	if (ssl == NULL)
		return;
	if (SSL_is_init_finished(ssl))
		(void)SSL_shutdown(ssl);
	SSL_free(ssl);
	ERR_clear_error();
}

/*
 * Move the handshake on. Returns 1 when done, TLS_WANT when it must wait
 * (*want_write tells for what), -1 when it failed.
 */
int
tls_handshake(SSL *ssl, int *want_write)
{
	int r = SSL_do_handshake(ssl);

	*want_write = 0;
	if (r == 1)
		return 1;
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return TLS_WANT;
	case SSL_ERROR_WANT_WRITE:
		*want_write = 1;
		return TLS_WANT;
	default:
		ERR_clear_error();
		return -1;
	}
}

/* Read decrypted bytes: >0, 0 at a clean end, TLS_WANT, or -1. */
ssize_t
tls_read(SSL *ssl, void *buf, size_t len)
{
	size_t n;

	if (SSL_read_ex(ssl, buf, len, &n) == 1)
		return (ssize_t)n;
	switch (SSL_get_error(ssl, 0)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return TLS_WANT;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		ERR_clear_error();
		return -1;
	}
}

/* Write bytes (partial writes allowed): >0, TLS_WANT, or -1. */
ssize_t
tls_write(SSL *ssl, const void *buf, size_t len)
{
	size_t n;

	if (SSL_write_ex(ssl, buf, len, &n) == 1)
		return (ssize_t)n;
	switch (SSL_get_error(ssl, 0)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return TLS_WANT;
	default:
		ERR_clear_error();
		return -1;
	}
}

/* Decrypted bytes OpenSSL holds that the socket will not signal again. */
int
tls_pending(SSL *ssl)
{
	return SSL_pending(ssl);
}

/*
 * The name of a verified client certificate: its subject CN, else its
 * first DNS name. Returns its length, or -1 without a verified one.
 */
int
tls_peer_name(SSL *ssl, char *out, size_t cap)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	GENERAL_NAMES *sans;
	int n = -1;

	if (cert == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		return -1;
	n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
	    NID_commonName, out, (int)cap);
	if (n > 0 && (size_t)n < cap)
		return n;
	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	n = -1;
	for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		int len;

		if (g->type != GEN_DNS)
			continue;
		len = ASN1_STRING_length(g->d.dNSName);
		if (len > 0 && (size_t)len < cap) {
			memcpy(out, ASN1_STRING_get0_data(g->d.dNSName),
			    (size_t)len);
			out[len] = '\0';
			n = len;
		}
		break;
	}
	GENERAL_NAMES_free(sans);
	return n;
}
