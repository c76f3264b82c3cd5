// When the language server dies: restart it a few times, then stop and say so once. A server
// that crashes on every start would otherwise restart forever and hide the cause.
import { CloseAction, ErrorAction, type ErrorHandler } from 'vscode-languageclient/node';

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
      return { action: count !== undefined && count > 3 ? ErrorAction.Shutdown : ErrorAction.Continue, handled: true };
    },
    closed() {
      const t = now();
      crashes = crashes.filter((c) => t - c < RESTART_WINDOW_MS);
      crashes.push(t);
      if (crashes.length <= MAX_RESTARTS) return { action: CloseAction.Restart, handled: true };
      onGiveUp();
      return {
        action: CloseAction.DoNotRestart,
        message: `The VFIO Review server stopped ${crashes.length} times in ${RESTART_WINDOW_MS / 60_000} minutes and will not be restarted. See the output, then run "VFIO Review: Restart Server".`,
      };
    },
  };
}
