/* SPDX-License-Identifier: MIT */
/* cardbench load threads: closed or open loop, one event_base each. */
#ifndef CARDBENCH_LOAD_H
#define CARDBENCH_LOAD_H

#include <stdint.h>

#include "cardbench_stats.h"
#include "cardbench_thread.h"

int	cardbench_load_run(int nthreads);
void	cardbench_load_stop(void);
void	cardbench_load_sum(struct cardbench_stats *, uint64_t *measure_ns,
	    uint64_t *stop_ns);
uint64_t cardbench_load_codes_asked(void);
void	cardbench_load_free(void);

#endif
