// When the language server dies: restart it a few times, then stop and say so once. A server
// that crashes on every start would otherwise restart forever and hide the cause.
// Types only: the values are spelled out below, so this module loads (and is tested) outside VS Code.
import type { CloseAction, ErrorAction, ErrorHandler } from 'vscode-languageclient/node';

const CONTINUE = 1 as ErrorAction.Continue;
const SHUTDOWN = 2 as ErrorAction.Shutdown;
const DO_NOT_RESTART = 1 as CloseAction.DoNotRestart;
const RESTART = 2 as CloseAction.Restart;

export const MAX_RESTARTS = 3;
export const RESTART_WINDOW_MS = 3 * 60_000;

export function restartPolicy(onGiveUp: () => void, now: () => number = Date.now): ErrorHandler & { reset(): void } {
  let crashes: number[] = [];
  return {
    reset() {
      crashes = [];
    },
    error(_error, _message, count) {
      // Read/write errors: keep going unless the connection keeps failing.
      return { action: count !== undefined && count > 3 ? SHUTDOWN : CONTINUE, handled: true };
    },
    closed() {
      const t = now();
      crashes = crashes.filter((c) => t - c < RESTART_WINDOW_MS);
      crashes.push(t);
      if (crashes.length <= MAX_RESTARTS) return { action: RESTART, handled: true };
      onGiveUp();
      return {
        action: DO_NOT_RESTART,
        message: `The VFIO Review server stopped ${crashes.length} times in ${RESTART_WINDOW_MS / 60_000} minutes and will not be restarted. See the output, then run "VFIO Review: Restart Server".`,
      };
    },
  };
}
