/* SPDX-License-Identifier: MIT */
/* The RESP interface: Redis-protocol commands (protocol/PROTOCOL.md §6). */
#ifndef CARDD_RESP_CMD_H
#define CARDD_RESP_CMD_H

#include "net_tcp.h"

extern const struct conn_ops resp_cmd_ops;

#endif
