// Fetching and polling, shared by every page. A page names what it shows by its URL; when the
// URL changes (another run, another endpoint), what was shown is dropped at once and answers
// still on their way for the old URL are ignored, so a page never shows another item's data.
// Polling pauses while the tab is hidden and stops for good when the item does not exist.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, errorMessage } from './api';

// Runs `tick` at once and then every `ms` milliseconds (no repeat when `ms` is null) while
// the tab is visible, until `tick` returns false or `deps` change. `alive()` turns false
// when the poll was stopped or restarted: a tick checks it before using what it fetched.
export function usePoll(tick: (alive: () => boolean) => Promise<boolean | void>, ms: number | null, deps: unknown[]): void {
  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    let running = false;
    const alive = () => !stopped;
    const schedule = () => {
      if (stopped || ms === null) return;
      clearTimeout(timer);
      timer = window.setTimeout(run, ms);
    };
    const run = async () => {
      if (stopped || running) return;
      if (document.hidden) return; // resumed by the visibility listener
      running = true;
      let again: boolean | void = true;
      try {
        again = await tick(alive);
      } finally {
        running = false;
      }
      if (again === false) {
        stopped = true;
        return;
      }
      schedule();
    };
    const onVisible = () => {
      if (!document.hidden && !stopped && !running) run();
    };
    document.addEventListener('visibilitychange', onVisible);
    run();
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, deps);
}

export interface Resource<T> {
  data: T | null;
  error: string | null;
  status: number | null; // HTTP status of the last failure (404: the item does not exist)
  reload: () => Promise<void>;
}

// GETs `path` (nothing when null) and, with `pollMs`, again at that interval. A 404 stops
// polling. Changing `path` clears data and error before the new answer arrives.
export function useResource<T>(path: string | null, opts: { pollMs?: number } = {}): Resource<T> {
  const [state, setState] = useState<{ path: string | null; data: T | null; error: string | null; status: number | null }>(
    { path, data: null, error: null, status: null });
  const current = useRef(path);
  current.current = path;

  const fetchOnce = useCallback(async (alive: () => boolean = () => true): Promise<boolean> => {
    if (path === null) return false;
    try {
      const data = await api<T>('GET', path);
      if (!alive() || current.current !== path) return false;
      setState({ path, data, error: null, status: null });
      return true;
    } catch (e) {
      if (!alive() || current.current !== path) return false;
      const status = e instanceof ApiError ? e.status : null;
      // A failed poll keeps what was shown (the server may be restarting); a missing item
      // shows nothing.
      setState((s) => ({ path, data: status === 404 || s.path !== path ? null : s.data, error: errorMessage(e), status }));
      return status !== 404;
    }
  }, [path]);

  usePoll((alive) => fetchOnce(alive), opts.pollMs ?? null, [path, opts.pollMs]);

  const reload = useCallback(async () => { await fetchOnce(); }, [fetchOnce]);
  // What was fetched for another path is never returned.
  if (state.path !== path) return { data: null, error: null, status: null, reload };
  return { data: state.data, error: state.error, status: state.status, reload };
}
