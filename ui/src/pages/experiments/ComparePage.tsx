import { useEffect, useState } from 'preact/hooks';
import { errorMessage } from '../../api';
import { Card, ErrorBox, Page } from '../../components';
import { LineChart } from '../data/charts';
import { fmt, kv, type Metric, metricMap, mlflow, type Run } from './mlflow';

// Runs side by side: params that differ, a metric overlay over steps, and a parallel-
// coordinates chart of params against a chosen metric (each axis scaled to its range).
export function ComparePage(props: { project: string; ids: string[] }) {
  const [runs, setRuns] = useState<Run[]>([]);
  const [history, setHistory] = useState<Record<string, Record<string, Metric[]>>>({});
  const [metric, setMetric] = useState<string>('');
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    (async () => {
      try {
        const rs: Run[] = [];
        for (const id of props.ids) rs.push((await mlflow<{ run: Run }>(props.project, `/runs/get?run_id=${id}`)).run);
        setRuns(rs);
        const keys = [...new Set(rs.flatMap((r) => (r.data.metrics ?? []).map((m) => m.key)))].sort();
        setMetric(keys.find((k) => k.includes('valid')) ?? keys[0] ?? '');
      } catch (e) {
        setError(errorMessage(e));
      }
    })();
  }, [props.ids.join(',')]);

  useEffect(() => {
    if (!metric) return;
    (async () => {
      const h: Record<string, Metric[]> = {};
      for (const r of runs) {
        const q = new URLSearchParams({ run_id: r.info.run_id, metric_key: metric });
        h[r.info.run_id] = (await mlflow<{ metrics: Metric[] }>(props.project, `/metrics/get-history?${q}`)).metrics;
      }
      setHistory({ ...history, [metric]: h });
    })().catch((e) => setError(errorMessage(e)));
  }, [metric, runs.length]);

  const metricKeys = [...new Set(runs.flatMap((r) => (r.data.metrics ?? []).map((m) => m.key)))].sort();
  const paramKeys = [...new Set(runs.flatMap((r) => (r.data.params ?? []).map((p) => p.key)))].sort();
  const differing = paramKeys.filter((k) => new Set(runs.map((r) => kv(r.data.params)[k])).size > 1);
  // Parallel coordinates: every differing param, then the metric; values scaled to [0, 1].
  const axes = [...differing, metric];
  const raw = runs.map((r) => axes.map((a, i) => {
    const v = i < differing.length ? kv(r.data.params)[a] : metricMap(r.data.metrics)[a];
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }));
  const scaled = raw.map((row) => row.map((v, i) => {
    const col = raw.map((r) => r[i]).filter((x): x is number => x !== null);
    const lo = Math.min(...col), hi = Math.max(...col);
    return v === null ? null : hi > lo ? (v - lo) / (hi - lo) : 0.5;
  }));

  return (
    <Page title="Compare runs" subtitle={runs.map((r) => r.info.run_name).join(' · ')}>
      <ErrorBox error={error} />
      <Card title="Parameters that differ">
        <table class="table" data-testid="compare-params">
          <thead><tr><th />{runs.map((r) => <th>{r.info.run_name}</th>)}</tr></thead>
          <tbody>{differing.map((k) => <tr><td>{k}</td>{runs.map((r) => <td>{kv(r.data.params)[k] ?? '—'}</td>)}</tr>)}</tbody>
        </table>
      </Card>
      <Card title="Metrics">
        <table class="table">
          <thead><tr><th />{runs.map((r) => <th>{r.info.run_name}</th>)}</tr></thead>
          <tbody>{metricKeys.map((k) => <tr><td>{k}</td>{runs.map((r) => <td>{fmt(metricMap(r.data.metrics)[k])}</td>)}</tr>)}</tbody>
        </table>
      </Card>
      <Card>
        <div class="row">
          <h2 style="margin: 0">Metric</h2>
          <select aria-label="Metric" value={metric} onChange={(e) => setMetric((e.target as HTMLSelectElement).value)}>
            {metricKeys.map((k) => <option value={k}>{k}</option>)}
          </select>
        </div>
        <div class="grid-2" style="margin-top: 12px">
          <div>
            <h2>Over steps</h2>
            {history[metric] && (
              <LineChart series={runs.map((r) => ({ label: r.info.run_name,
                points: (history[metric][r.info.run_id] ?? []).map((p) => ({ x: p.step, y: typeof p.value === 'number' ? p.value : null })) }))} />
            )}
          </div>
          <div data-testid="parallel">
            <h2>Parameters → {metric}</h2>
            <LineChart categorical series={runs.map((r, i) => ({ label: r.info.run_name, points: axes.map((a, j) => ({ x: a, y: scaled[i][j] })) }))}
              tooltip={(s, j) => `${runs[s].info.run_name}: ${axes[j]} = ${fmt(raw[s][j])}`} />
          </div>
        </div>
      </Card>
    </Page>
  );
}
