// display.windows(): the top-level windows as a user sees them, with their titles, classes, pids and
// places on the root. With a window manager that is its _NET_CLIENT_LIST (the application windows, not the
// frames it wraps them in); without one, the root's mapped children.

import { XError } from './errors';
import { getProperty, queryTree, windowTitle } from './queries';
import type { Session } from './session';
import type { GetWindowAttributesReply } from './x11-types';

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
const ATOM_WM_CLASS = 67;
const MAP_STATE_VIEWABLE = 2;
const CLASS_INPUT_ONLY = 2;
/** GetProperty lengths in 4-byte units: 4 KiB of class names, 64 K windows. */
const TEXT_LONGS = 1024;
const LIST_LONGS = 65536;

/** The top-level windows: _NET_CLIENT_LIST with a window manager, else the root's mapped children. */
export async function listWindows(session: Session): Promise<WindowInfo[]> {
  const wire = session.wire;
  wire.ensureOpen('windows');
  // _NET_WM_NAME too, though windowTitle() asks for it itself: interned here, with the others, x11 has it
  // cached by then, and the titles cost no round trip of their own.
  const [clientList, netWmPid] = await Promise.all(
    ['_NET_CLIENT_LIST', '_NET_WM_PID', '_NET_WM_NAME'].map((name) => wire.internAtom(name)),
  );
  const managed = await getProperty(session, session.root, clientList!, {
    type: ATOM_WINDOW,
    longLength: LIST_LONGS,
  });
  // A window manager with no clients yet still has the property (empty): its own windows are not listed.
  const ids = managed.type !== 0 ? words(managed.data) : await unmanagedTopLevels(session);
  const listed = await Promise.all(
    ids.map((id) =>
      describe(session, id, netWmPid!).catch((err: unknown) => {
        // Closed between the list and our questions: it is no longer a window a user sees.
        if (err instanceof XError && (err.error === 'BadWindow' || err.error === 'BadDrawable')) return null;
        throw err;
      }),
    ),
  );
  return listed.filter((w): w is WindowInfo => w !== null);
}

/** Without a window manager: the root's children that are mapped, drawable, and not menus or tooltips. */
async function unmanagedTopLevels(session: Session): Promise<number[]> {
  const { children } = await queryTree(session, session.root);
  const attributes = await Promise.all(children.map((id) => windowAttributes(session, id).catch(() => null)));
  return children.filter((_, i) => {
    const a = attributes[i];
    return a && a.mapState === MAP_STATE_VIEWABLE && a.klass !== CLASS_INPUT_ONLY && !a.overrideRedirect;
  });
}

async function describe(session: Session, id: number, netWmPid: number): Promise<WindowInfo> {
  const wire = session.wire;
  const [attributes, geometry, origin, title, wmClass, pid] = await Promise.all([
    windowAttributes(session, id),
    wire.geometry(id),
    wire.call<{ destX: number; destY: number }>(
      'TranslateCoordinates',
      (cb) => wire.client.TranslateCoordinates(id, session.root, 0, 0, cb),
      `window=0x${id.toString(16)}`,
    ),
    windowTitle(session, id),
    getProperty(session, id, ATOM_WM_CLASS, { longLength: TEXT_LONGS }),
    getProperty(session, id, netWmPid, { longLength: 1 }),
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

function windowAttributes(session: Session, window: number): Promise<GetWindowAttributesReply> {
  const wire = session.wire;
  return wire.call<GetWindowAttributesReply>(
    'GetWindowAttributes',
    (cb) => wire.client.GetWindowAttributes(window, cb),
    `window=0x${window.toString(16)}`,
  );
}

function words(data: Buffer): number[] {
  const out: number[] = [];
  for (let o = 0; o + 4 <= data.length; o += 4) out.push(data.readUInt32LE(o));
  return out;
}
