// @xshm/framebus: a shared-memory ring of live frames that any process, in any language, reads.
export { FrameBusError, type FrameBusErrorCode } from './errors';
export { bytesPerPixel, isPixelFormat, PIXEL_FORMATS, type PixelFormat } from './format';
export { ringKey } from './name';
