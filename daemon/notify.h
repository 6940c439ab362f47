/* SPDX-License-Identifier: MIT */
/* The systemd notify protocol: READY, RELOADING, STOPPING, STATUS, WATCHDOG. */
#ifndef CARDD_NOTIFY_H
#define CARDD_NOTIFY_H

#include <stdint.h>

int	notify_init(void);
void	notify_send(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
uint64_t notify_watchdog_usec(void);
int	notify_active(void);

#endif
