/* SPDX-License-Identifier: MIT */
/*
 * Which card to ask for. Each load thread has its own xoshiro256**
 * generator (Blackman and Vigna), seeded from the run's seed and the
 * thread number through splitmix64, so a run is reproducible and the
 * threads share nothing.
 *
 * Zipf: rank k in 1..n is drawn with probability proportional to
 * 1/k^s by rejection-inversion (Hörmann and Derflinger, "Rejection-
 * inversion to generate variates from monotone discrete distributions",
 * 1996; the form of Apache Commons RNG's RejectionInversionZipfSampler):
 * O(1) memory and a few log/exp per draw, for any s > 0 and any n. Rank
 * k is then scattered over the card numbers by k-1 -> (k-1)*m mod n with
 * m coprime to n, so the hot cards are not neighbours in the data set.
 */
#include <math.h>

#include "cardbench_pick.h"

static uint64_t	cardbench_pick_splitmix(uint64_t *);
static double	cardbench_pick_h(const struct cardbench_pick *, double);
static double	cardbench_pick_hint(const struct cardbench_pick *, double);
static double	cardbench_pick_hint_inv(const struct cardbench_pick *, double);
static double	cardbench_pick_helper1(double);
static double	cardbench_pick_helper2(double);
static uint64_t	cardbench_pick_gcd(uint64_t, uint64_t);

/* splitmix64, to expand a seed into generator state. */
static uint64_t
cardbench_pick_splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Greatest common divisor. */
static uint64_t
cardbench_pick_gcd(uint64_t a, uint64_t b)
{
	while (b != 0) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* Seed a generator for n cards (n >= 1), uniform when zipf is 0. */
void
cardbench_pick_init(struct cardbench_pick *p, uint64_t seed, uint64_t n,
    double zipf)
{
	double h;

	for (int i = 0; i < 4; i++)
		p->s[i] = cardbench_pick_splitmix(&seed);
	p->n = n;
	p->zipf = zipf;
	/* A fixed odd constant, moved until it is coprime to n. */
	p->scatter = n > 1 ? 0x9e3779b97f4a7c15ull % n : 0;
	while (n > 1 &&
	    (p->scatter == 0 || cardbench_pick_gcd(p->scatter, n) != 1))
		p->scatter = (p->scatter + 1) % n;
	if (zipf <= 0)
		return;
	p->h_x1 = cardbench_pick_hint(p, 1.5) - 1.0;
	p->h_n = cardbench_pick_hint(p, (double)n + 0.5);
	h = cardbench_pick_hint(p, 2.5) - cardbench_pick_h(p, 2);
	p->squeeze = 2.0 - cardbench_pick_hint_inv(p, h);
}

/* xoshiro256**: the next 64 random bits. */
uint64_t
cardbench_pick_next(struct cardbench_pick *p)
{
	uint64_t *s = p->s, r = s[1] * 5, t = s[1] << 17;

	r = ((r << 7) | (r >> 57)) * 9;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = (s[3] << 45) | (s[3] >> 19);
	return r;
}

/* A uniform double in [0, 1). */
double
cardbench_pick_unit(struct cardbench_pick *p)
{
	return (double)(cardbench_pick_next(p) >> 11) * 0x1.0p-53;
}

/* A uniform integer in [0, n) (Lemire's multiply, bias below 2^-40). */
uint64_t
cardbench_pick_below(struct cardbench_pick *p, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)cardbench_pick_next(p) * n) >>
	    64);
}

/* h(x) = x^-s, the density being inverted. */
static double
cardbench_pick_h(const struct cardbench_pick *p, double x)
{
	return exp(-p->zipf * log(x));
}

/* H(x), an integral of h (with the constant chosen so s = 1 works). */
static double
cardbench_pick_hint(const struct cardbench_pick *p, double x)
{
	double lx = log(x);

	return cardbench_pick_helper2((1.0 - p->zipf) * lx) * lx;
}

/* The inverse of H. */
static double
cardbench_pick_hint_inv(const struct cardbench_pick *p, double x)
{
	double t = x * (1.0 - p->zipf);

	if (t < -1.0)
		t = -1.0;	/* rounding; the true value is above -1 */
	return exp(cardbench_pick_helper1(t) * x);
}

/* log(1 + x) / x, accurate near 0. */
static double
cardbench_pick_helper1(double x)
{
	if (fabs(x) > 1e-8)
		return log1p(x) / x;
	return 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}

/* (exp(x) - 1) / x, accurate near 0. */
static double
cardbench_pick_helper2(double x)
{
	if (fabs(x) > 1e-8)
		return expm1(x) / x;
	return 1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x));
}

/* A rank in 1..n: Zipf with exponent s, or uniform when s is 0. */
uint64_t
cardbench_pick_rank(struct cardbench_pick *p)
{
	double u, x, k;

	if (p->zipf <= 0)
		return cardbench_pick_below(p, p->n) + 1;
	for (;;) {
		u = p->h_n + cardbench_pick_unit(p) * (p->h_x1 - p->h_n);
		x = cardbench_pick_hint_inv(p, u);
		k = floor(x + 0.5);
		if (k < 1)
			k = 1;
		else if (k > (double)p->n)
			k = (double)p->n;
		if (k - x <= p->squeeze || u >= cardbench_pick_hint(p,
		    k + 0.5) - cardbench_pick_h(p, k))
			return (uint64_t)k;
	}
}

/* The card number of a rank (rank 1 is the hottest under Zipf). */
uint64_t
cardbench_pick_rank_card(const struct cardbench_pick *p, uint64_t rank)
{
	if (p->zipf <= 0)
		return rank - 1;
	return (uint64_t)(((unsigned __int128)(rank - 1) * p->scatter) % p->n);
}

/* The next card number, in [0, n). */
uint64_t
cardbench_pick_card(struct cardbench_pick *p)
{
	return cardbench_pick_rank_card(p, cardbench_pick_rank(p));
}
