/* SPDX-License-Identifier: MIT */
/* cardbench: the load generator of cardd (README.md, Layout). */
#ifndef CARDBENCH_H
#define CARDBENCH_H

#define CARDBENCH_EXIT_OK	0
#define CARDBENCH_EXIT_FAIL	1	/* bad signature, too many errors */
#define CARDBENCH_EXIT_USAGE	2	/* bad options, cannot start */
#define CARDBENCH_EXIT_DEADLINE	3	/* the hard deadline struck */

int	cardbench_selftest(void);

#endif
