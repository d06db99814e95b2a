// A request a view runs on demand: its result, its error message and whether it is running.
import { useCallback, useState } from 'preact/hooks';

export function useRequest<A extends unknown[], T>(call: (...args: A) => Promise<T>) {
  const [result, setResult] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = useCallback(
    async (...args: A): Promise<T | null> => {
      setBusy(true);
      setError(null);
      try {
        const value = await call(...args);
        setResult(value);
        return value;
      } catch (e) {
        setError((e as Error).message);
        return null;
      } finally {
        setBusy(false);
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
