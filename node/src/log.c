/*
 * log.c
 *		One line per event on stderr (see log.h).
 *
 * The line is formatted whole and written with a single write(2) so that
 * lines from several nodes sharing a terminal or a log file never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

/* Format "2026-11-25T18:45:06.123Z dynamod[n1] INFO: message\n" and write it. */
void
dyn_log(const dyn_logger *lg, dyn_log_level level, const char *fmt,...)
{
	char		line[1024];
	struct timeval tv;
	struct tm	tm;
	size_t		n;
	va_list		ap;
	int			w;

	if (level < lg->min_level)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	w = snprintf(line + n, sizeof(line) - n, ".%03dZ dynamod[%s] %s: ",
				 (int) (tv.tv_usec / 1000), lg->node_id, level_names[level]);
	n += (size_t) w;
	va_start(ap, fmt);
	w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	n = (w < 0 || (size_t) w >= sizeof(line) - n) ? sizeof(line) - 2 : n + (size_t) w;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return;					/* nowhere left to report it */
}
