// Finding a window by its title (shot --window-name): breadth-first over the tree from the root, reading
// each window's title through @xshm/mit-shm (_NET_WM_NAME in UTF-8, else WM_NAME).
import type { Display } from './xdisplay';

/** The first window (breadth-first from the root) whose title contains `text`. */
export async function findWindowByName(display: Display, text: string): Promise<number> {
  const pending = [display.root];
  while (pending.length > 0) {
    const wid = pending.shift()!;
    try {
      if (wid !== display.root && (await display.windowTitle(wid)).includes(text)) return wid;
      pending.push(...(await display.queryTree(wid)).children);
    } catch (error) {
      // Windows come and go while we walk the tree: one destroyed meanwhile is simply not a match.
      if ((error as { error?: string }).error !== 'BadWindow') throw error;
    }
  }
  throw new Error(
    `no window has a title containing '${text}' (list them with: xdotool search --name '${text}')`,
  );
}
