/* SPDX-License-Identifier: MIT */
/*
 * The systemd notify protocol, spoken directly: one datagram per message
 * to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or an abstract
 * name when it starts with '@'), as sd_notify(3) documents. Without that
 * variable every call does nothing, so cardd runs the same by hand.
 * $WATCHDOG_USEC (and $WATCHDOG_PID, when set, naming us) asks for
 * WATCHDOG=1 pings; main.c sends them.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "notify.h"

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_len;
static uint64_t notify_wd_usec;

/* Read the environment systemd gives a Type=notify service. */
int
notify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET"), *wd, *pid;
	size_t n;

	wd = getenv("WATCHDOG_USEC");
	pid = getenv("WATCHDOG_PID");
	if (wd != NULL && (pid == NULL || atol(pid) == (long)getpid()))
		notify_wd_usec = strtoull(wd, NULL, 10);
	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return 0;
	n = strlen(path);
	if (n >= sizeof(notify_addr.sun_path))
		return -1;
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, path, n);
	if (path[0] == '@')
		notify_addr.sun_path[0] = '\0';
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return notify_fd < 0 ? -1 : 0;
}

/* Send one message ("READY=1\nSTATUS=..."); failures are not fatal. */
void
notify_send(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	if (notify_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(msg))
		(void)!sendto(notify_fd, msg, (size_t)n, MSG_NOSIGNAL,
		    (struct sockaddr *)&notify_addr, notify_len);
}

/* The watchdog interval systemd asked for (0: none). */
uint64_t
notify_watchdog_usec(void)
{
	return notify_wd_usec;
}

/* Is systemd listening (NOTIFY_SOCKET)? */
int
notify_active(void)
{
	return notify_fd >= 0;
}
