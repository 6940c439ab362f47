/* SPDX-License-Identifier: MIT */
/*
 * The snapshot of the index (README.md, Sources), so that a restarted daemon
 * answers at once, even while Redis is away. Layout, little-endian:
 *
 *    0  "CARDSNAP"            8  u32 version (1)     12  u32 0
 *   16  u64 cards            24  i64 synced_at_ms
 *   32  u64 cursor ms        40  u64 cursor seq
 *   48  u64 stream entries up to the cursor         56  char run_id[40]
 *   96  u64 payload bytes   104  payload: the cards' encoded records
 *                                (record.c), back to back
 *  end  16 bytes: XXH3-128 of everything before it
 *
 * It is written to a temporary file, flushed, fsynced and renamed over
 * the old one (then the folder is fsynced), so a crash leaves either the
 * old snapshot or the new one. Loading checks the size, the checksum and
 * every record, and refuses the file with a clear error otherwise.
 *
 * Saving runs in a child forked from a threaded process (sync_redis.c),
 * where only async-signal-safe calls are sure to work: a lock another
 * thread held at the fork stays held. So the writer allocates nothing,
 * no stdio, no malloc: a buffer and the checksum state of its own, and
 * write(2).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY		/* XXH3_state_t on the stack */
#include <xxhash.h>

#include "index.h"
#include "mapfile.h"
#include "record.h"
#include "snapshot.h"

#define SNAP_MAGIC	"CARDSNAP"
#define SNAP_VERSION	1
#define SNAP_HEADER	104
#define SNAP_SUM	16
#define SNAP_BUF	65536

struct snap_writer {
	int		 fd;
	int		 failed;
	XXH3_state_t	 sum;
	size_t		 used;
	uint8_t		 buf[SNAP_BUF];
};

static void	snap_put64(uint8_t *, uint64_t);
static uint64_t	snap_get64(const uint8_t *);
static void	snap_write(struct snap_writer *, const void *, size_t);
static void	snap_flush(struct snap_writer *);
static void	snap_write_record(const uint8_t *, void *);
static size_t	snap_payload_len(const struct index *);
static void	snap_count_record(const uint8_t *, void *);
static int	snap_sync_dir(const char *);

/* Store a u64 little-endian. */
static void
snap_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Load a u64 little-endian. */
static uint64_t
snap_get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Buffer bytes and add them to the checksum. */
static void
snap_write(struct snap_writer *w, const void *p, size_t len)
{
	const uint8_t *b = p;

	XXH3_128bits_update(&w->sum, p, len);
	while (len > 0 && !w->failed) {
		size_t n = SNAP_BUF - w->used < len ? SNAP_BUF - w->used : len;

		memcpy(w->buf + w->used, b, n);
		w->used += n;
		b += n;
		len -= n;
		if (w->used == SNAP_BUF)
			snap_flush(w);
	}
}

/* Write out what the buffer holds. */
static void
snap_flush(struct snap_writer *w)
{
	size_t off = 0;

	while (off < w->used && !w->failed) {
		ssize_t n = write(w->fd, w->buf + off, w->used - off);

		if (n > 0)
			off += (size_t)n;
		else if (n == 0 || errno != EINTR) {
			if (n == 0)
				errno = EIO;	/* no progress: do not spin */
			w->failed = 1;
		}
	}
	w->used = 0;
}

/* index_foreach callback: write one record. */
static void
snap_write_record(const uint8_t *rec, void *arg)
{
	snap_write(arg, rec, record_size(rec));
}

/* index_foreach callback: add one record's size. */
static void
snap_count_record(const uint8_t *rec, void *arg)
{
	*(size_t *)arg += record_size(rec);
}

/* Bytes of all records. */
static size_t
snap_payload_len(const struct index *idx)
{
	size_t n = 0;

	index_foreach(idx, snap_count_record, &n);
	return n;
}

/* fsync the folder holding path, so the rename is durable. */
static int
snap_sync_dir(const char *path)
{
	char copy[PATH_MAX];
	int fd, rc;

	snprintf(copy, sizeof(copy), "%s", path);
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* Write the snapshot atomically. The caller keeps idx from changing. */
int
snapshot_save(const char *path, const struct index *idx,
    const struct snapshot_meta *m, char *err, size_t errlen)
{
	struct snap_writer w;
	uint8_t head[SNAP_HEADER] = { 0 }, sum[SNAP_SUM];
	XXH128_canonical_t canon;
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	w.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (w.fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	w.failed = 0;
	w.used = 0;
	XXH3_128bits_reset(&w.sum);
	memcpy(head, SNAP_MAGIC, 8);
	head[8] = SNAP_VERSION;
	snap_put64(head + 16, index_count(idx));
	snap_put64(head + 24, (uint64_t)m->synced_at_ms);
	snap_put64(head + 32, m->cursor_ms);
	snap_put64(head + 40, m->cursor_seq);
	snap_put64(head + 48, m->cursor_count);
	memcpy(head + 56, m->run_id, strnlen(m->run_id, 40));
	snap_put64(head + 96, snap_payload_len(idx));
	snap_write(&w, head, sizeof(head));
	index_foreach(idx, snap_write_record, &w);
	XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(&w.sum));
	memcpy(sum, canon.digest, sizeof(sum));
	if (SNAP_BUF - w.used < sizeof(sum))
		snap_flush(&w);
	memcpy(w.buf + w.used, sum, sizeof(sum));	/* not summed itself */
	w.used += sizeof(sum);
	snap_flush(&w);
	if (w.failed || fsync(w.fd) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		close(w.fd);
		unlink(tmp);
		return -1;
	}
	if (close(w.fd) != 0 || rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	snap_sync_dir(path);
	return 0;
}

/* Build an index from snapshot bytes, checking everything. */
struct index *
snapshot_parse(const uint8_t *data, size_t len, uint64_t seed,
    struct snapshot_meta *m, char *err, size_t errlen)
{
	XXH128_canonical_t canon;
	struct index *idx;
	const uint8_t *p, *end;
	uint64_t payload, records = 0;

	if (len < SNAP_HEADER + SNAP_SUM || memcmp(data, SNAP_MAGIC, 8) != 0) {
		snprintf(err, errlen, "not a cardd snapshot (or truncated)");
		return NULL;
	}
	if (data[8] != SNAP_VERSION || data[9] || data[10] || data[11]) {
		snprintf(err, errlen, "snapshot version %u is not supported",
		    (unsigned)data[8]);
		return NULL;
	}
	payload = snap_get64(data + 96);
	if (payload != len - SNAP_HEADER - SNAP_SUM) {
		snprintf(err, errlen, "snapshot truncated or extended: "
		    "%zu bytes, header says %llu", len, (unsigned long long)
		    (payload + SNAP_HEADER + SNAP_SUM));
		return NULL;
	}
	XXH128_canonicalFromHash(&canon, XXH3_128bits(data, len - SNAP_SUM));
	if (memcmp(canon.digest, data + len - SNAP_SUM, SNAP_SUM) != 0) {
		snprintf(err, errlen, "snapshot checksum mismatch (corrupted)");
		return NULL;
	}
	m->count = snap_get64(data + 16);
	m->invalid = 0;
	m->synced_at_ms = (int64_t)snap_get64(data + 24);
	m->cursor_ms = snap_get64(data + 32);
	m->cursor_seq = snap_get64(data + 40);
	m->cursor_count = snap_get64(data + 48);
	memcpy(m->run_id, data + 56, 40);
	m->run_id[40] = '\0';
	if ((idx = index_new(m->count < payload ? m->count : payload, seed))
	    == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (p = data + SNAP_HEADER, end = p + payload; p < end;) {
		size_t n = record_check_encoding(p, (size_t)(end - p));

		if (n > 0) {
			m->invalid += (p[0] & CARD_INVALID) != 0;
			if (index_put_record(idx, p, n) != 0)
				n = 0;
		}
		if (n == 0) {
			snprintf(err, errlen, "snapshot record at byte %zu is "
			    "malformed", (size_t)(p - data));
			index_free(idx);
			return NULL;
		}
		p += n;
		records++;
	}
	/* As many records as the header says, each card once. */
	if (records != m->count || index_count(idx) != m->count) {
		snprintf(err, errlen, "snapshot holds %llu records of %zu cards, "
		    "header says %llu", (unsigned long long)records,
		    index_count(idx), (unsigned long long)m->count);
		index_free(idx);
		return NULL;
	}
	index_trim(idx);
	return idx;
}

/* Load a snapshot file. */
struct index *
snapshot_load(const char *path, uint64_t seed, struct snapshot_meta *m,
    char *err, size_t errlen)
{
	struct mapfile f;
	struct index *idx;
	char why[256];

	if (mapfile_open(path, &f, err, errlen) != 0)
		return NULL;
	if (f.len == 0) {
		snprintf(err, errlen, "%s: empty snapshot (truncated)", path);
		return NULL;
	}
	idx = snapshot_parse(f.data, f.len, seed, m, why, sizeof(why));
	mapfile_close(&f);
	if (idx == NULL)
		snprintf(err, errlen, "%s: %s", path, why);
	return idx;
}
