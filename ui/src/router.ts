// A tiny hash router: "#/projects/churn" -> ["projects", "churn"]. Hash routes need no
// server rewrite rules and survive reloads.
import { useEffect, useState } from 'preact/hooks';

export function useRoute(): string[] {
  const parse = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(parse);
  useEffect(() => {
    const on = () => setRoute(parse());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function navigate(path: string): void {
  location.hash = '#' + path;
}
