/*
 * framebus.h: the byte layout of an @xshm/framebus frame ring, version 1, for readers
 * (and producers) written in C or anything that can call C. Mirrors src/layout.ts and the
 * README's "Layout" section; include it and attach the segment with shmat().
 *
 * One SysV shared-memory segment, little-endian:
 *   [0, 64)                       struct framebus_header
 *   [64, 64 + 64 * slot_count)    struct framebus_slot, one per slot
 *   data_offset + i * slot_size   slot i's pixels (data_offset = 4096; slot_size is a
 *                                 multiple of 4096, so every payload is page-aligned)
 *
 * Opening a ring (the segment's bytes can be written by its producer, by a buggy or hostile process
 * with write access, or by the X server on behalf of any client of the display, so trust nothing):
 *   1. attach it (SHM_RDONLY is enough) and read its size with IPC_STAT (shm_segsz);
 *   2. copy the header out, and check the copy with framebus_check_header(): magic, version,
 *      data_offset, slot_count, format, width, height, stride, slot_size, that the slots end
 *      inside the segment, state and producer_pid. Keep the checked copy and use only it for the
 *      geometry (slot_count, slot_size, width, height, stride, format): never re-read them.
 * Reading the newest frame (a seqlock; the producer never waits for readers):
 *   1. i = load_acquire(header->latest); if i == FRAMEBUS_NO_FRAME there is none yet;
 *      framebus_check_latest(): i must be below the checked slot_count, else the ring is corrupt.
 *   2. s1 = load_acquire(slots[i].seq); if s1 is odd or 0, start again, a bounded number of
 *      times (a seq that stays odd is a producer that died mid-write, or corruption).
 *   3. copy the descriptor out; framebus_check_slot() against the checked header (format, width,
 *      height, stride, bytes equal the ring's); copy the payload from
 *      framebus_payload(segment, &checked, i), checked.stride * checked.height bytes.
 *   4. acquire fence; s2 = load(slots[i].seq); if s2 != s1 the producer reused the slot
 *      meanwhile: discard what you read and start again. A descriptor that failed its check while
 *      s2 == s1 is a corrupt ring, not a torn read.
 * Waiting for the next frame: futex(&header->sequence, FUTEX_WAIT, seen, timeout) (a
 * shared futex, no FUTEX_PRIVATE_FLAG); the producer bumps `sequence` and wakes after
 * every commit and once more on close. Or poll `sequence`.
 * The producer is gone when state == FRAMEBUS_STATE_CLOSED, when kill(producer_pid, 0)
 * fails with ESRCH, or when the segment is marked removed (IPC_STAT: SHM_DEST in mode).
 * Check state and producer_pid each time with framebus_check_liveness() first: kill() of a
 * producer_pid past INT_MAX is not a question about one process.
 */
#ifndef FRAMEBUS_H
#define FRAMEBUS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ipc.h> /* key_t */

#define FRAMEBUS_MAGIC 0x53554246u /* the bytes 'F' 'B' 'U' 'S' */
#define FRAMEBUS_VERSION 1u
#define FRAMEBUS_DATA_OFFSET 4096u
#define FRAMEBUS_SLOT_TABLE_OFFSET 64u
#define FRAMEBUS_MIN_SLOTS 2u
#define FRAMEBUS_MAX_SLOTS 63u
#define FRAMEBUS_NO_FRAME 0xffffffffu
#define FRAMEBUS_STATE_LIVE 0u
#define FRAMEBUS_STATE_CLOSED 1u
#define FRAMEBUS_MAX_DIMENSION 32767u /* width and height: X11's coordinate limit */
#define FRAMEBUS_MAX_PID 4194304u     /* PID_MAX_LIMIT on 64-bit Linux */
#define FRAMEBUS_LAYOUT_UNIT 4096u    /* data_offset, and slot_size is a multiple of it */

/* Pixel format codes: the four ASCII bytes, little-endian (the bytes in memory spell the code).
 * BGRX BGRA RGBX RGBA name bytes in memory order, 4 bytes a pixel; RG16 is RGB 5:6:5 in a
 * little-endian u16. Rows are padded to 4 bytes (stride). */
#define FRAMEBUS_FOURCC(a, b, c, d) \
  ((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))
#define FRAMEBUS_FORMAT_BGRX FRAMEBUS_FOURCC('B', 'G', 'R', 'X')
#define FRAMEBUS_FORMAT_BGRA FRAMEBUS_FOURCC('B', 'G', 'R', 'A')
#define FRAMEBUS_FORMAT_RGBX FRAMEBUS_FOURCC('R', 'G', 'B', 'X')
#define FRAMEBUS_FORMAT_RGBA FRAMEBUS_FOURCC('R', 'G', 'B', 'A')
#define FRAMEBUS_FORMAT_RG16 FRAMEBUS_FOURCC('R', 'G', '1', '6')

struct framebus_header {
  uint32_t magic;        /* FRAMEBUS_MAGIC */
  uint32_t version;      /* FRAMEBUS_VERSION */
  uint32_t data_offset;  /* offset of slot 0's payload: 4096 */
  uint32_t slot_count;   /* 2..63 */
  uint64_t slot_size;    /* bytes between payloads, a multiple of 4096 */
  uint32_t width;        /* the ring's frame size, fixed when it was created */
  uint32_t height;
  uint32_t stride;       /* bytes per row: width * bytes per pixel, rounded up to 4 */
  uint32_t format;       /* FRAMEBUS_FORMAT_* */
  uint32_t producer_pid;
  uint32_t state;        /* FRAMEBUS_STATE_LIVE or FRAMEBUS_STATE_CLOSED */
  uint32_t sequence;     /* futex word: frames committed mod 2^32, bumped again on close */
  uint32_t latest;       /* slot of the newest committed frame, or FRAMEBUS_NO_FRAME */
  uint32_t reserved[2];
};

struct framebus_slot {
  uint32_t seq;          /* seqlock: odd while written, even when stable, 0 never written */
  uint32_t format;       /* FRAMEBUS_FORMAT_* */
  uint64_t frame;        /* frame number, 1 for the ring's first frame */
  uint64_t timestamp_ns; /* CLOCK_MONOTONIC at commit */
  uint32_t width;
  uint32_t height;
  uint32_t stride;
  uint32_t bytes;        /* payload length: stride * height */
  uint32_t reserved[6];
};

_Static_assert(sizeof(struct framebus_header) == 64, "framebus_header is 64 bytes");
_Static_assert(sizeof(struct framebus_slot) == 64, "framebus_slot is 64 bytes");
_Static_assert(offsetof(struct framebus_header, sequence) == 48, "sequence at 48");
_Static_assert(offsetof(struct framebus_slot, timestamp_ns) == 16, "timestamp_ns at 16");

static inline struct framebus_slot *framebus_slots(void *segment) {
  return (struct framebus_slot *)((char *)segment + FRAMEBUS_SLOT_TABLE_OFFSET);
}

/* Bytes per pixel of a format code; 0 for a code this version does not know. */
static inline uint32_t framebus_bytes_per_pixel(uint32_t format) {
  switch (format) {
  case FRAMEBUS_FORMAT_BGRX:
  case FRAMEBUS_FORMAT_BGRA:
  case FRAMEBUS_FORMAT_RGBX:
  case FRAMEBUS_FORMAT_RGBA:
    return 4;
  case FRAMEBUS_FORMAT_RG16:
    return 2;
  default:
    return 0;
  }
}

/* state and producer_pid: NULL when plausible, else what is wrong. */
static inline const char *framebus_check_liveness(uint32_t state, uint32_t producer_pid) {
  if (state != FRAMEBUS_STATE_LIVE && state != FRAMEBUS_STATE_CLOSED) return "state is not 0 or 1";
  if (producer_pid < 1 || producer_pid > FRAMEBUS_MAX_PID) return "producer_pid is not a process id";
  return NULL;
}

/* A copy of the header, checked against the segment's size (IPC_STAT shm_segsz): NULL when it is
 * a version-1 ring whose slots all lie inside the segment, else what is wrong. The magic and
 * version are checked first: a segment that fails those is not a ring at all. */
static inline const char *framebus_check_header(const struct framebus_header *h, uint64_t segment_size) {
  if (segment_size < FRAMEBUS_DATA_OFFSET || h->magic != FRAMEBUS_MAGIC) return "not a frame ring (no magic)";
  if (h->version != FRAMEBUS_VERSION) return "another layout version";
  if (h->data_offset != FRAMEBUS_DATA_OFFSET) return "data_offset is not 4096";
  if (h->slot_count < FRAMEBUS_MIN_SLOTS || h->slot_count > FRAMEBUS_MAX_SLOTS) return "slot_count is not 2..63";
  uint32_t bpp = framebus_bytes_per_pixel(h->format);
  if (bpp == 0) return "format is not a known code";
  if (h->width < 1 || h->width > FRAMEBUS_MAX_DIMENSION) return "width is not 1..32767";
  if (h->height < 1 || h->height > FRAMEBUS_MAX_DIMENSION) return "height is not 1..32767";
  if (h->stride != (h->width * bpp + 3u) / 4u * 4u) return "stride is not width * bytes per pixel, rounded up to 4";
  uint64_t frame_bytes = (uint64_t)h->stride * h->height; /* < 2^32: both sides are bounded above */
  if (h->slot_size < frame_bytes || h->slot_size % FRAMEBUS_LAYOUT_UNIT != 0) return "slot_size is wrong";
  /* slot_size < 2^64 / 63 keeps the product below from wrapping. */
  if (h->slot_size > (UINT64_MAX - FRAMEBUS_DATA_OFFSET) / FRAMEBUS_MAX_SLOTS ||
      FRAMEBUS_DATA_OFFSET + (uint64_t)h->slot_count * h->slot_size > segment_size)
    return "the slots end past the end of the segment";
  return framebus_check_liveness(h->state, h->producer_pid);
}

/* The latest slot index, against the checked header: NULL when it may be read. */
static inline const char *framebus_check_latest(const struct framebus_header *checked, uint32_t latest) {
  if (latest != FRAMEBUS_NO_FRAME && latest >= checked->slot_count) return "latest is not below slot_count";
  return NULL;
}

/* A copy of a slot descriptor, against the checked header: in version 1 every frame has the ring's
 * own format, size and stride. NULL when it matches. */
static inline const char *framebus_check_slot(const struct framebus_header *checked, const struct framebus_slot *s) {
  if (s->format != checked->format) return "slot format is not the ring's";
  if (s->width != checked->width || s->height != checked->height) return "slot size is not the ring's";
  if (s->stride != checked->stride) return "slot stride is not the ring's";
  if (s->bytes != checked->stride * checked->height) return "slot bytes is not stride * height";
  return NULL;
}

/* Slot `slot`'s pixels, from the checked copy of the header (never from the live one). */
static inline void *framebus_payload(void *segment, const struct framebus_header *checked, uint32_t slot) {
  return (char *)segment + FRAMEBUS_DATA_OFFSET + (size_t)slot * checked->slot_size;
}

/* The SysV key of a ring name: FNV-1a 32-bit over "framebus:" followed by the name's UTF-8
 * bytes, top bit cleared, 0 mapped to 1. framebus_key("desktop") == 0x62de602e. */
static inline key_t framebus_key(const char *name) {
  uint32_t hash = 0x811c9dc5u;
  const char *prefix = "framebus:";
  for (const unsigned char *p = (const unsigned char *)prefix; *p; p++) hash = (hash ^ *p) * 0x01000193u;
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) hash = (hash ^ *p) * 0x01000193u;
  hash &= 0x7fffffffu;
  return (key_t)(hash ? hash : 1u);
}

#endif /* FRAMEBUS_H */
