/* SPDX-License-Identifier: MIT */
/* One card record: validation of its fields, and its compact encoding. */
#ifndef CARDD_RECORD_H
#define CARDD_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "stmt.h"

enum card_status {
	STATUS_ACTIVE, STATUS_SUSPENDED, STATUS_LOST, STATUS_REVOKED
};

/* The fields of PROTOCOL.md §7 other than the card number itself. */
enum record_field {
	F_STATUS, F_PERMIT, F_CLASS, F_PERMIT_FROM, F_PERMIT_UNTIL, F_BIRTH,
	F_REGION, F_XREGION, F_MEDICAL, F_PENSION, F_UNEMPLOYMENT, F_INJURY,
	F_MATERNITY, F_REV, RECORD_NFIELDS
};

#define CARD_INVALID	0x01	/* answers record_invalid */
#define CARD_HAS_BIRTH	0x02	/* birth parsed (even when invalid) */
#define CARD_XREGION_ALL 0x04	/* xregion is "*" */

#define RECORD_MAX_XREGION 128
#define RECORD_ENC_MAX	(16 + 2 * (1 + STMT_ID_MAX) + 3 + 13 * 5 + 5 + \
			    3 * RECORD_MAX_XREGION)

struct card_cover {
	int32_t	from;
	int32_t	until;
};

struct card {
	char		 id[STMT_ID_MAX];
	uint8_t		 id_len;
	char		 permit[STMT_ID_MAX];
	uint8_t		 permit_len;	/* 0: none (invalid record) */
	uint8_t		 flags;
	uint8_t		 status;	/* enum card_status */
	uint8_t		 class;		/* 'A', 'B' or 'C' */
	uint8_t		 enrolled;	/* bit per enum stmt_scheme */
	uint64_t	 rev;
	int32_t		 birth;
	int32_t		 permit_from;
	int32_t		 permit_until;
	int32_t		 region;
	struct card_cover cover[SCHEME_COUNT];
	uint16_t	 nxregion;
	int32_t		 xregion[RECORD_MAX_XREGION];
	const char	*why;		/* first problem, when invalid */
};

struct record_value {
	const char	*p;		/* NULL: field absent */
	size_t		 len;
};

const char *record_field_name(enum record_field);
int	record_field_lookup(const char *, size_t);
int	record_id_normalize(const char *in, size_t len, char *out);
int	record_region_parse(const char *, size_t, int32_t *);
void	record_build(struct card *, const char *id, size_t id_len,
	    const struct record_value *vals);
void	record_invalid(struct card *, const char *id, size_t id_len,
	    const char *why);
size_t	record_encode(const struct card *, uint8_t *out);
size_t	record_decode(const uint8_t *in, struct card *);
size_t	record_size(const uint8_t *in);
size_t	record_check_encoding(const uint8_t *in, size_t len);
const uint8_t *record_id(const uint8_t *in, size_t *len);
const uint8_t *record_permit(const uint8_t *in, size_t *len);
int	record_to_fields(const struct card *, char *buf, size_t cap,
	    struct record_value *vals);

#endif
