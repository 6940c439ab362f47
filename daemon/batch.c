/* SPDX-License-Identifier: MIT */
/*
 * The body of POST /v1/check: {"checks":[{"check":"validity","card":…},
 * …]} with the parameters of the GET endpoints as string members. The
 * whole batch is checked before anything is answered, so one bad check
 * refuses the batch with a message naming it (checks[3]: …). JSON is
 * parsed by jansson, with duplicate members refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "batch.h"
#include "body_json.h"

static const char *batch_one(json_t *, struct check_req *, char *, size_t);
static json_t	*batch_checks(json_t *, char *, size_t);

/* Fill one request from one check object; returns an error or NULL. */
static const char *
batch_one(json_t *obj, struct check_req *r, char *buf, size_t cap)
{
	const char *key, *err = NULL;
	json_t *v;
	int p;

	check_init(r, STMT_VALIDITY);
	if (!json_is_object(obj))
		return "each check must be an object";
	json_object_foreach(obj, key, v) {
		if ((p = check_param_lookup(key, strlen(key))) < 0)
			return check_unknown("unknown member", key,
			    strlen(key), buf, cap);
		if (!json_is_string(v))
			return "values must be strings";
		if (check_set(r, p, json_string_value(v),
		    json_string_length(v), &err) != 0)
			return err;
	}
	if (!(r->seen & (1u << P_CHECK)))
		return "check is required (validity or coverage)";
	return check_finish(r, &err) == 0 ? NULL : err;
}

/*
 * The body's one member, checks, an array; NULL with detail saying what
 * is wrong with the body around it.
 */
static json_t *
batch_checks(json_t *root, char *detail, size_t cap)
{
	json_t *checks = json_object_get(root, "checks");
	const char *key;
	json_t *v;
	char name[64];

	if (!json_is_object(root)) {
		snprintf(detail, cap, "the body must be a JSON object: "
		    "{\"checks\":[...]}");
		return NULL;
	}
	json_object_foreach(root, key, v)
		if (strcmp(key, "checks") != 0) {
			snprintf(detail, cap, "%s (the body has one member, "
			    "checks)", check_unknown("unknown top-level member",
			    key, strlen(key), name, sizeof(name)));
			return NULL;
		}
	if (checks == NULL)
		snprintf(detail, cap, "checks is missing: the body is "
		    "{\"checks\":[...]}");
	else if (!json_is_array(checks))
		snprintf(detail, cap, "checks must be an array of checks");
	else
		return checks;
	return NULL;
}

/*
 * Parse a batch of at most max checks. On success *reqs (free() it) holds
 * *n requests. On error, detail says why; *too_many tells a batch that
 * is only too long (413) from a malformed one (400).
 */
int
batch_parse(const char *body, size_t len, size_t max, struct check_req **reqs,
    size_t *n, int *too_many, char *detail, size_t detail_len)
{
	json_t *root = body_json_load(body, len, detail, detail_len);
	json_t *checks = root != NULL ? batch_checks(root, detail,
	    detail_len) : NULL;
	const char *err = NULL;
	char name[64];
	size_t i = 0;

	*reqs = NULL;
	*n = json_array_size(checks);
	*too_many = 0;
	if (checks == NULL)
		;	/* detail is written */
	else if (*n == 0 || *n > max) {
		*too_many = *n > max;
		snprintf(detail, detail_len, "a batch holds 1 to %zu checks",
		    max);
	} else if ((*reqs = calloc(*n, sizeof(**reqs))) == NULL)
		snprintf(detail, detail_len, "out of memory");
	else
		for (i = 0; i < *n && err == NULL; i++)
			err = batch_one(json_array_get(checks, i), &(*reqs)[i],
			    name, sizeof(name));
	json_decref(root);
	if (err != NULL)
		snprintf(detail, detail_len, "checks[%zu]: %s", i - 1, err);
	if (*reqs != NULL && err == NULL)
		return 0;
	free(*reqs);
	*reqs = NULL;
	return -1;
}
