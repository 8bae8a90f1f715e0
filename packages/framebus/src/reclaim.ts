// Rings nobody produces any more: a producer killed with -9 cannot remove its ring, and when no reader
// was attached to notice, nothing else would. Every FrameRing.create and FrameRing.open sweeps this
// user's segments for such rings first, and a new producer replaces a stale ring of its own key.
import { list, Segment } from '@xshm/shm';
import { FrameBusError } from './errors';
import { DATA_OFFSET, isPid, MAGIC, MAX_RING_SIZE, RingLayout, STATE_CLOSED } from './layout';
import { processExists } from './libc';

/**
 * Removes this user's abandoned rings: segments with the 'FBUS' magic that no process is attached to
 * and whose producer closed them or is dead. A live producer stays attached to its ring until it
 * removes it, so nattch 0 is the first sign; the producer pid is checked as well. Returns the ids
 * removed. Never throws: a segment that cannot be checked is left alone.
 */
export function reclaimAbandoned(): number[] {
  const uid = process.getuid?.();
  const removed: number[] = [];
  let candidates: ReturnType<typeof list>;
  try {
    candidates = list().filter(
      (info) =>
        info.uid === uid &&
        info.key !== 0 &&
        info.nattch === 0 &&
        !info.removed &&
        info.size >= DATA_OFFSET &&
        info.size <= MAX_RING_SIZE &&
        !processExists(info.cpid),
    );
  } catch {
    return removed;
  }
  for (const info of candidates) {
    try {
      const segment = Segment.open(info.id);
      if (!producerGone(segment) || segment.stat().nattch !== 0) continue;
      segment.destroy();
      removed.push(info.id);
    } catch {
      // Removed meanwhile by another process sweeping, or not ours after all.
    }
  }
  return removed;
}

/** Whether a segment holds a ring whose producer closed it or is gone; false for anything else. */
function producerGone(segment: Segment): boolean {
  const attachment = segment.attach({ readOnly: true });
  try {
    const layout = new RingLayout(attachment.buffer);
    if (layout.magic !== MAGIC) return false;
    const pid = layout.producerPid;
    return layout.state === STATE_CLOSED || !isPid(pid) || !processExists(pid);
  } finally {
    attachment.detach();
  }
}

/** EFORMAT for a segment too large to be a ring (another program's): attaching it would be refused. */
export function tooLargeToMap(segment: Segment, what: string): FrameBusError | null {
  if (segment.size <= MAX_RING_SIZE) return null;
  return new FrameBusError(
    'EFORMAT',
    `${what}: segment ${segment.id} with that key is ${segment.size} bytes, more than any ring ` +
      `(at most ${MAX_RING_SIZE}); another program owns it — pick another name or key (ipcs -m lists it)`,
  );
}

/**
 * A segment already holds this key. Remove it when it is a ring nobody produces any more
 * (its producer closed it or died); refuse a live ring and anything that is not a ring.
 */
export function reclaimStale(key: number, what: string): void {
  const segment = Segment.open({ key });
  const tooLarge = tooLargeToMap(segment, what);
  if (tooLarge) throw tooLarge;
  const info = segment.stat();
  const attachment = segment.attach({ readOnly: true });
  let producerPid: number;
  let magic: number;
  let closed: boolean;
  try {
    const layout = new RingLayout(attachment.buffer);
    magic = attachment.buffer.length >= DATA_OFFSET ? layout.magic : -1;
    producerPid = magic === MAGIC ? layout.producerPid : info.cpid;
    closed = magic === MAGIC && layout.state === STATE_CLOSED;
  } finally {
    attachment.detach();
  }
  if (magic !== MAGIC && magic !== 0) {
    throw new FrameBusError(
      'EFORMAT',
      `${what}: segment ${segment.id} with that key is not a frame ring; another program owns it — pick another name or key (ipcs -m lists it)`,
    );
  }
  if (magic !== MAGIC && processExists(producerPid)) {
    throw new FrameBusError(
      'EBUSY',
      `${what}: segment ${segment.id} with that key holds no ring header yet and its creator (pid ${producerPid}) lives: ` +
        'either a producer is starting right now, or another program owns the key — retry, or pick another name',
    );
  }
  // A producer_pid that cannot be a pid is a corrupt header: that ring is nobody's.
  if (!closed && isPid(producerPid) && processExists(producerPid)) {
    throw new FrameBusError(
      'EBUSY',
      `${what} is already produced by pid ${producerPid}: stop that producer or pick another name`,
    );
  }
  segment.destroy();
}
