/* SPDX-License-Identifier: MIT */
/* Unit tests for daemon/config.c: config_parse on in-memory text. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "testhelp.h"

static struct settings s;
static char err[512];

static int	cfg_named(const char *text, const char *name);
static int	cfg(const char *text);
static int	cfg_raw(const char *text);
static void	test_security_keys(void);
static int	err_at(int line, const char *what);
static int	str_is(const char *got, const char *want);

/* Parse text as the file "name" into s (freeing the previous result). */
static int
cfg_named(const char *text, const char *name)
{
	settings_free(&s);
	memset(err, 0, sizeof(err));
	return config_parse(text, strlen(text), name, &s, err, sizeof(err));
}

/*
 * Parse text as the file "t.conf", with one client line after it (auth
 * required, the default, needs a client; errors in text keep their line).
 */
static int
cfg(const char *text)
{
	static char buf[8192];

	snprintf(buf, sizeof(buf), "%s\nclient t token=sha256:%064d\n", text, 0);
	return cfg_named(buf, "t.conf");
}

/* Parse text exactly as given, as "t.conf". */
static int
cfg_raw(const char *text)
{
	return cfg_named(text, "t.conf");
}

/* True when err is "t.conf:LINE: ..." and mentions what. */
static int
err_at(int line, const char *what)
{
	char prefix[32];
	int ok;

	snprintf(prefix, sizeof(prefix), "t.conf:%d: ", line);
	ok = strncmp(err, prefix, strlen(prefix)) == 0 &&
	    strstr(err, what) != NULL;
	if (!ok)
		fprintf(stderr, "  error was \"%s\", wanted \"%s...%s\"\n",
		    err, prefix, what);
	return ok;
}

/* NULL-safe string equality. */
static int
str_is(const char *got, const char *want)
{
	if (got == NULL || want == NULL)
		return got == want;
	return strcmp(got, want) == 0;
}

/* Defaults of config_keys[] and conf/cardd.conf from an empty file. */
static void
test_defaults(void)
{
	CHECK_EQ_INT(cfg(""), 0);
	CHECK(str_is(s.http_listen, "127.0.0.1:8080"));
	CHECK(str_is(s.resp_listen, "127.0.0.1:7070"));
	CHECK(str_is(s.source, "file:cards.csv"));
	CHECK(str_is(s.signing_key, "signing.pem"));
	CHECK(s.key_id == NULL);
	CHECK(str_is(s.timezone, "Asia/Shanghai"));
	CHECK_EQ_INT(s.threads, 0);		/* auto */
	CHECK_EQ_INT(s.signers, 0);
	CHECK_EQ_INT(s.max_staleness, 300);
	CHECK(s.snapshot == NULL);
	CHECK_EQ_INT(s.require_birth, 0);
	CHECK_EQ_INT(s.sign_mode, SIGN_PER_ANSWER);
	CHECK_EQ_INT(s.log_level, LOGL_INFO);
	CHECK_EQ_INT(s.max_connections, 10000);
	CHECK_EQ_INT(s.idle_timeout, 60);
	CHECK_EQ_INT(s.http_max_header, 8192);
	CHECK_EQ_INT(s.http_max_body, 65536);
	CHECK_EQ_INT(s.max_batch, 100);
	CHECK_EQ_INT(s.client_max_output, 1048576);
	CHECK_EQ_INT(s.resp_max_args, 32);
	CHECK_EQ_INT(s.resp_max_arg_len, 4096);
	CHECK(str_is(s.key_prefix, "card:"));
	CHECK(str_is(s.stream, "cards:changes"));
	CHECK(s.redis_user == NULL && s.redis_password == NULL);
	/* Comments and blank lines only: still the defaults. */
	CHECK_EQ_INT(cfg("# cardd\n\n   \n\t# indented comment\n#threads 9\n"),
	    0);
	CHECK_EQ_INT(s.threads, 0);
	/* auto, or a count within bounds. */
	CHECK_EQ_INT(cfg("threads 3\nsigners auto\n"), 0);
	CHECK_EQ_INT(s.threads, 3);
	CHECK_EQ_INT(s.signers, 0);
	CHECK_EQ_INT(cfg("signers 2\nthreads auto\n"), 0);
	CHECK_EQ_INT(s.signers, 2);
	CHECK_EQ_INT(s.threads, 0);
	CHECK(cfg("signers 0\n") != 0);
	CHECK(cfg("threads automatic\n") != 0);
}

/* Every key can be set, with its own type. */
static void
test_set_all(void)
{
	static const char text[] =
	    "http_listen 0.0.0.0:80\n"
	    "resp_listen [::1]:6380\n"
	    "source redis://127.0.0.1:6379/0\n"
	    "signing_key /etc/cardd/signing.pem\n"
	    "key_id 2026a\n"
	    "timezone UTC\n"
	    "threads 64\n"
	    "max_staleness 1\n"
	    "snapshot /var/lib/cardd/cards.snap\n"
	    "require_birth yes\n"
	    "sign_mode batch\n"
	    "log_level debug\n"
	    "max_connections 1\n"
	    "idle_timeout 86400\n"
	    "http_max_header 16k\n"
	    "http_max_body 16m\n"
	    "max_batch 1\n"
	    "client_max_output 1g\n"
	    "resp_max_args 1024\n"
	    "resp_max_arg_len 256\n"
	    "key_prefix c:\n"
	    "stream s:1\n"
	    "redis_user cardd\n"
	    "redis_password \"secret with spaces\"\n";

	CHECK_EQ_INT(cfg(text), 0);
	CHECK(str_is(s.http_listen, "0.0.0.0:80"));
	CHECK(str_is(s.resp_listen, "[::1]:6380"));
	CHECK(str_is(s.source, "redis://127.0.0.1:6379/0"));
	CHECK(str_is(s.signing_key, "/etc/cardd/signing.pem"));
	CHECK(str_is(s.key_id, "2026a"));
	CHECK(str_is(s.timezone, "UTC"));
	CHECK_EQ_INT(s.threads, 64);
	CHECK_EQ_INT(s.max_staleness, 1);
	CHECK(str_is(s.snapshot, "/var/lib/cardd/cards.snap"));
	CHECK_EQ_INT(s.require_birth, 1);
	CHECK_EQ_INT(s.sign_mode, SIGN_BATCH);
	CHECK_EQ_INT(s.log_level, LOGL_DEBUG);
	CHECK_EQ_INT(s.max_connections, 1);
	CHECK_EQ_INT(s.idle_timeout, 86400);
	CHECK_EQ_INT(s.http_max_header, 16384);
	CHECK_EQ_INT(s.http_max_body, 16 << 20);
	CHECK_EQ_INT(s.max_batch, 1);
	CHECK_EQ_INT(s.client_max_output, 1L << 30);
	CHECK_EQ_INT(s.resp_max_args, 1024);
	CHECK_EQ_INT(s.resp_max_arg_len, 256);
	CHECK(str_is(s.key_prefix, "c:"));
	CHECK(str_is(s.stream, "s:1"));
	CHECK(str_is(s.redis_user, "cardd"));
	CHECK(str_is(s.redis_password, "secret with spaces"));
}

/* Errors carry the right line number, counting blank and comment lines. */
static void
test_error_lines(void)
{
	CHECK_EQ_INT(cfg("# c\n\nthreads 4\nbogus 1\nthreads 5\n"), -1);
	CHECK(strcmp(err, "t.conf:4: bogus: unknown key") == 0);
	CHECK_EQ_INT(cfg("threads 2\n# x\nthreads 3\n"), -1);
	CHECK(err_at(3, "twice"));
	CHECK_EQ_INT(cfg("threads\n"), -1);
	CHECK(err_at(1, "missing value"));
	CHECK_EQ_INT(cfg("\n\nthreads   \t \n"), -1);
	CHECK(err_at(3, "missing value"));
	CHECK_EQ_INT(cfg("threads \"\"\n"), -1);
	CHECK(err_at(1, "missing value"));
	/* The last line without a line end, and CRLF files. */
	CHECK_EQ_INT(cfg("threads 4\r\nmax_batch 0"), -1);
	CHECK(err_at(2, "max_batch"));
	CHECK_EQ_INT(cfg("threads 4\r\nmax_batch 7\r\n"), 0);
	CHECK(s.threads == 4 && s.max_batch == 7);
	/* Keys are case-sensitive, as in the table. */
	CHECK_EQ_INT(cfg("Threads 4\n"), -1);
	CHECK(err_at(1, "unknown key"));
	/* A very long line is an error, not a silent split. */
	{
		static char big[6000];

		memset(big, 'x', sizeof(big) - 2);
		memcpy(big, "\nsnapshot ", 10);
		big[sizeof(big) - 2] = '\n';
		CHECK_EQ_INT(cfg(big), -1);
		CHECK(err_at(2, "too long"));
	}
	CHECK_EQ_INT(cfg_named("x\n", "/etc/cardd/cardd.conf"), -1);
	CHECK(strncmp(err, "/etc/cardd/cardd.conf:1: ", 25) == 0);
}

/* Integers: bounds inclusive, no junk, no suffix on plain ints. */
static void
test_ints(void)
{
	static const char *const bad[] = {
		"threads 0\n", "threads 65\n", "threads -1\n", "threads 2x\n",
		"threads 1k\n", "threads x\n", "threads 2.5\n",
		"threads 99999999999999999999\n", "max_staleness 0\n",
		"max_staleness 31536001\n", "max_batch 101\n", "max_batch 0\n",
		"idle_timeout 86401\n", "resp_max_args 15\n",
		"resp_max_args 1025\n", "max_connections 1000001\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(cfg(bad[i]), -1);
		CHECK(err_at(1, ""));
	}
	CHECK_EQ_INT(cfg("threads 1\nmax_staleness 31536000\n"), 0);
	CHECK(s.threads == 1 && s.max_staleness == 31536000);
}

/* Sizes: plain bytes or k/m/g suffixes, within each key's bounds. */
static void
test_sizes(void)
{
	static const char *const bad[] = {
		"http_max_header 1023\n", "http_max_header 2m\n",
		"http_max_header 1x\n", "http_max_header k\n",
		"http_max_header -1k\n", "http_max_header 1kk\n",
		"http_max_body 17m\n", "client_max_output 2g\n",
		"client_max_output 65535\n", "resp_max_arg_len 255\n",
		"http_max_header 9999999999999999999g\n",
	};

	CHECK_EQ_INT(cfg("http_max_header 1024\n"), 0);
	CHECK_EQ_INT(s.http_max_header, 1024);
	CHECK_EQ_INT(cfg("http_max_header 1m\n"), 0);
	CHECK_EQ_INT(s.http_max_header, 1048576);
	CHECK_EQ_INT(cfg("http_max_header 8K\n"), 0);
	CHECK_EQ_INT(s.http_max_header, 8192);
	CHECK_EQ_INT(cfg("client_max_output 65536\n"), 0);
	CHECK_EQ_INT(s.client_max_output, 65536);
	CHECK_EQ_INT(cfg("resp_max_arg_len 1m\n"), 0);
	CHECK_EQ_INT(s.resp_max_arg_len, 1 << 20);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(cfg(bad[i]), -1);
		CHECK(err_at(1, ""));
	}
}

/* Booleans are yes/no; enums are their words. */
static void
test_bools_enums(void)
{
	static const char *const bad[] = {
		"require_birth true\n", "require_birth 1\n",
		"require_birth Yes\n", "require_birth on\n",
		"sign_mode merkle\n", "sign_mode Batch\n",
		"sign_mode per_answer\n", "log_level trace\n",
	};

	CHECK_EQ_INT(cfg("require_birth no\n"), 0);
	CHECK_EQ_INT(s.require_birth, 0);
	CHECK_EQ_INT(cfg("require_birth yes\n"), 0);
	CHECK_EQ_INT(s.require_birth, 1);
	CHECK_EQ_INT(cfg("sign_mode per-answer\nlog_level error\n"), 0);
	CHECK(s.sign_mode == SIGN_PER_ANSWER && s.log_level == LOGL_ERROR);
	CHECK_EQ_INT(cfg("log_level warn\n"), 0);
	CHECK_EQ_INT(s.log_level, LOGL_WARN);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(cfg(bad[i]), -1);
		CHECK(err_at(1, ""));
	}
}

/* Listeners: host:port, [v6]:port, or off. */
static void
test_listeners(void)
{
	static const char *const bad[] = {
		"http_listen 8080\n", "http_listen :8080\n",
		"http_listen host:0\n", "http_listen host:65536\n",
		"http_listen host:80x\n", "http_listen host:\n",
		"http_listen [::1:8080\n", "resp_listen 127.0.0.1\n",
		"resp_listen OFF\n", "resp_listen host:-1\n",
	};

	CHECK_EQ_INT(cfg("http_listen off\nresp_listen off\n"), 0);
	CHECK(s.http_listen == NULL && s.resp_listen == NULL);
	CHECK_EQ_INT(cfg("http_listen localhost:65535\nresp_listen [::]:1\n"),
	    0);
	CHECK(str_is(s.http_listen, "localhost:65535"));
	CHECK(str_is(s.resp_listen, "[::]:1"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(cfg(bad[i]), -1);
		CHECK(err_at(1, ""));
	}
}

/* Source, key_id, timezone and Redis names are checked. */
static void
test_checked_strings(void)
{
	static const char *const bad[] = {
		"source cards.csv\n", "source file:\n", "source redis://\n",
		"source http://x\n", "source FILE:x.csv\n",
		"key_id \"bad kid\"\n", "key_id a/b\n", "key_id k\xc3\xa9y\n",
		"key_id 0123456789012345678901234567890123456789"
		    "0123456789012345678901234\n",		/* 65 */
		"timezone Mars/Olympus\n", "timezone ../etc/passwd\n",
		"timezone /etc/localtime\n", "timezone Asia/../Asia/Shanghai\n",
		"key_prefix \"a b\"\n", "stream \"\"\n",
	};

	CHECK_EQ_INT(cfg("source file:/data/cards.csv\nkey_id a.b_c-D9\n"), 0);
	CHECK(str_is(s.source, "file:/data/cards.csv"));
	CHECK(str_is(s.key_id, "a.b_c-D9"));
	CHECK_EQ_INT(cfg("key_id 0123456789012345678901234567890123456789"
	    "012345678901234567890123\n"), 0);			/* 64 */
	CHECK_EQ_INT(cfg("timezone Asia/Shanghai\n"), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(cfg(bad[i]), -1);
		CHECK(err_at(1, ""));
	}
}

/* Quoted values hold spaces and '#'; a broken quote is an error. */
static void
test_quotes(void)
{
	CHECK_EQ_INT(cfg("signing_key \"/etc/my keys/s.pem\"\n"), 0);
	CHECK(str_is(s.signing_key, "/etc/my keys/s.pem"));
	CHECK_EQ_INT(cfg("snapshot \"/x/#not-a-comment\"\n"), 0);
	CHECK(str_is(s.snapshot, "/x/#not-a-comment"));
	CHECK_EQ_INT(cfg("  threads   8   \n"), 0);
	CHECK_EQ_INT(s.threads, 8);
	CHECK_EQ_INT(cfg("\n\nsigning_key \"/etc/k.pem\n"), -1);
	CHECK(err_at(3, "quote"));
	CHECK_EQ_INT(cfg("signing_key \"\n"), -1);
	CHECK(err_at(1, "quote"));
}

/* Relative file names are taken from the config file's folder. */
static void
test_relative_paths(void)
{
	CHECK_EQ_INT(cfg_named("snapshot cards.snap\nauth none\n",
	    "/etc/cardd/cardd.conf"),
	    0);
	CHECK(str_is(s.source, "file:/etc/cardd/cards.csv"));
	CHECK(str_is(s.signing_key, "/etc/cardd/signing.pem"));
	CHECK(str_is(s.snapshot, "/etc/cardd/cards.snap"));
	CHECK_EQ_INT(cfg_named("source file:data/c.csv\n"
	    "signing_key keys/s.pem\nsnapshot /var/lib/cardd/c.snap\nauth none\n",
	    "conf/cardd.conf"), 0);
	CHECK(str_is(s.source, "file:conf/data/c.csv"));
	CHECK(str_is(s.signing_key, "conf/keys/s.pem"));
	CHECK(str_is(s.snapshot, "/var/lib/cardd/c.snap"));
	CHECK_EQ_INT(cfg_named("source redis://h:1/0\nauth none\n", "/etc/cardd.conf"), 0);
	CHECK(str_is(s.source, "redis://h:1/0"));
	CHECK(str_is(s.signing_key, "/etc/signing.pem"));
	/* A config without a folder leaves names as they are. */
	CHECK_EQ_INT(cfg_named("auth none\n", "cardd.conf"), 0);
	CHECK(str_is(s.source, "file:cards.csv"));
	CHECK(str_is(s.signing_key, "signing.pem"));
}

/* config_source_file: the path of file: sources only. */
static void
test_source_file(void)
{
	const char *path = NULL;

	CHECK_EQ_INT(cfg("source file:/data/c.csv\n"), 0);
	CHECK_EQ_INT(config_source_file(&s, &path), 0);
	CHECK(str_is(path, "/data/c.csv"));
	CHECK_EQ_INT(cfg("source redis://127.0.0.1:6379\n"), 0);
	CHECK_EQ_INT(config_source_file(&s, &path), -1);
}

/* auth, client lines, TLS keys and the rules between them. */
static void
test_security_keys(void)
{
	CHECK(cfg_raw("") == -1);
	CHECK(strstr(err, "auth required, but no client") != NULL);
	CHECK(cfg_raw("auth none\n") == 0);
	CHECK(cfg_raw("auth none\nhttp_listen 0.0.0.0:80\n") == -1);
	CHECK(strstr(err, "only allowed when every listener is on loopback"));
	CHECK(cfg_raw("auth none\nresp_listen [::1]:7070\nhttp_listen "
	    "127.1.2.3:80\n") == 0);
	CHECK(cfg_raw("auth none\nresp_listen [::]:7070\n") == -1);
	CHECK(cfg_raw("auth none\nhttp_listen off\nresp_listen off\n") == 0);
	/* client lines: repeatable, checked, named in errors by line. */
	CHECK(cfg_raw("client a token=sha256:" "0000000000000000000000000000"
	    "000000000000000000000000000000000000\nclient b cert=h.example "
	    "allow=coverage rate=5 burst=10\n") == 0);
	CHECK_EQ_INT(s.clients.n, 2);
	CHECK(cfg_raw("threads 2\nclient a token=abc\n") == -1);
	CHECK(err_at(2, "token=sha256"));
	CHECK(cfg_raw("client a\n") == -1 && err_at(1, "token= or cert="));
	CHECK(cfg_raw("client a cert=x allow=everything\n") == -1 &&
	    err_at(1, "allow="));
	CHECK(cfg_raw("client a cert=x rate=0\n") == -1 && err_at(1, "rate="));
	CHECK(cfg_raw("client bad/name cert=x\n") == -1 &&
	    err_at(1, "client NAME"));
	CHECK(cfg_raw("client a cert=x color=red\n") == -1 &&
	    err_at(1, "unknown option"));
	/* TLS */
	CHECK(cfg("http_tls yes\n") == -1);
	CHECK(strstr(err, "need tls_cert and tls_key") != NULL);
	CHECK(cfg("http_tls yes\ntls_cert c.pem\ntls_key k.pem\n") == 0);
	CHECK(cfg("tls_verify_client required\n") == -1);
	CHECK(cfg("resp_tls yes\ntls_cert c.pem\ntls_key k.pem\n"
	    "tls_verify_client optional\ntls_client_ca ca.pem\n") == 0);
	CHECK(s.tls_verify_client == TLS_VERIFY_OPTIONAL);
	CHECK(cfg("max_connections_per_ip 0\n") == -1);
	CHECK(cfg("request_timeout 5\nmax_connections_per_ip 3\n") == 0);
	CHECK(s.request_timeout == 5 && s.max_connections_per_ip == 3);
}

int
main(void)
{
	test_defaults();
	test_set_all();
	test_error_lines();
	test_ints();
	test_sizes();
	test_bools_enums();
	test_listeners();
	test_checked_strings();
	test_quotes();
	test_relative_paths();
	test_source_file();
	settings_free(&s);
	test_security_keys();
	TEST_REPORT("config");
}
