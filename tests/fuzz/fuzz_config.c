/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: config_parse(), the text of cardd.conf. It runs twice:
 * as "fuzz.conf" (relative paths stay as written) and as a file in a
 * folder (relative paths are rebased onto it). A refused file names
 * itself in the message; an accepted one holds values within the bounds
 * conf/cardd.conf documents, and a time zone that exists by its full name. Both results are freed with settings_free().
 */
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "fuzz.h"

#define IN_RANGE(v, lo, hi)	((v) >= (lo) && (v) <= (hi))

int	LLVMFuzzerInitialize(int *, char ***);

static void	parse_as(const char *, size_t, const char *, const char *);
static int	zone_exists(const char *);
static void	check_settings(const struct settings *, const char *);

/* Quiet logging, should the parser log. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init(LOGL_ERROR);
	return 0;
}

/* True when the zone is UTC or a file of the tz database, by its full name. */
static int
zone_exists(const char *zone)
{
	const char *dir = getenv("TZDIR");
	struct stat st;
	char *path;
	int ok;

	if (strcmp(zone, "UTC") == 0)
		return 1;
	if (dir == NULL)
		dir = "/usr/share/zoneinfo";
	path = malloc(strlen(dir) + strlen(zone) + 2);
	FUZZ_ASSERT(path != NULL);
	sprintf(path, "%s/%s", dir, zone);
	ok = stat(path, &st) == 0 && S_ISREG(st.st_mode);
	free(path);
	return ok;
}

/* What an accepted file promises the rest of the daemon. */
static void
check_settings(const struct settings *s, const char *dir)
{
	size_t dlen = strlen(dir);

	FUZZ_ASSERT(s->source != NULL && s->signing_key != NULL &&
	    s->timezone != NULL && s->key_prefix != NULL &&
	    s->stream != NULL);
	FUZZ_ASSERT(strncmp(s->source, "file:", 5) == 0 ||
	    strncmp(s->source, "redis://", 8) == 0 ||
	    strncmp(s->source, "sentinel://", 11) == 0);
	if (strncmp(s->source, "file:", 5) == 0)
		FUZZ_ASSERT(s->source[5] == '/' ||
		    strncmp(s->source + 5, dir, dlen) == 0);
	FUZZ_ASSERT(s->signing_key[0] == '/' ||
	    strncmp(s->signing_key, dir, dlen) == 0);
	FUZZ_ASSERT(s->snapshot == NULL || s->snapshot[0] == '/' ||
	    strncmp(s->snapshot, dir, dlen) == 0);
	FUZZ_ASSERT(zone_exists(s->timezone));
	FUZZ_ASSERT(s->key_prefix[0] != '\0' && s->stream[0] != '\0');
	/* threads and signers: 0 is "auto", resolved by main at start */
	FUZZ_ASSERT(s->threads == 0 || IN_RANGE(s->threads, 1, 64));
	FUZZ_ASSERT(s->signers == 0 || IN_RANGE(s->signers, 1, 64));
	FUZZ_ASSERT(IN_RANGE(s->max_staleness, 1, 31536000));
	FUZZ_ASSERT(IN_RANGE(s->snapshot_interval, 1, 86400));
	FUZZ_ASSERT(IN_RANGE(s->require_birth, 0, 1));
	FUZZ_ASSERT(s->sign_mode == SIGN_PER_ANSWER ||
	    s->sign_mode == SIGN_BATCH);
	FUZZ_ASSERT(IN_RANGE(s->log_level, LOGL_ERROR, LOGL_DEBUG));
	FUZZ_ASSERT(IN_RANGE(s->max_connections, 1, 1000000));
	FUZZ_ASSERT(IN_RANGE(s->idle_timeout, 1, 86400));
	FUZZ_ASSERT(IN_RANGE(s->http_max_header, 1024, 1L << 20));
	FUZZ_ASSERT(IN_RANGE(s->http_max_body, 1024, 16L << 20));
	FUZZ_ASSERT(IN_RANGE(s->max_batch, 1, 100));
	FUZZ_ASSERT(IN_RANGE(s->client_max_output, 65536, 1L << 30));
	FUZZ_ASSERT(IN_RANGE(s->resp_max_args, 16, 1024));
	FUZZ_ASSERT(IN_RANGE(s->resp_max_arg_len, 256, 1L << 20));
}

/* Parse text as the file name (in folder dir, "" for none). */
static void
parse_as(const char *text, size_t len, const char *name, const char *dir)
{
	struct settings s;
	char err[512];

	err[0] = '\0';
	if (config_parse(text, len, name, &s, err, sizeof(err)) == 0)
		check_settings(&s, dir);
	else
		FUZZ_ASSERT(strncmp(err, name, strlen(name)) == 0 &&
		    err[strlen(name)] == ':');
	settings_free(&s);
}

/* The input is the file's text. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_as((const char *)data, size, "fuzz.conf", "");
	parse_as((const char *)data, size, "/etc/cardd/fuzz.conf",
	    "/etc/cardd/");
	return 0;
}
