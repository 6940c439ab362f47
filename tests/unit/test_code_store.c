/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for daemon/code_store.c: a verified code is kept and bound
 * to its first client (PROTOCOL.md §10), and what the fleet's store says
 * (code_store_fleet_set) overrides this daemon's own binding. The code
 * is the worked example of §10 (the RFC 8037 A.1 key).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "code_store.h"
#include "config.h"
#include "issuer.h"
#include "live.h"
#include "code_example.h"
#include "testhelp.h"


static void	resolve_at(struct check_req *, int64_t);

/* Resolve the example code at second t (it must read). */
static void
resolve_at(struct check_req *r, int64_t t)
{
	const char *err = NULL;

	check_init(r, STMT_VALIDITY);
	CHECK_EQ_INT(check_set(r, P_CODE, GOOD, sizeof(GOOD) - 1, &err), 0);
	CHECK_EQ_INT(code_store_resolve(r, t * 1000, &err), CODE_STORE_OK);
}

/* The first client binds; another is refused; the same may ask again. */
static void
test_local_binding(void)
{
	struct check_req r;
	int64_t ttl = 0;
	int fleet = 1;

	resolve_at(&r, IAT + 10);
	CHECK_EQ_INT(r.code_reason, REASON_OK);
	CHECK_EQ_STR(r.id, r.id_len, "000000000001");
	CHECK_EQ_STR(r.iss, strlen(r.iss), "demo-card-platform");
	/* Not bound yet: the fleet's store is asked, to keep it 80 s more. */
	CHECK_EQ_INT(code_store_fleet_needed(&r, "desk0", IAT + 10, &ttl), 1);
	CHECK_EQ_INT(ttl, 60 + 30 - 10);
	CHECK_EQ_INT(code_store_bind(&r, "desk0", &fleet), REASON_OK);
	CHECK_EQ_INT(fleet, 0);
	CHECK_EQ_INT(code_store_bind(&r, "desk0", &fleet), REASON_OK);
	CHECK_EQ_INT(code_store_bind(&r, "desk1", &fleet), REASON_CODE_REPLAYED);
	CHECK_EQ_INT(code_store_bind(&r, NULL, &fleet), REASON_CODE_REPLAYED);
	/* Bound here: offered to the store again for its holder only. */
	CHECK_EQ_INT(code_store_fleet_needed(&r, "desk0", IAT + 10, &ttl), 1);
	CHECK_EQ_INT(code_store_fleet_needed(&r, "desk1", IAT + 10, &ttl), 0);
}

/* The store's word wins, and needs no second round trip. */
static void
test_fleet_binding(void)
{
	struct check_req r;
	int64_t ttl = 0;
	int fleet = 0;

	resolve_at(&r, IAT + 20);
	code_store_fleet_set(r.code_digest, "desk1", 5);
	CHECK_EQ_INT(code_store_bind(&r, "desk0", &fleet), REASON_CODE_REPLAYED);
	CHECK_EQ_INT(fleet, 1);
	CHECK_EQ_INT(code_store_bind(&r, "desk1", &fleet), REASON_OK);
	CHECK_EQ_INT(fleet, 1);
	CHECK_EQ_INT(code_store_fleet_needed(&r, "desk1", IAT + 20, &ttl), 0);
	CHECK_EQ_INT(code_store_fleet_needed(&r, "desk0", IAT + 20, &ttl), 0);
	/* The anonymous client of auth none is the empty name. */
	code_store_fleet_set(r.code_digest, "", 0);
	CHECK_EQ_INT(code_store_bind(&r, NULL, &fleet), REASON_OK);
	CHECK_EQ_INT(code_store_bind(&r, "desk1", &fleet), REASON_CODE_REPLAYED);
}

/* Past exp + skew the code is expired, cached or not. */
static void
test_expiry(void)
{
	struct check_req r;

	resolve_at(&r, IAT + 60 + 30);
	CHECK_EQ_INT(r.code_reason, REASON_OK);
	resolve_at(&r, IAT + 60 + 31);
	CHECK_EQ_INT(r.code_reason, REASON_CODE_EXPIRED);
}

int
main(void)
{
	static const char conf[] = "auth none\n";
	char path[] = "/tmp/cardd-test-issuer-XXXXXX", line[128], err[256] = "";
	char *lines[1] = { line };
	struct issuer_table *it;
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (f == NULL || fprintf(f, "{\"keys\":[{\"kty\":\"OKP\",\"crv\":"
	    "\"Ed25519\",\"x\":\"%s\",\"kid\":\"%s\"}]}", A1_X, A1_KID) < 0 ||
	    fclose(f) != 0)
		return 1;
	snprintf(line, sizeof(line), "demo-card-platform %s", path);
	it = issuer_table_new(lines, 1, err, sizeof(err));
	unlink(path);
	if (it == NULL || config_parse(conf, strlen(conf), "test", &settings,
	    err, sizeof(err)) != 0 || live_init(1) != 0 ||
	    code_store_init() != 0) {
		fprintf(stderr, "setup: %s\n", err);
		return 1;
	}
	live_swap_issuers(it);
	test_local_binding();
	test_fleet_binding();
	test_expiry();
	code_store_free();
	issuer_table_free(live_swap_issuers(NULL));
	TEST_REPORT("code_store");
}
