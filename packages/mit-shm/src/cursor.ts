// The pointer's shape as an image (XFIXES GetCursorImage), and a watch that reports each new shape
// (XFIXES CursorNotify), for viewers that draw the cursor themselves instead of baking it into frames.

import type { Display } from './display';
import { type Session, sessionOf } from './session';
import type { CursorImageReply, X11Event, XFixesExtension } from './x11-types';

/** XFIXES DisplayCursorNotifyMask. */
const DISPLAY_CURSOR_MASK = 1;

/** A cursor shape: straight (not premultiplied) RGBA pixels and the hotspot. */
export interface CursorShape {
  width: number;
  height: number;
  xhot: number;
  yhot: number;
  /** Changes with every new shape the server shows. */
  serial: number;
  /** width * height * 4 bytes, R G B A. */
  rgba: Buffer;
}

/** The current cursor shape (one round trip). Throws when the server lacks XFIXES. */
export async function cursorShape(display: Display): Promise<CursorShape> {
  const session = sessionOf(display);
  const fixes = await fixesOf(session);
  return shapeOf(session, fixes);
}

/**
 * Calls `listener` with the cursor's shape now and after every change of shape (not of position), until
 * the returned function is called. Throws when the server lacks XFIXES.
 */
export async function watchCursor(
  display: Display,
  listener: (shape: CursorShape) => void,
): Promise<() => void> {
  const session = sessionOf(display);
  const { wire } = session;
  const fixes = await fixesOf(session);
  let stopped = false;
  let lastSerial = -1;
  const refresh = async (): Promise<void> => {
    const shape = await shapeOf(session, fixes).catch(() => null);
    if (stopped || !shape || shape.serial === lastSerial) return;
    lastSerial = shape.serial;
    listener(shape);
  };
  const onEvent = (ev: X11Event): void => {
    if (ev.name === 'CursorNotify' && ev.type === fixes.firstEvent + 1) void refresh();
  };
  wire.client.on('event', onEvent);
  fixes.SelectCursorInput(session.root, DISPLAY_CURSOR_MASK);
  await refresh();
  return () => {
    if (stopped) return;
    stopped = true;
    wire.client.removeListener('event', onEvent);
    if (!wire.closed) fixes.SelectCursorInput(session.root, 0);
  };
}

async function fixesOf(session: Session): Promise<XFixesExtension> {
  session.wire.ensureOpen('cursor');
  const fixes = await session.wire.extension('fixes');
  if (!fixes)
    throw new Error(`cursor: ${session.name} has no XFIXES extension, which reports the cursor's shape`);
  return fixes;
}

async function shapeOf(session: Session, fixes: XFixesExtension): Promise<CursorShape> {
  const reply = await session.wire.call<CursorImageReply>('XFixesGetCursorImage', (cb) =>
    fixes.GetCursorImage(cb),
  );
  const count = reply.width * reply.height;
  const rgba = Buffer.allocUnsafe(count * 4);
  for (let i = 0; i < count; i++) {
    const argb = reply.cursorImage.readUInt32LE(i * 4);
    const a = argb >>> 24;
    // Premultiplied on the wire: divide back so the browser, which premultiplies itself, gets it right.
    const un = (c: number): number => (a === 0 ? 0 : Math.min(255, Math.round((c * 255) / a)));
    rgba[i * 4] = un((argb >>> 16) & 0xff);
    rgba[i * 4 + 1] = un((argb >>> 8) & 0xff);
    rgba[i * 4 + 2] = un(argb & 0xff);
    rgba[i * 4 + 3] = a;
  }
  return {
    width: reply.width,
    height: reply.height,
    xhot: reply.xhot,
    yhot: reply.yhot,
    serial: reply.cursorSerial,
    rgba,
  };
}
