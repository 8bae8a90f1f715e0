// @xshm/mit-shm: zero-copy MIT-SHM capture and put on the `x11` protocol client. The public surface.
/// <reference path="./x11.d.ts" preserve="true" />
export type { CaptureOptions, FramesOptions, StripsOptions } from './capture';
export { WindowNotViewableError } from './composite';
export {
  type ConnectOptions,
  connect,
  Display,
  type Monitor,
  type SegmentHandle,
  type ShmInfo,
  type TransportChoice,
} from './connect';
export { XConnectionError, XError } from './errors';
export {
  type ChannelOrder,
  type CursorImage,
  compositeCursor,
  fromRGBA,
  type ImageLayout,
  type PixelFormat,
  type RowPlacement,
  strideOf,
  toRGB,
  toRGBA,
} from './format';
export { Frame, type PutOptions, ShmImage, Strip } from './image';
export type { WindowInfo } from './toplevel';
export type { TransportName } from './transport/transport';
export { type KeyPress, type WindowOptions, XWindow, type XWindowEvents } from './window';
export { startXvfb, type Xvfb, type XvfbOptions } from './xvfb';
