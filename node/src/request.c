/*
 * request.c
 *		The node's one error-reply builder (see request.h); the rest of the
 *		request interface is the transport's (conn.c).
 */
#include "request.h"

#include <stdarg.h>
#include <stdio.h>

#include "node.h"

void
dyn_reply_error(dyn_node *node, dyn_buf *out, uint32_t reqid, dyn_error_code code,
				int replied, int needed, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	dyn_reply_verror(node, out, reqid, code, replied, needed, fmt, ap);
	va_end(ap);
}

void
dyn_reply_verror(dyn_node *node, dyn_buf *out, uint32_t reqid, dyn_error_code code,
				 int replied, int needed, const char *fmt, va_list ap)
{
	char		msg[512];
	dyn_error_msg err;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	node->stats.errors++;
	if (code == DYN_E_QUORUM)
		node->cluster.quorum_failures++;
	err.code = (uint16_t) code;
	err.replied = (uint8_t) (replied > 255 ? 255 : replied < 0 ? 0 : replied);
	err.needed = (uint8_t) (needed > 255 ? 255 : needed < 0 ? 0 : needed);
	err.message = dyn_slice_str(msg);
	dyn_error_encode(out, reqid, &err);
}
