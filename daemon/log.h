/* SPDX-License-Identifier: MIT */
/* One line per event on stderr, level and key=value fields, for journald. */
#ifndef CARDD_LOG_H
#define CARDD_LOG_H

#include <stddef.h>

enum log_level { LOGL_ERROR, LOGL_WARN, LOGL_INFO, LOGL_DEBUG };

void	log_init(int level);
void	log_set_level(int level);
int	log_level_lookup(const char *);
void	log_msg(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_msg_errno(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
const char *log_id_tag(const char *id, size_t len, char out[17]);

#define log_error(...)	log_msg(LOGL_ERROR, __VA_ARGS__)
/* As OpenSMTPD's: log_warn adds error="strerror(errno)", log_warnx not. */
#define log_warn(...)	log_msg_errno(LOGL_WARN, __VA_ARGS__)
#define log_warnx(...)	log_msg(LOGL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOGL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOGL_DEBUG, __VA_ARGS__)

#endif
