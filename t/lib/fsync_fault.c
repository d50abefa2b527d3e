/*
 * fsync_fault.c
 *		LD_PRELOAD shim for TAP tests (005): fsync and fdatasync fail with
 *		EIO while the file named by DYNAMO_FSYNC_FAULT exists, as a disk that
 *		fails under the node would; otherwise they are the real calls.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

typedef int (*sync_fn) (int);

int			fsync(int fd);
int			fdatasync(int fd);
static int	fail_or_call(sync_fn *real, const char *name, int fd);

int
fsync(int fd)
{
	static sync_fn real;

	return fail_or_call(&real, "fsync", fd);
}

int
fdatasync(int fd)
{
	static sync_fn real;

	return fail_or_call(&real, "fdatasync", fd);
}

/* EIO while the fault file exists, else the libc call (looked up once). */
static int
fail_or_call(sync_fn *real, const char *name, int fd)
{
	const char *path = getenv("DYNAMO_FSYNC_FAULT");

	if (path != NULL && access(path, F_OK) == 0)
	{
		errno = EIO;
		return -1;
	}
	if (*real == NULL)
		*real = (sync_fn) dlsym(RTLD_NEXT, name);
	return (*real) (fd);
}
