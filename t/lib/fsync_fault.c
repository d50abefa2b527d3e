/*
 * fsync_fault.c
 *		LD_PRELOAD shim for TAP tests: fsync and fdatasync fail with EIO
 *		while the file named by DYNAMO_FSYNC_FAULT exists, as a disk that
 *		fails under the node would.  Otherwise they are the real calls.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static int	faulty(void);

static int
faulty(void)
{
	const char *path = getenv("DYNAMO_FSYNC_FAULT");

	return path != NULL && access(path, F_OK) == 0;
}

int
fsync(int fd)
{
	static int (*real) (int);

	if (faulty())
	{
		errno = EIO;
		return -1;
	}
	if (real == NULL)
		real = (int (*) (int)) dlsym(RTLD_NEXT, "fsync");
	return real(fd);
}

int
fdatasync(int fd)
{
	static int (*real) (int);

	if (faulty())
	{
		errno = EIO;
		return -1;
	}
	if (real == NULL)
		real = (int (*) (int)) dlsym(RTLD_NEXT, "fdatasync");
	return real(fd);
}
