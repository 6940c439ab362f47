/* SPDX-License-Identifier: MIT */
/* Unit tests for daemon/log.c: one line per event; log_warn names errno. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "testhelp.h"

static size_t	capture(void (*)(void), char *, size_t);
static void	warn_enoent(void);
static void	warnx_enoent(void);
static void	debug_below(void);

/* Run fn with stderr on a pipe; the bytes it wrote go into out. */
static size_t
capture(void (*fn)(void), char *out, size_t cap)
{
	int p[2], saved = dup(STDERR_FILENO);
	ssize_t n;

	if (pipe(p) != 0 || saved < 0)
		return 0;
	dup2(p[1], STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[1]);
	n = read(p[0], out, cap - 1);
	close(p[0]);
	out[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

/* log_warn with errno ENOENT. */
static void
warn_enoent(void)
{
	errno = ENOENT;
	log_warn("msg=\"cannot open\" path=%s", "/x");
}

/* log_warnx with errno ENOENT: errno is not its business. */
static void
warnx_enoent(void)
{
	errno = ENOENT;
	log_warnx("msg=\"plain\"");
}

/* A debug line under the info threshold. */
static void
debug_below(void)
{
	log_debug("msg=hidden");
}

/* log_warn appends the error at the end; log_warnx does not. */
static void
test_errno_variant(void)
{
	char line[256];
	const char *want = "level=warn msg=\"cannot open\" path=/x "
	    "error=\"No such file or directory\"\n";

	capture(warn_enoent, line, sizeof(line));
	CHECK_EQ_STR(line, strlen(line), want);
	capture(warnx_enoent, line, sizeof(line));
	CHECK_EQ_STR(line, strlen(line), "level=warn msg=\"plain\"\n");
}

/* Lines below the threshold are not written. */
static void
test_threshold(void)
{
	char line[64];

	CHECK(capture(debug_below, line, sizeof(line)) == 0);
}

int
main(void)
{
	unsetenv("JOURNAL_STREAM");
	log_init(LOGL_INFO);
	test_errno_variant();
	test_threshold();
	TEST_REPORT("log");
}
