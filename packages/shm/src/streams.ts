// Node streams over a segment, built on seg.read() and seg.write(). Read chunks are copies: a chunk
// handed downstream must not change under its reader, nor outlive the attachment.
import { Readable, Writable } from 'node:stream';
import type { Segment } from './segment';
import { checkInteger } from './validate';

const CHUNK = 64 * 1024; // fs streams' default

export interface ReadStreamOptions {
  /** First byte to read; 0 by default. */
  start?: number;
  /** Last byte to read, inclusive (as in fs.createReadStream); the segment's last by default. */
  end?: number;
  highWaterMark?: number;
}

export interface WriteStreamOptions {
  /** Where the first byte goes; 0 by default. */
  start?: number;
  highWaterMark?: number;
}

export class SegmentReadStream extends Readable {
  readonly #segment: Segment;
  #position: number;
  readonly #end: number; // exclusive

  constructor(
    segment: Segment,
    { start = 0, end = segment.size - 1, highWaterMark = CHUNK }: ReadStreamOptions,
  ) {
    super({ highWaterMark });
    this.#segment = segment;
    this.#position = checkInteger(start, 'start', 0, segment.size, 'the segment size');
    this.#end = Math.max(this.#position, checkInteger(end, 'end', -1, segment.size - 1, 'the last byte') + 1);
  }

  /** Bytes read so far. */
  get bytesRead(): number {
    return this.#position;
  }

  override _read(size: number): void {
    // With highWaterMark 0, Node asks for 0 bytes: that means "one chunk", not "the end".
    const count = Math.min(size > 0 ? size : CHUNK, this.#end - this.#position);
    if (count <= 0) {
      this.push(null);
      return;
    }
    try {
      const chunk = Buffer.allocUnsafe(count);
      this.#position += this.#segment.read(chunk, this.#position);
      this.push(chunk);
    } catch (error) {
      this.destroy(error as Error);
    }
  }
}

export class SegmentWriteStream extends Writable {
  readonly #segment: Segment;
  readonly #start: number;
  #position: number;

  constructor(segment: Segment, { start = 0, highWaterMark = CHUNK }: WriteStreamOptions) {
    super({ highWaterMark, decodeStrings: true });
    this.#segment = segment;
    this.#start = checkInteger(start, 'start', 0, segment.size, 'the segment size');
    this.#position = this.#start;
  }

  /** Bytes written so far. */
  get bytesWritten(): number {
    return this.#position - this.#start;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const room = this.#segment.size - this.#position;
    if (chunk.length > room) {
      const fit = this.#segment.size - this.#start;
      callback(
        new RangeError(
          `the data does not fit in segment ${this.#segment.id}: from start ${this.#start}, ${fit} bytes ` +
            `fit (it holds ${this.#segment.size}); ${this.bytesWritten} were written, the next ${chunk.length} were not`,
        ),
      );
      return;
    }
    try {
      this.#position += this.#segment.write(chunk, this.#position);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }
}
