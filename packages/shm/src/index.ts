// @xshm/shm: System V shared memory (and memfd) for Node.js, zero-copy, through koffi over libc.
export { ShmError, type ShmErrorCode } from './errors';
export { PAGE_SIZE as pageSize } from './libc';
export { MAX_MAPPED_SIZE as maxMappedSize } from './mapping';
export { Memfd, type MemfdOptions } from './memfd';
export {
  Attachment,
  type AttachOptions,
  type CreateOptions,
  list,
  Segment,
  type SegmentInfo,
  shmmax,
} from './segment';
export type { ReadStreamOptions, SegmentReadStream, SegmentWriteStream, WriteStreamOptions } from './streams';
