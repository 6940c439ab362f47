/* SPDX-License-Identifier: MIT */
/* The RESP interface: Redis-protocol commands (DESIGN §5). */
#ifndef CARDD_RESP_CMD_H
#define CARDD_RESP_CMD_H

struct conn;

void	resp_cmd_input(struct conn *);

#endif
