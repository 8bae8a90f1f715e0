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
 * Reading the newest frame (a seqlock; the producer never waits for readers):
 *   1. i = load_acquire(header->latest); if i == FRAMEBUS_NO_FRAME there is none yet.
 *   2. s1 = load_acquire(slots[i].seq); if s1 is odd or 0, start again.
 *   3. copy the descriptor fields and the payload out (or use them in place).
 *   4. acquire fence; s2 = load(slots[i].seq); if s2 != s1 the producer reused the slot
 *      meanwhile: discard what you read and start again.
 * Waiting for the next frame: futex(&header->sequence, FUTEX_WAIT, seen, timeout) (a
 * shared futex, no FUTEX_PRIVATE_FLAG); the producer bumps `sequence` and wakes after
 * every commit and once more on close. Or poll `sequence`.
 * The producer is gone when state == FRAMEBUS_STATE_CLOSED, when kill(producer_pid, 0)
 * fails with ESRCH, or when the segment is marked removed (IPC_STAT: SHM_DEST in mode).
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

static inline void *framebus_payload(void *segment, uint32_t slot) {
  const struct framebus_header *header = (const struct framebus_header *)segment;
  return (char *)segment + header->data_offset + (size_t)slot * header->slot_size;
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
