/* SPDX-License-Identifier: MIT */
/* cardbench card choice: a seeded PRNG, uniform or Zipf over N cards. */
#ifndef CARDBENCH_PICK_H
#define CARDBENCH_PICK_H

#include <stdint.h>

struct cardbench_pick {
	uint64_t	s[4];		/* xoshiro256** state */
	uint64_t	n;		/* cards 0 .. n-1 */
	double		zipf;		/* exponent; 0 = uniform */
	double		h_x1;		/* rejection-inversion constants */
	double		h_n;
	double		squeeze;
	uint64_t	scatter;	/* rank -> card: times this mod n */
};

void		cardbench_pick_init(struct cardbench_pick *, uint64_t seed,
		    uint64_t n, double zipf);
uint64_t	cardbench_pick_next(struct cardbench_pick *);
double		cardbench_pick_unit(struct cardbench_pick *);
uint64_t	cardbench_pick_below(struct cardbench_pick *, uint64_t n);
uint64_t	cardbench_pick_rank(struct cardbench_pick *);
uint64_t	cardbench_pick_card(struct cardbench_pick *);
uint64_t	cardbench_pick_rank_card(const struct cardbench_pick *,
		    uint64_t rank);

#endif
