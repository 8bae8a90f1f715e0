// Process exit: rings and readers still open are closed synchronously in 'exit', so a
// producer that exits (normally or via process.exit) removes its ring, and a last reader
// removes a ring whose producer died. Signals are the application's to handle (Ctrl-C in
// xshot share closes the ring); a process killed with -9 is covered by the reader and
// reclaim rules instead.

interface Closable {
  close(): void;
}

const open = new Set<Closable>();
let listening = false;

export function trackOnExit(item: Closable): void {
  open.add(item);
  if (!listening) {
    listening = true;
    process.once('exit', closeAll);
  }
}

export function untrackOnExit(item: Closable): void {
  open.delete(item);
}

function closeAll(): void {
  for (const item of [...open]) {
    try {
      item.close();
    } catch {
      // Exiting anyway: one failure must not keep the others from cleaning up.
    }
  }
}
