/* SPDX-License-Identifier: MIT */
/*
 * The pool of --codes: card codes minted ahead (bench/codes.sh), one a
 * line, read once at startup into one block of text with an offset per
 * code, and only read after that, so the load threads and the verifier
 * share it without locks. A line is checked only for what would make a
 * request unsendable or ambiguous (its length and its alphabet: a code
 * travels unescaped in a URL and as one RESP argument); whether it is a
 * code the daemon accepts is what the run measures.
 *
 * Which codes a run asked is kept per load thread in a bitmap of the
 * pool (1M codes: 128 kB a thread) and merged at the end: the distinct
 * codes asked are the signatures the daemon had to verify, when it had
 * none of them cached.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cardbench_codes.h"

static char	*codes_text;
static size_t	 codes_len, codes_cap;
static uint64_t	*codes_off;		/* codes_n + 1 offsets */
static uint64_t	 codes_n;
static uint64_t	 codes_long;		/* index of the longest */

static int	cardbench_codes_char(unsigned char);
static const char *cardbench_codes_check(char *, size_t *);
static int	cardbench_codes_add(const char *, size_t);
static const char *cardbench_codes_read(FILE *, uint64_t *);

/* May c stand in a code? base64url and the dots between the parts. */
static int
cardbench_codes_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

/*
 * One line, its end (and a CR, for files written on Windows) cut off:
 * NULL when it is a code or blank (*len 0), else what is wrong.
 */
static const char *
cardbench_codes_check(char *line, size_t *len)
{
	size_t n = *len;

	if (n > 0 && line[n - 1] == '\n')
		n--;
	if (n > 0 && line[n - 1] == '\r')
		n--;
	*len = n;
	if (n > CARDBENCH_CODE_MAX)
		return "longer than 2048 bytes";
	for (size_t i = 0; i < n; i++)
		if (!cardbench_codes_char((unsigned char)line[i]))
			return "not made of base64url characters and dots";
	return NULL;
}

/* Append one code to the pool. */
static int
cardbench_codes_add(const char *code, size_t len)
{
	size_t cap = codes_cap ? codes_cap : 1 << 20;
	char *p;

	while (cap - codes_len < len)
		cap *= 2;
	if (cap != codes_cap) {
		if ((p = realloc(codes_text, cap)) == NULL)
			return -1;
		codes_text = p;
		codes_cap = cap;
	}
	memcpy(codes_text + codes_len, code, len);
	codes_len += len;
	if (codes_n == 0 ||
	    len > codes_off[codes_long + 1] - codes_off[codes_long])
		codes_long = codes_n;
	codes_off[++codes_n] = codes_len;
	return 0;
}

/* Read every line of fp into the pool. NULL, or what is wrong. */
static const char *
cardbench_codes_read(FILE *fp, uint64_t *lineno)
{
	char *line = NULL;
	size_t cap = 0, len;
	const char *why = NULL;
	ssize_t k;

	while (why == NULL && (k = getline(&line, &cap, fp)) >= 0) {
		len = (size_t)k;
		++*lineno;
		if ((why = cardbench_codes_check(line, &len)) != NULL ||
		    len == 0)
			continue;
		if (codes_n == CARDBENCH_CODES_MAX)
			why = "more than 1000000 codes";
		else if (cardbench_codes_add(line, len) != 0)
			why = "out of memory";
	}
	free(line);
	return why;
}

/*
 * Read the pool from path (startup only). -1 with err set ("FILE:LINE:
 * what") when a line is not a code, the file has none or too many, or
 * cannot be read.
 */
int
cardbench_codes_load(const char *path, char *err, size_t errlen)
{
	FILE *fp;
	const char *why;
	uint64_t lineno = 0;

	cardbench_codes_free();
	err[0] = '\0';
	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((codes_off = calloc(CARDBENCH_CODES_MAX + 1,
	    sizeof(*codes_off))) == NULL)
		why = "out of memory";
	else
		why = cardbench_codes_read(fp, &lineno);
	if (why != NULL)
		snprintf(err, errlen, "%s:%llu: %s", path,
		    (unsigned long long)lineno, why);
	else if (ferror(fp))
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	else if (codes_n == 0)
		snprintf(err, errlen, "%s: no codes", path);
	fclose(fp);
	if (err[0] != '\0') {
		cardbench_codes_free();
		return -1;
	}
	return 0;
}

/* Codes in the pool (0: no --codes). */
uint64_t
cardbench_codes_count(void)
{
	return codes_n;
}

/* Code i of the pool (i < count), not NUL-terminated. */
const char *
cardbench_codes_get(uint64_t i, size_t *len)
{
	*len = (size_t)(codes_off[i + 1] - codes_off[i]);
	return codes_text + codes_off[i];
}

/* The longest code: the request that must fit the encoder's buffer. */
uint64_t
cardbench_codes_longest(void)
{
	return codes_long;
}

/* Forget the pool. */
void
cardbench_codes_free(void)
{
	free(codes_text);
	free(codes_off);
	codes_text = NULL;
	codes_off = NULL;
	codes_len = codes_cap = 0;
	codes_n = codes_long = 0;
}

/* An empty bitmap of the pool, for one thread's asked codes. */
uint64_t *
cardbench_codes_seen_new(void)
{
	return calloc((size_t)(codes_n + 63) / 64, sizeof(uint64_t));
}

/* Code i was asked. */
void
cardbench_codes_seen_mark(uint64_t *seen, uint64_t i)
{
	seen[i / 64] |= 1ull << (i % 64);
}

/* Add one thread's asked codes into another bitmap. */
void
cardbench_codes_seen_merge(uint64_t *into, const uint64_t *from)
{
	for (uint64_t w = 0; w < (codes_n + 63) / 64; w++)
		into[w] |= from[w];
}

/* How many codes a bitmap holds. */
uint64_t
cardbench_codes_seen_count(const uint64_t *seen)
{
	uint64_t n = 0;

	for (uint64_t w = 0; w < (codes_n + 63) / 64; w++)
		n += (uint64_t)__builtin_popcountll(seen[w]);
	return n;
}
