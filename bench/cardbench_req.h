/* SPDX-License-Identifier: MIT */
/* cardbench requests: RESP and HTTP checks, nonces, command templates. */
#ifndef CARDBENCH_REQ_H
#define CARDBENCH_REQ_H

#include <stddef.h>
#include <stdint.h>

enum cardbench_check { BENCH_VALIDITY, BENCH_COVERAGE, BENCH_TEMPLATE,
	BENCH_CHECK_COUNT };

#define CARDBENCH_CARD_MAX	20	/* digits of a card number */
#define CARDBENCH_NONCE_LEN	16	/* b64url of 12 bytes */
#define CARDBENCH_REQ_MAX	4096	/* one request: a code, a token */

struct cardbench_req {
	uint64_t	card;		/* by code: the code's pool index */
	uint64_t	seq;		/* nonce counter within the thread */
	uint16_t	thread;
	uint8_t		check;		/* enum cardbench_check */
	uint8_t		nonce;		/* a nonce was sent */
	uint8_t		bycode;		/* asked by code (--codes) */
};

int	cardbench_req_init(int proto, const char *target, const char *scheme,
	    const char *cmd_template, const char *token);
size_t	cardbench_req_auth(char *out, size_t cap);
size_t	cardbench_req_card(uint64_t card, char *out);
size_t	cardbench_req_nonce(const struct cardbench_req *, char *out);
size_t	cardbench_req_encode(const struct cardbench_req *, char *out,
	    size_t cap);
const char *cardbench_req_check_name(enum cardbench_check);

#endif
