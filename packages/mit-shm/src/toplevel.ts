// display.windows(): the top-level windows as a user sees them, with their titles, classes, pids and
// places on the root. With a window manager that is its _NET_CLIENT_LIST (the application windows, not the
// frames it wraps them in); without one, the root's mapped children.

import type { X11Client } from 'x11';
import type { Display } from './connect';
import { XError } from './errors';
import type { Wire } from './wire';

// ---- adapter: the only place this file reaches past Display's public face (the `core` work moves these
// into an internal session object; switch these two lines over to it) ----
interface Session {
  client: X11Client;
  wire: Wire;
}
function sessionOf(display: Display): Session {
  return { client: display.client, wire: display.wire };
}
// ---- end of adapter ----

/** A top-level window, as display.windows() lists it. */
export interface WindowInfo {
  id: number;
  /** _NET_WM_NAME (UTF-8), else WM_NAME (Latin-1); '' when it has neither. */
  title: string;
  /** WM_CLASS: the class (e.g. 'Firefox', 'XTerm') and the instance name (e.g. 'Navigator', 'xterm'). */
  class: string;
  instance: string;
  /** _NET_WM_PID, or null when the client did not set it. */
  pid: number | null;
  /** The contents' top-left corner in root coordinates (inside the border and any frame), and its size. */
  x: number;
  y: number;
  width: number;
  height: number;
  depth: number;
  /** Mapped and all its ancestors mapped: on the screen (possibly covered), and capturable. */
  mapped: boolean;
}

/** Core protocol values, written once. */
const ATOM_WINDOW = 33;
const ATOM_WM_NAME = 39;
const ATOM_WM_CLASS = 67;
const ANY_PROPERTY_TYPE = 0;
const MAP_STATE_VIEWABLE = 2;
const CLASS_INPUT_ONLY = 2;
/** GetProperty lengths in 4-byte units: 4 KiB of title, 64 K windows. */
const TEXT_LONGS = 1024;
const LIST_LONGS = 65536;

interface Attributes {
  mapState: number;
  klass: number;
  overrideRedirect: number;
}

/** The top-level windows: _NET_CLIENT_LIST with a window manager, else the root's mapped children. */
export async function listWindows(display: Display): Promise<WindowInfo[]> {
  display.wire.ensureOpen('windows');
  const [clientList, netWmName, netWmPid] = await Promise.all(
    ['_NET_CLIENT_LIST', '_NET_WM_NAME', '_NET_WM_PID'].map((name) => internAtom(display, name)),
  );
  const managed = await getProperty(display, display.root, clientList!, ATOM_WINDOW, LIST_LONGS);
  // A window manager with no clients yet still has the property (empty): its own windows are not listed.
  const ids = managed.type !== 0 ? words(managed.data) : await unmanagedTopLevels(display);
  const listed = await Promise.all(
    ids.map((id) =>
      describe(display, id, netWmName!, netWmPid!).catch((err: unknown) => {
        // Closed between the list and our questions: it is no longer a window a user sees.
        if (err instanceof XError && (err.error === 'BadWindow' || err.error === 'BadDrawable')) return null;
        throw err;
      }),
    ),
  );
  return listed.filter((w): w is WindowInfo => w !== null);
}

/** Without a window manager: the root's children that are mapped, drawable, and not menus or tooltips. */
async function unmanagedTopLevels(display: Display): Promise<number[]> {
  const { children } = await queryTree(display, display.root);
  const attributes = await Promise.all(children.map((id) => windowAttributes(display, id).catch(() => null)));
  return children.filter((_, i) => {
    const a = attributes[i];
    return a && a.mapState === MAP_STATE_VIEWABLE && a.klass !== CLASS_INPUT_ONLY && !a.overrideRedirect;
  });
}

async function describe(
  display: Display,
  id: number,
  netWmName: number,
  netWmPid: number,
): Promise<WindowInfo> {
  const { client, wire } = sessionOf(display);
  const [attributes, geometry, origin, title, wmClass, pid] = await Promise.all([
    windowAttributes(display, id),
    wire.geometry(id),
    wire.call<{ destX: number; destY: number }>(
      'TranslateCoordinates',
      (cb) => client.TranslateCoordinates(id, display.root, 0, 0, cb),
      `window=0x${id.toString(16)}`,
    ),
    windowTitle(display, id, netWmName),
    getProperty(display, id, ATOM_WM_CLASS, ANY_PROPERTY_TYPE, TEXT_LONGS),
    getProperty(display, id, netWmPid, ANY_PROPERTY_TYPE, 1),
  ]);
  const [instance = '', className = ''] = wmClass.data.toString('latin1').split('\0');
  return {
    id,
    title,
    class: className,
    instance,
    pid: pid.data.length >= 4 ? pid.data.readUInt32LE(0) : null,
    x: origin.destX,
    y: origin.destY,
    width: geometry.width,
    height: geometry.height,
    depth: geometry.depth,
    mapped: attributes.mapState === MAP_STATE_VIEWABLE,
  };
}

// ---- small versions of queries the `core` work adds to Display ----

// replace with core's display.windowTitle
/** _NET_WM_NAME (UTF-8), else WM_NAME (Latin-1). */
export async function windowTitle(display: Display, window: number, netWmName?: number): Promise<string> {
  const atom = netWmName ?? (await internAtom(display, '_NET_WM_NAME'));
  const [utf8, latin1] = await Promise.all([
    getProperty(display, window, atom, ANY_PROPERTY_TYPE, TEXT_LONGS),
    getProperty(display, window, ATOM_WM_NAME, ANY_PROPERTY_TYPE, TEXT_LONGS),
  ]);
  if (utf8.data.length > 0) return utf8.data.toString('utf8');
  return decodeText(latin1.data);
}

const strictUTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A STRING property is Latin-1 by the rules, but many clients (ImageMagick `display` among them) store UTF-8
 * bytes there: text that is valid UTF-8 is read as UTF-8 (Latin-1 text with accents almost never is).
 */
function decodeText(data: Buffer): string {
  try {
    return strictUTF8.decode(data);
  } catch {
    return data.toString('latin1');
  }
}

// replace with core's display.internAtom
function internAtom(display: Display, name: string): Promise<number> {
  return sessionOf(display).wire.internAtom(name);
}

// replace with core's display.getProperty
function getProperty(
  display: Display,
  window: number,
  property: number,
  type: number,
  longLength: number,
): Promise<{ type: number; data: Buffer }> {
  const { client, wire } = sessionOf(display);
  return wire.call(
    'GetProperty',
    (cb) => client.GetProperty(0, window, property, type, 0, longLength, cb),
    `window=0x${window.toString(16)} property=${property}`,
  );
}

// replace with core's display.queryTree
function queryTree(display: Display, window: number): Promise<{ children: number[] }> {
  const { client, wire } = sessionOf(display);
  return wire.call('QueryTree', (cb) => client.QueryTree(window, cb), `window=0x${window.toString(16)}`);
}

function windowAttributes(display: Display, window: number): Promise<Attributes> {
  const { client, wire } = sessionOf(display);
  return wire.call<Attributes>(
    'GetWindowAttributes',
    (cb) => client.GetWindowAttributes(window, cb as never),
    `window=0x${window.toString(16)}`,
  );
}

function words(data: Buffer): number[] {
  const out: number[] = [];
  for (let o = 0; o + 4 <= data.length; o += 4) out.push(data.readUInt32LE(o));
  return out;
}
