// @xshm/framebus: a shared-memory ring of live frames that any process, in any language, reads.
export { FrameBusError, type FrameBusErrorCode } from './errors';
export { bytesPerPixel, isPixelFormat, PIXEL_FORMATS, type PixelFormat } from './format';
export type { FourCC } from '@xshm/mit-shm/format';
export { ringKey } from './name';
export { reclaimAbandoned } from './reclaim';
export type { EndReason, Frame, FrameReader, FrameView, RingEnd } from './reader';
export { type FrameInput, FrameRing, type RingAddress, type RingOptions, type SlotClaim } from './ring';
