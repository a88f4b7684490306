// Real-time endpoints: the list, and an endpoint's page with its traffic split editor, live
// request rate, latency percentiles and error rate, a try-it form built from the model's
// signature, and its recent predictions.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errorMessage } from '../../api';
import { Card, ErrorBox, Page } from '../../components';
import { useResource } from '../../hooks';
import { navigate } from '../../router';
import { BarChart, LineChart } from '../data/charts';
import { base, ProjectPicker, useProjects } from '../models/Models';

interface Target { alias?: string; version?: number; weight: number }
interface Stat { version: number; requests: number; errors: number; rows: number; mean_latency_ms: number; latency_ms: { p50: number | null; p95: number | null; p99: number | null } }
interface Endpoint {
  name: string; model: string; ready: boolean; error?: string; description: string;
  config: { targets: Target[]; shadow: Target | null; log_sample: number };
  serving: { version: number; alias?: string }[]; shadow_version?: number; stats?: Stat[]; log_dropped?: number;
  versions?: { version: number; state: string; error?: string; next_retry_at?: string }[];
  pending?: { version: number; error: string };
}
interface Feature { name: string; type: string; categories?: string[] }
interface Prediction { request_id: string; time: string; version: number; shadow: boolean; latency_us: number; outputs: { predictions?: unknown[] }; label: string | null }

export function EndpointList(props: { project?: string }) {
  const [projects, perr] = useProjects();
  const project = props.project ?? projects.find((p) => p.name === 'demo')?.name ?? projects[0]?.name;
  const list = useResource<{ endpoints: Endpoint[] }>(project ? `${base(project)}/endpoints` : null);
  const eps = list.data?.endpoints ?? null;
  const error = list.error;
  return (
    <Page title="Endpoints" subtitle="Real-time APIs serving model aliases or versions, with canary splits and shadows; scheduled scoring is under Batch." actions={<ProjectPicker projects={projects} value={project} section="endpoints" />}>
      <ErrorBox error={error ?? perr} />
      <Card>
        {eps && eps.length === 0 && <p class="muted">No endpoints yet: <code>kade endpoints create NAME --model MODEL</code>.</p>}
        {eps && eps.length > 0 && (
          <table class="table" data-testid="endpoint-table">
            <thead><tr><th>Endpoint</th><th>Model</th><th>Ready</th><th>Serving</th></tr></thead>
            <tbody>
              {eps.map((e) => (
                <tr class="clickable" onClick={() => navigate(`/endpoints/${encodeURIComponent(project!)}/${encodeURIComponent(e.name)}`)}>
                  <td><a href={`#/endpoints/${encodeURIComponent(project!)}/${encodeURIComponent(e.name)}`}>{e.name}</a></td>
                  <td>{e.model}</td>
                  <td>{e.ready ? 'yes' : 'no'}</td>
                  <td>{e.serving.map((s) => `v${s.version}${s.alias ? ` (${s.alias})` : ''}`).join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </Page>
  );
}

type Sample = { t: number; stats: Stat[] };

export function EndpointPage(props: { project: string; name: string }) {
  const url = `${base(props.project)}/endpoints/${encodeURIComponent(props.name)}`;
  // Polled every 2 s while the tab is visible; a missing endpoint (404) is not polled again.
  const res = useResource<Endpoint>(url, { pollMs: 2000 });
  const ep = res.data;
  const [actionError, setError] = useState<string | null>(null);
  const error = actionError ?? res.error;
  const [split, setSplit] = useState<Target[]>([]);
  const [features, setFeatures] = useState<Feature[]>([]);
  const [values, setValues] = useState<Record<string, string>>({});
  const [answer, setAnswer] = useState<string | null>(null);
  // Why: SHAP contributions of the row's features (per class for multi-class), largest first.
  const [why, setWhy] = useState<{ title: string; labels: string[]; values: number[]; base: number; margin: number }[] | null>(null);
  const [recent, setRecent] = useState<Prediction[]>([]);
  const samples = useRef<Sample[]>([]);
  const [, setTick] = useState(0);

  const loadRecent = () => api<{ predictions: Prediction[] }>('GET', `${url}/predictions?limit=10`).then((r) => setRecent(r.predictions)).catch(() => {});
  useEffect(() => { loadRecent(); }, [url]);
  // Realised fit from the fed-back ground truth, beside the training holdout.
  const [fitWindow, setFitWindow] = useState('7d');
  const [fit, setFit] = useState<{ versions: any[] } | null>(null);
  useEffect(() => {
    api<{ versions: any[] }>('GET', `${url}/monitoring/performance?window=${fitWindow}`).then(setFit).catch(() => setFit(null));
  }, [url, fitWindow]);
  // Live series from each polled answer.
  useEffect(() => {
    if (!ep) return;
    samples.current = [...samples.current.slice(-59), { t: Date.now() / 1000, stats: ep.stats ?? [] }];
    setTick((x) => x + 1);
  }, [ep]);
  useEffect(() => {
    if (!ep) return;
    setSplit(ep.config.targets.map((t) => ({ ...t })));
    const v = ep.serving[0]?.version;
    if (v === undefined || features.length) return;
    api<{ manifest: { signature: { features: Feature[] } } }>('GET', `${base(props.project)}/models/${encodeURIComponent(ep.model)}/versions/${v}`)
      .then((r) => {
        setFeatures(r.manifest.signature.features);
        const init: Record<string, string> = {};
        for (const f of r.manifest.signature.features) init[f.name] = f.categories?.[0] ?? '0';
        setValues(init);
      }).catch((e) => setError(errorMessage(e)));
  }, [ep?.config && JSON.stringify(ep.config), ep?.serving[0]?.version]);

  if (!ep) return <Page title={props.name}><ErrorBox error={error} /></Page>;

  // Live series from the polled counters: requests/s and error rate per version.
  const s = samples.current;
  const versions = [...new Set(s.flatMap((x) => x.stats.map((st) => st.version)))].sort();
  const rate = (v: number, key: 'requests' | 'errors') => s.slice(1).map((x, i) => {
    const prev = s[i].stats.find((st) => st.version === v)?.[key] ?? 0;
    const cur = x.stats.find((st) => st.version === v)?.[key] ?? 0;
    return { x: Math.round(x.t - s[0].t), y: (cur - prev) / Math.max(0.001, x.t - s[i].t) };
  });
  const errRate = s.slice(1).map((x, i) => {
    const sum = (st: Stat[], k: 'requests' | 'errors') => st.reduce((a, b) => a + b[k], 0);
    const dr = sum(x.stats, 'requests') - sum(s[i].stats, 'requests');
    const de = sum(x.stats, 'errors') - sum(s[i].stats, 'errors');
    return { x: Math.round(x.t - s[0].t), y: dr > 0 ? (100 * de) / dr : 0 };
  });

  // Latency percentiles over time (all versions' worst, from each poll's histogram bounds).
  const pct = (k: 'p50' | 'p95' | 'p99') => s.map((x) => ({
    x: Math.round(x.t - (s[0]?.t ?? x.t)),
    y: x.stats.reduce<number | null>((a, st) => (st.latency_ms[k] === null ? a : Math.max(a ?? 0, st.latency_ms[k]!)), null),
  }));

  async function saveSplit(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      await api<Endpoint>('PATCH', url, { targets: split.map((t) => (t.alias ? { alias: t.alias, weight: Number(t.weight) } : { version: Number(t.version), weight: Number(t.weight) })) });
      await res.reload();
    } catch (err) {
      setError(errorMessage(err));
    }
  }
  const tryRecord = () => {
    const rec: Record<string, unknown> = {};
    for (const f of features) {
      const v = values[f.name];
      rec[f.name] = v === '' ? null : f.type === 'categorical' ? v : Number(v);
    }
    return rec;
  };
  async function tryIt(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      const r = await api<Record<string, unknown>>('POST', `${url}/predict`, { instances: [tryRecord()] });
      setAnswer(JSON.stringify(r, null, 2));
      loadRecent();
    } catch (err) {
      setError(errorMessage(err));
    }
  }
  type Part = { contributions: Record<string, number>; base_value: number; margin: number };
  async function explain() {
    setError(null);
    try {
      const r = await api<{ explanations: (Part & { classes?: Record<string, Part>; prediction?: unknown })[] }>(
        'POST', `${url}/explain`, { instances: [tryRecord()] });
      const e = r.explanations[0];
      const parts: [string, Part][] = e.classes ? Object.entries(e.classes) : [[`prediction ${String(e.prediction ?? '')}`, e]];
      setWhy(parts.map(([title, p]) => {
        const sorted = Object.entries(p.contributions).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
        return { title, labels: sorted.map(([f]) => f), values: sorted.map(([, v]) => v), base: p.base_value, margin: p.margin };
      }));
    } catch (err) {
      setError(errorMessage(err));
    }
  }

  return (
    <Page title={`Endpoint ${ep.name}`} subtitle={`Serves model ${ep.model}. ${ep.description}`}>
      <ErrorBox error={error} />
      {!ep.ready && <div class="error">Not ready: {ep.error}</div>}
      <Card title="Traffic">
        <p data-testid="serving">Serving {ep.serving.map((v) => `v${v.version}${v.alias ? ` (${v.alias})` : ''}`).join(', ')}
          {ep.shadow_version !== undefined && `; shadow v${ep.shadow_version}`}</p>
        {(ep.versions ?? []).filter((v) => v.state !== 'ready').map((v) => (
          <div class={v.state === 'failed' ? 'error' : 'muted'} data-testid={`version-state-${v.version}`}>
            Version {v.version}: {v.state}{v.error ? ` — ${v.error}` : ''}
            {v.next_retry_at ? ` (next retry ${v.next_retry_at})` : ''}
            {v.state === 'failed' && '. The versions above keep serving; move the alias back or repair the model to recover.'}
          </div>
        ))}
        <form onSubmit={saveSplit} class="split" data-testid="split-form">
          {split.map((t, i) => (
            <div class="split-row">
              <span>{t.alias ? `alias ${t.alias}` : `version ${t.version}`}</span>
              <input type="number" min="0" aria-label={`Weight ${t.alias ?? 'v' + t.version}`} value={t.weight}
                onInput={(e) => setSplit(split.map((x, j) => (j === i ? { ...x, weight: Number((e.target as HTMLInputElement).value) } : x)))} />
            </div>
          ))}
          <button type="submit">Save split</button>
        </form>
      </Card>
      <Card title="Live traffic">
        <div class="grid2">
          <div><h3>Requests/s by version</h3>
            <LineChart series={versions.map((v) => ({ label: `v${v}`, points: rate(v, 'requests') }))} height={180} xLabel="seconds" /></div>
          <div><h3>Error rate (%)</h3>
            <LineChart series={[{ label: 'errors', points: errRate }]} height={180} xLabel="seconds" /></div>
          <div data-testid="latency-chart"><h3>Latency percentiles (ms, bucket bounds)</h3>
            <LineChart series={[{ label: 'p50', points: pct('p50') }, { label: 'p95', points: pct('p95') }, { label: 'p99', points: pct('p99') }]} height={180} xLabel="seconds" /></div>
        </div>
        <table class="table" data-testid="latency-table">
          <thead><tr><th>Version</th><th>Requests</th><th>Errors</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>Mean ms</th></tr></thead>
          <tbody>
            {(ep.stats ?? []).map((st) => (
              <tr><td>v{st.version}</td><td>{st.requests}</td><td>{st.errors}</td>
                <td>≤ {st.latency_ms.p50 ?? '-'}</td><td>≤ {st.latency_ms.p95 ?? '-'}</td><td>≤ {st.latency_ms.p99 ?? '-'}</td>
                <td>{st.mean_latency_ms.toFixed(3)}</td></tr>
            ))}
          </tbody>
        </table>
        <p class="muted">Latency inside Kade (decode, predict, encode); percentiles are histogram bucket bounds. Prediction log entries dropped: {ep.log_dropped ?? 0}.</p>
      </Card>
      <Card title="Try it">
        <form onSubmit={tryIt} class="train-form" data-testid="try-form">
          {features.map((f) => (
            <label>{f.name}
              {f.type === 'categorical' ? (
                <select aria-label={f.name} value={values[f.name]} onChange={(e) => setValues({ ...values, [f.name]: (e.target as HTMLSelectElement).value })}>
                  {f.categories!.map((c) => <option value={c}>{c}</option>)}
                  <option value="">(missing)</option>
                </select>
              ) : (
                <input aria-label={f.name} value={values[f.name]} onInput={(e) => setValues({ ...values, [f.name]: (e.target as HTMLInputElement).value })} />
              )}
            </label>
          ))}
          <div class="wide"><button type="submit">Predict</button>{' '}
            <button type="button" onClick={explain} data-testid="explain-button">Explain</button></div>
        </form>
        {answer && <pre data-testid="answer">{answer}</pre>}
        {why && <div data-testid="explanation">
          {why.map((w) => <>
            <h3>Why: {w.title}</h3>
            <p class="hint">Contributions to the margin (log-odds for binary models, exact TreeSHAP): base value {w.base.toFixed(4)} plus the bars gives {w.margin.toFixed(4)}.</p>
            <BarChart horizontal labels={w.labels} values={w.values} label="contribution" />
          </>)}
        </div>}
      </Card>
      <p><a href={`#/monitoring/${encodeURIComponent(props.project)}/${encodeURIComponent(props.name)}`} data-testid="monitoring-link">Monitoring: drift, data quality, health and KPIs</a></p>
      <Card title="Model fit (ground truth)">
        <div class="row">
          <label>Window{' '}
            <select aria-label="Fit window" value={fitWindow} onChange={(e) => setFitWindow((e.target as HTMLSelectElement).value)}>
              {['1h', '24h', '7d', '30d'].map((w) => <option value={w}>{w}</option>)}
            </select>
          </label>
        </div>
        <table class="table" data-testid="fit-table">
          <thead><tr><th>Version</th><th>Task</th><th>Predictions</th><th>With ground truth</th><th>Label delay (p50)</th><th>Realised</th><th>Estimated (CBPE, no labels needed)</th><th>Holdout</th></tr></thead>
          <tbody>
            {(fit?.versions ?? []).map((v) => {
              const key = v.task === 'regression' ? 'rmse' : v.task === 'binary' ? 'auc' : 'accuracy';
              const show = (m: any) => (m && typeof m[key] === 'number' ? `${key} ${m[key].toFixed(3)}` : '—');
              return (
                <tr><td>v{v.version}</td><td>{v.task}</td><td>{v.predictions}</td><td>{v.labelled} ({Math.round(100 * v.label_coverage)}%)</td>
                  <td>{v.label_delay_s ? `${v.label_delay_s.p50 < 120 ? `${v.label_delay_s.p50.toFixed(0)} s` : v.label_delay_s.p50 < 7200 ? `${(v.label_delay_s.p50 / 60).toFixed(0)} min` : `${(v.label_delay_s.p50 / 3600).toFixed(1)} h`}` : '—'}</td>
                  <td>{show(v.metrics)}</td><td>{show(v.estimated)}</td><td>{show(v.holdout)}</td></tr>
              );
            })}
          </tbody>
        </table>
        {fit && fit.versions.length === 0 && <p class="hint">No logged answers in this window.</p>}
      </Card>
      <Card title="Recent predictions">
        <table class="table" data-testid="recent-table">
          <thead><tr><th>Request</th><th>Time</th><th>Version</th><th>Prediction</th><th>Ground truth</th><th>Latency (microseconds)</th></tr></thead>
          <tbody>
            {recent.map((p) => (
              <tr><td>{p.request_id}{p.shadow ? ' (shadow)' : ''}</td><td>{p.time.replace('T', ' ').slice(0, 19)}</td><td>v{p.version}</td>
                <td>{JSON.stringify(p.outputs?.predictions ?? '')}</td><td>{p.label ?? '-'}</td><td>{p.latency_us}</td></tr>
            ))}
          </tbody>
        </table>
      </Card>
    </Page>
  );
}
