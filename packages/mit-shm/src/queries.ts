// Questions about windows (properties, the tree, titles, geometry): promise-based core requests whose
// failures are XError, for apps that must not speak the X protocol themselves.

import { checkId, checkInt } from './image';
import type { Session } from './session';

/** Core protocol values, written once. */
const ATOM_WM_NAME = 39;
const ANY_PROPERTY_TYPE = 0;
/** GetProperty length in 4-byte units by default: 256 KiB, more than any title or hint. */
const DEFAULT_LONG_LENGTH = 65536;
/** Titles longer than 4 KiB are cut: enough to show or match one. */
const TITLE_LONGS = 1024;

export interface PropertyValue {
  /** The property's type atom (0 when the window has no such property). */
  type: number;
  /** 8, 16 or 32 bits per element (0 when absent). */
  format: number;
  data: Buffer;
}

export interface WindowTree {
  root: number;
  /** 0 for the root window. */
  parent: number;
  /** Bottom to top in stacking order. */
  children: number[];
}

export interface WindowGeometry {
  /** The window's inside top-left corner in root coordinates. */
  x: number;
  y: number;
  width: number;
  height: number;
  depth: number;
  border: number;
}

async function atomOf(session: Session, property: number | string, where: string): Promise<number> {
  if (typeof property === 'string') {
    if (property.length === 0) throw new RangeError(`${where}: the property name is empty`);
    return session.wire.internAtom(property);
  }
  checkInt(where, 'property', property, 1, 0x1fffffff);
  return property;
}

export async function getProperty(
  session: Session,
  window: number,
  property: number | string,
  options: { type?: number; longLength?: number },
): Promise<PropertyValue> {
  const wire = session.wire;
  wire.ensureOpen('getProperty');
  checkId('getProperty', 'window', window);
  const type = options.type ?? ANY_PROPERTY_TYPE;
  checkInt('getProperty', 'type', type, 0, 0x1fffffff);
  const longLength = options.longLength ?? DEFAULT_LONG_LENGTH;
  checkInt('getProperty', 'longLength', longLength, 0, 0xffffffff);
  const atom = await atomOf(session, property, 'getProperty');
  const reply = await wire.call<{ type: number; format: number; data: Buffer }>(
    'GetProperty',
    (cb) => wire.client.GetProperty(0, window, atom, type, 0, longLength, cb),
    () => `window=0x${window.toString(16)} property=${String(property)}`,
  );
  return { type: reply.type, format: reply.format, data: reply.data };
}

export function queryTree(session: Session, window: number): Promise<WindowTree> {
  const wire = session.wire;
  wire.ensureOpen('queryTree');
  checkId('queryTree', 'window', window);
  return wire.call<WindowTree>(
    'QueryTree',
    (cb) => wire.client.QueryTree(window, cb),
    () => `window=0x${window.toString(16)}`,
  );
}

export async function windowTitle(session: Session, window: number): Promise<string> {
  const wire = session.wire;
  wire.ensureOpen('windowTitle');
  checkId('windowTitle', 'window', window);
  const netWmName = await wire.internAtom('_NET_WM_NAME');
  // Both at once: one round trip, not two, for a window with only WM_NAME.
  const [utf8, legacy] = await Promise.all(
    [netWmName, ATOM_WM_NAME].map((property) =>
      getProperty(session, window, property, { longLength: TITLE_LONGS }),
    ),
  );
  if (utf8!.data.length > 0) return utf8!.data.toString('utf8');
  return decodeText(legacy!.data);
}

const strictUTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * WM_NAME is Latin-1 by the rules, but many clients (ImageMagick `display` among them) store UTF-8 bytes
 * there: text that is valid UTF-8 is read as UTF-8 (Latin-1 text with accents almost never is).
 */
function decodeText(data: Buffer): string {
  try {
    return strictUTF8.decode(data);
  } catch {
    return data.toString('latin1');
  }
}

export async function windowGeometry(session: Session, window: number): Promise<WindowGeometry> {
  const wire = session.wire;
  wire.ensureOpen('windowGeometry');
  checkId('windowGeometry', 'window', window);
  const [geometry, origin] = await Promise.all([
    wire.geometry(window),
    wire.call<{ destX: number; destY: number }>(
      'TranslateCoordinates',
      (cb) => wire.client.TranslateCoordinates(window, session.root, 0, 0, cb),
      () => `window=0x${window.toString(16)}`,
    ),
  ]);
  return {
    x: origin.destX,
    y: origin.destY,
    width: geometry.width,
    height: geometry.height,
    depth: geometry.depth,
    border: geometry.borderWidth,
  };
}
