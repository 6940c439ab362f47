/* SPDX-License-Identifier: MIT */
/* Unit tests for protocol/redis_url.c: redis:// and sentinel:// sources. */
#include <string.h>

#include "redis_url.h"
#include "testhelp.h"

static int	parse(const char *url, struct redis_url *u);

/* Parse with an error buffer that must be filled on failure only. */
static int
parse(const char *url, struct redis_url *u)
{
	char err[256] = "";
	int rc = redis_url_parse(url, u, err, sizeof(err));

	CHECK(rc == 0 ? err[0] == '\0' : err[0] != '\0');
	return rc;
}

/* One node, with and without a database, IPv4, IPv6 and names. */
static void
test_redis(void)
{
	struct redis_url u;

	CHECK_EQ_INT(parse("redis://127.0.0.1:6379", &u), 0);
	CHECK_EQ_INT(u.sentinel, 0);
	CHECK_EQ_INT(u.nnodes, 1);
	CHECK(strcmp(u.nodes[0].host, "127.0.0.1") == 0);
	CHECK_EQ_INT(u.nodes[0].port, 6379);
	CHECK_EQ_INT(u.db, 0);
	CHECK_EQ_INT(parse("redis://[::1]:7000/3", &u), 0);
	CHECK(strcmp(u.nodes[0].host, "::1") == 0);
	CHECK_EQ_INT(u.nodes[0].port, 7000);
	CHECK_EQ_INT(u.db, 3);
	CHECK_EQ_INT(parse("redis://redis.example:1/0", &u), 0);
	CHECK(strcmp(u.nodes[0].host, "redis.example") == 0);
}

/* Several Sentinels, the master name and the query. */
static void
test_sentinel(void)
{
	struct redis_url u;

	CHECK_EQ_INT(parse("sentinel://a:26379,[::1]:26380,10.0.0.3:26381/"
	    "cards", &u), 0);
	CHECK_EQ_INT(u.sentinel, 1);
	CHECK_EQ_INT(u.nnodes, 3);
	CHECK(strcmp(u.nodes[0].host, "a") == 0);
	CHECK(strcmp(u.nodes[1].host, "::1") == 0);
	CHECK_EQ_INT(u.nodes[1].port, 26380);
	CHECK(strcmp(u.nodes[2].host, "10.0.0.3") == 0);
	CHECK(strcmp(u.master, "cards") == 0);
	CHECK_EQ_INT(u.want_master, 0);
	CHECK_EQ_INT(u.db, 0);
	CHECK_EQ_INT(parse("sentinel://s:1/m.x_y-1?role=master&db=2", &u), 0);
	CHECK_EQ_INT(u.want_master, 1);
	CHECK_EQ_INT(u.db, 2);
	CHECK_EQ_INT(parse("sentinel://s:1/m?db=5&role=replica", &u), 0);
	CHECK_EQ_INT(u.want_master, 0);
	CHECK_EQ_INT(u.db, 5);
}

/* Everything a hand-typed URL gets wrong is refused, with a reason. */
static void
test_refused(void)
{
	static const char *const bad[] = {
		"", "redis:/h:1", "rediss://h:1", "redis://", "redis://h",
		"redis://h:", "redis://:1", "redis://h:0", "redis://h:65536",
		"redis://h:1x", "redis://h:1/", "redis://h:1/x",
		"redis://h:1/10000", "redis://::1:6379", "redis://[::1:6379",
		"redis://[]:1", "sentinel://", "sentinel://h:1",
		"sentinel://h:1/", "sentinel://h:1,/m", "sentinel://,h:1/m",
		"sentinel://h:1,,h:2/m", "sentinel://h/m", "sentinel://h:1/m n",
		"sentinel://h:1/m?", "sentinel://h:1/m?role=leader",
		"sentinel://h:1/m?db=", "sentinel://h:1/m?db=x",
		"sentinel://h:1/m?db=1&db=2", "sentinel://h:1/m?role=master&",
		"sentinel://h:1/m?role=master&role=replica",
		"sentinel://h:1/m?password=x",
		"sentinel://a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,i:9/m",
		"sentinel://h:1/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaa",
	};
	struct redis_url u;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &u) != -1)
			CHECK(!bad[i]);	/* names the URL accepted */
}

/* The error names the parameter at fault. */
static void
test_error_text(void)
{
	struct redis_url u;
	char err[256];

	CHECK_EQ_INT(redis_url_parse("sentinel://h:1/m?pasword=x", &u, err,
	    sizeof(err)), -1);
	CHECK(strstr(err, "\"pasword=x\"") != NULL);
	CHECK_EQ_INT(redis_url_parse("http://h", &u, err, sizeof(err)), -1);
	CHECK(strstr(err, "sentinel://") != NULL);
}

int
main(void)
{
	test_redis();
	test_sentinel();
	test_refused();
	test_error_text();
	TEST_REPORT("redis_url");
}
