// @xshm/framebus: a shared-memory ring of live frames that any process, in any language, reads.

export type { FourCC } from '@xshm/mit-shm/format';
export { FrameBusError, type FrameBusErrorCode } from './errors';
export { bytesPerPixel, isPixelFormat, PIXEL_FORMATS, type PixelFormat } from './format';
export { ringKey } from './name';
export type { EndReason, Frame, FrameReader, FrameView, RingEnd } from './reader';
export { reclaimAbandoned } from './reclaim';
export { type FrameInput, FrameRing, type RingAddress, type RingOptions, type SlotClaim } from './ring';
