/* SPDX-License-Identifier: MIT */
/* cardbench results: the human summary and the JSON document. */
#ifndef CARDBENCH_REPORT_H
#define CARDBENCH_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "cardbench_stats.h"
#include "cardbench_verify.h"

struct cardbench_result {
	const struct cardbench_stats	*st;
	struct cardbench_verify_result	 vr;
	double				 seconds;	/* measured window */
	double				 err_pct;	/* failed / asked */
	int				 threads;
	uint64_t			 codes_asked;	/* --codes: distinct */
};

double	cardbench_report_err_pct(const struct cardbench_stats *);
void	cardbench_report_print(FILE *, const struct cardbench_result *);
int	cardbench_report_json(const char *path,
	    const struct cardbench_result *);

#endif
