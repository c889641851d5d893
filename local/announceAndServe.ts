/**
 * The contract of a server run as a child process (the local sandbox and directory CLIs, benchmark
 * servers): it prints one JSON line saying where it is, then serves until its stdin closes (the parent
 * went away or asked it to stop) or it gets SIGTERM/SIGINT, closes, and exits 0.
 */
export function announceAndServe(info: object, close: () => Promise<void>): void {
  process.stdout.write(`${JSON.stringify(info)}\n`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
}

/** Runs a CLI's main: a failure prints its message and exits 1. */
export function runMain(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
