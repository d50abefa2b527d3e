/*
 * log.h
 *		dynamod's log: one line per event on stderr, stamped with the time,
 *		the level and the node id.
 */
#ifndef DYNAMOD_LOG_H
#define DYNAMOD_LOG_H

typedef enum dyn_log_level
{
	DYN_LOG_DEBUG,
	DYN_LOG_INFO,
	DYN_LOG_WARNING,
	DYN_LOG_ERROR
} dyn_log_level;

/* Who is logging and from what level on; one per node process. */
typedef struct dyn_logger
{
	const char *node_id;
	dyn_log_level min_level;
} dyn_logger;

void		dyn_log(const dyn_logger *lg, dyn_log_level level, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

#endif							/* DYNAMOD_LOG_H */
