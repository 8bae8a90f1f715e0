// @xshm/mit-shm: zero-copy MIT-SHM capture and put on the `x11` protocol client. The public surface.
export type { CaptureOptions, FramesOptions, StripsOptions } from './capture';
export type { ChangeWatch, Rect, WatchOptions } from './changes';
export { WindowNotViewableError } from './composite';
export { type ConnectOptions, connect, type TransportChoice } from './connect';
export { type CursorShape, cursorShape, watchCursor } from './cursor';
export { Display, type Monitor, type SegmentHandle, type ShmInfo } from './display';
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
export { Input, Keymap, type KeyPosition, keysymOf, openInput, readKeymap } from './input';
export type { PropertyValue, WindowGeometry, WindowTree } from './queries';
export { Clipboard, MAX_CLIPBOARD_BYTES, openClipboard } from './selection';
export type { WindowInfo } from './toplevel';
export type { TransportName } from './transport/transport';
export {
  type KeyPress,
  type PointerEvent,
  type WindowOptions,
  XWindow,
  type XWindowEvents,
} from './window';
export { startXvfb, type Xvfb, type XvfbOptions } from './xvfb';
