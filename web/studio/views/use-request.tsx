// A request a view runs on demand: its result, its error message and whether it is running.
import { useCallback, useRef, useState } from 'preact/hooks';

export function useRequest<A extends unknown[], T>(call: (...args: A) => Promise<T>) {
  const [result, setResult] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  /** The number of the latest run: an answer to an older one (controls changed since) is dropped. */
  const latest = useRef(0);
  const run = useCallback(
    async (...args: A): Promise<T | null> => {
      const mine = ++latest.current;
      setBusy(true);
      setError(null);
      try {
        const value = await call(...args);
        if (mine !== latest.current) return null;
        setResult(value);
        return value;
      } catch (e) {
        if (mine === latest.current) setError((e as Error).message);
        return null;
      } finally {
        if (mine === latest.current) setBusy(false);
      }
    },
    [call],
  );
  return { result, error, busy, run, setResult };
}

export function ErrorLine(props: { readonly error: string | null }) {
  return props.error === null ? null : (
    <p role="alert" class="error">
      {props.error}
    </p>
  );
}
