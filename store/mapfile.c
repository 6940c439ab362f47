/* SPDX-License-Identifier: MIT */
/*
 * A whole file mapped read-only, for the loaders (CSV, snapshot): no copy
 * of hundreds of MB, and the kernel reads ahead (MADV_SEQUENTIAL).
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mapfile.h"

/* Map path; an empty file gives data NULL and len 0. */
int
mapfile_open(const char *path, struct mapfile *m, char *err, size_t errlen)
{
	struct stat st;
	void *p;
	int fd;

	m->data = NULL;
	m->len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (st.st_size == 0) {
		close(fd);
		return 0;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
	m->data = p;
	m->len = (size_t)st.st_size;
	return 0;
}

/* Unmap. */
void
mapfile_close(struct mapfile *m)
{
	if (m->data != NULL)
		munmap((void *)(uintptr_t)m->data, m->len);
	m->data = NULL;
	m->len = 0;
}
