// Monitoring: the fleet (every endpoint the user can see, most in need of attention first) and
// an endpoint's monitoring page: drift per feature with reference and current distributions
// overlaid, prediction drift, data-quality violations, service health over time, KPIs, and
// the monitor's configuration, which editors change here.
import { useState } from 'preact/hooks';
import { api, errorMessage } from '../../api';
import { Card, ErrorBox, Page } from '../../components';
import { useResource } from '../../hooks';
import { navigate } from '../../router';
import { CompareBars, fmtNumber, LineChart } from '../data/charts';
import { base } from '../models/Models';

interface FleetEntry {
  kind: string; project: string; endpoint: string; model: string; ready: boolean; status: string; health: string; drift: string;
  quality: string; requests_1h: number; error_rate_1h: number; p99_ms_1h: number; features_drifted: number;
  features_checked: number; violations: number; alerts_firing: number; reason: string;
  fit: string; fit_label: string; multivariate_drift: boolean; value_name: string; value: number | null;
}
interface AlertRule {
  name: string; endpoint: string; metric: string; feature?: string; comparator: string; threshold: number; window: string;
  for: string; severity: string; state: string; since: string; value: number | null; silenced: boolean;
  acknowledged_by: string | null; history: { time: string; state: string; value: number | null; message: string }[];
}
interface FeatureDrift {
  name: string; type: string; method: string; threshold: number; value: number | string | null; p_value: number | null;
  drifted: boolean; stats: Record<string, number | string | null>; reference_count: number; current_count: number;
  histogram: { edges?: number[]; categories?: string[]; reference: number[]; current: number[] };
}
interface Drift {
  window: string; version: number; reference: string; rows: number; features: FeatureDrift[]; outputs: FeatureDrift[];
  drift: { features_checked: number; features_drifted: number; share: number; drift_share: number; dataset_drift: boolean };
  multivariate: { available: boolean; note?: string; rows?: number; error?: number; lower?: number; upper?: number;
    reference_error?: number; components?: number; features?: number; explained_variance?: number; chunk_rows?: number; drifted?: boolean };
  note?: string;
}
interface TrendPoint {
  start: string; rows: number; share: number; dataset_drift: boolean; drifted: string[];
  reconstruction_error: number | null; reconstruction_band?: [number, number]; estimated_auc: number | null;
  predictions: number; labelled: number; realised: Record<string, number>; value: number | null;
}
interface Trend { window: string; step: string; version: number; value_name?: string; points: TrendPoint[] }
interface Violation { feature_name: string; constraint_check_type: string; description: string }
interface Quality { rows: number; requests: number; refused: number; violations: Violation[]; refusal_examples: string[];
  features: { name: string; null_rate: number; out_of_range: number; type_errors: number; unseen_categories: number; min: number | null; max: number | null; reference_min: number | null; reference_max: number | null }[] }
interface HealthPoint { time: string; requests: number; errors: number; availability: number; p50_ms: number; p99_ms: number }
interface Health { step: string; versions: { version: number; points: HealthPoint[] }[]; total: Omit<HealthPoint, 'time'> & { error_rate: number } }
interface Kpis { kpis: { name: string; sum: number; count: number; source: string; outcomes?: Record<string, number>; points: { time: string; value: number }[] }[] }
interface MonitorConfig { reference: string; dataset?: string; dataset_version?: string; features: string[]; windows: string[];
  rules: Record<string, { method?: string; threshold?: number }>; drift_share: number;
  value?: Record<string, number | string> }
interface Monitor { endpoint: string; default: boolean; config: MonitorConfig; served_features: string[]; updated_by?: string; updated_at?: string }

const WINDOWS = ['1h', '24h', '7d', '30d'];

function Light(props: { value: string; label?: string }) {
  const cls = props.value === 'red' ? 'bad' : props.value === 'amber' ? 'warn' : props.value === 'green' ? 'ok' : '';
  return <span class={`badge ${cls}`} data-status={props.value}>{props.label ?? (props.value === 'grey' ? 'no data' : props.value)}</span>;
}

const show = (v: number | string | null | undefined) => (typeof v === 'number' ? fmtNumber(v) : v ?? '—');

export function FleetPage() {
  const fleet = useResource<{ endpoints: FleetEntry[] }>('/api/v1/monitoring/fleet', { pollMs: 10000 });
  const rows = fleet.data?.endpoints ?? null;
  return (
    <Page title="Monitoring" subtitle="Every endpoint and batch schedule in production you can see: health over the last hour, drift and data quality over the last day (a schedule: its last runs against the training data). What needs attention comes first.">
      <ErrorBox error={fleet.error} />
      <Card>
        {rows && rows.length === 0 && <p class="muted">No endpoints yet. Create one under Endpoints; it is monitored from its first request.</p>}
        {rows && rows.length > 0 && (
          <table class="table" data-testid="fleet-table">
            <thead><tr><th>Endpoint or schedule</th><th>Model</th><th>Status</th><th>Health</th><th>Drift</th><th>Quality</th><th>Fit</th><th>Value (24 h)</th><th>Alerts</th><th>Requests (1 h)</th><th>p99 (ms)</th><th>Needs attention</th></tr></thead>
            <tbody>
              {rows.map((e) => {
                const href = e.kind === 'batch' ? `#/batch/${encodeURIComponent(e.project)}`
                  : `#/monitoring/${encodeURIComponent(e.project)}/${encodeURIComponent(e.endpoint)}`;
                return (
                  <tr class="clickable" data-endpoint={e.endpoint} onClick={() => navigate(href.slice(1))}>
                    <td><a href={href}>{e.project}/{e.endpoint}</a>{e.kind === 'batch' && <span class="muted"> (batch schedule)</span>}</td>
                    <td>{e.model}</td>
                    <td><Light value={e.status} /></td>
                    <td><Light value={e.health} /></td>
                    <td><Light value={e.drift} label={e.features_checked ? `${e.features_drifted}/${e.features_checked}` : undefined} /></td>
                    <td><Light value={e.quality} label={e.quality === 'grey' ? undefined : `${e.violations}`} /></td>
                    <td><Light value={e.fit ?? 'grey'} label={e.fit_label || undefined} /></td>
                    <td>{e.value !== null && e.value !== undefined ? `${e.value_name} ${fmtNumber(e.value)}` : '—'}</td>
                    <td>{e.alerts_firing > 0 ? <span class="badge bad">{e.alerts_firing} firing</span> : '—'}</td>
                    <td>{e.requests_1h}</td>
                    <td>{e.requests_1h ? e.p99_ms_1h.toFixed(2) : '—'}</td>
                    <td>{e.reason || '—'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Card>
    </Page>
  );
}

function DriftChart(props: { f: FeatureDrift }) {
  const h = props.f.histogram;
  const labels = h.categories ?? h.reference.map((_, i) => {
    const e = h.edges ?? [];
    if (i === 0) return `< ${show(e[0])}`;
    if (i === e.length) return `≥ ${show(e[e.length - 1])}`;
    return `${show(e[i - 1])}–${show(e[i])}`;
  });
  return <CompareBars labels={labels} series={[{ label: 'reference', values: h.reference }, { label: 'current', values: h.current }]} testid="drift-chart" />;
}

function DriftTable(props: { rows: FeatureDrift[]; selected: string | null; onSelect: (n: string) => void; testid: string }) {
  return (
    <table class="table" data-testid={props.testid}>
      <thead><tr><th>Name</th><th>Type</th><th>Method</th><th>Value</th><th>Threshold</th><th>Verdict</th><th>Rows</th></tr></thead>
      <tbody>
        {props.rows.map((f) => (
          <tr class={`clickable${props.selected === f.name ? ' selected' : ''}`} data-feature={f.name} onClick={() => props.onSelect(f.name)}>
            <td>{f.name}</td><td>{f.type}</td><td>{f.method}{f.p_value !== null ? ' (p-value)' : ''}</td>
            <td>{show(f.value)}</td><td>{f.threshold}</td>
            <td>{f.drifted ? <span class="badge bad">drift</span> : <span class="badge ok">ok</span>}</td>
            <td>{f.current_count}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ConfigForm(props: { url: string; monitor: Monitor; features: string[]; onSaved: () => void }) {
  const c = props.monitor.config;
  const [watched, setWatched] = useState<string[]>(c.features.length ? c.features : props.features);
  const [rules, setRules] = useState<Record<string, { method?: string; threshold?: number }>>(c.rules);
  const [share, setShare] = useState(String(c.drift_share));
  const [reference, setReference] = useState(c.reference);
  const [dataset, setDataset] = useState(c.dataset ?? '');
  const [dsVersion, setDsVersion] = useState(c.dataset_version ?? 'latest');
  const [valueName, setValueName] = useState(String(c.value?.name ?? ''));
  const [valueText, setValueText] = useState(Object.entries(c.value ?? {}).filter(([k]) => k !== 'name').map(([k, v]) => `${k}=${v}`).join(', '));
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setSaved(false);
    const body: Record<string, unknown> = {
      features: watched.length === props.features.length ? [] : watched,
      rules: Object.fromEntries(Object.entries(rules).filter(([, r]) => r.method || r.threshold)),
      drift_share: Number(share), reference,
    };
    if (reference === 'dataset') Object.assign(body, { dataset, dataset_version: dsVersion });
    if (valueText.trim()) {
      // "tp=120, fp=-10": each outcome's value; the server checks names and numbers.
      const v: Record<string, unknown> = { name: valueName || 'value' };
      // Pairs separated by commas or semicolons; spaces around "=" are allowed.
      for (const part of valueText.split(/[,;]/).map((p) => p.trim()).filter(Boolean)) {
        const at = part.indexOf('=');
        const k = (at < 0 ? part : part.slice(0, at)).trim();
        const x = at < 0 ? '' : part.slice(at + 1).trim();
        v[k] = x !== '' && !Number.isNaN(Number(x)) ? Number(x) : x;
      }
      body.value = v;
    }
    try {
      await api('PUT', `${props.url}/monitoring/monitor`, body);
      setSaved(true);
      props.onSaved();
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  const setRule = (f: string, k: 'method' | 'threshold', v: string) => setRules((r) => {
    const next = { ...(r[f] ?? {}) } as { method?: string; threshold?: number };
    if (k === 'method') next.method = v || undefined; else next.threshold = v === '' ? undefined : Number(v);
    return { ...r, [f]: next };
  });
  return (
    <form class="form" onSubmit={save} data-testid="monitor-form">
      <ErrorBox error={error} />
      <div class="row">
        <label>Reference{' '}
          <select aria-label="Reference" value={reference} onChange={(e) => setReference((e.target as HTMLSelectElement).value)}>
            <option value="training">each version's training data (lineage)</option>
            <option value="dataset">a dataset version</option>
          </select>
        </label>
        {reference === 'dataset' && <label>Dataset <input aria-label="Reference dataset" value={dataset} onInput={(e) => setDataset((e.target as HTMLInputElement).value)} /></label>}
        {reference === 'dataset' && <label>Version <input aria-label="Reference version" value={dsVersion} onInput={(e) => setDsVersion((e.target as HTMLInputElement).value)} /></label>}
        <label>Dataset drift when at least this share drifts <input aria-label="Drift share" value={share} size={4} onInput={(e) => setShare((e.target as HTMLInputElement).value)} /></label>
      </div>
      <div class="row">
        <label>Business value KPI <input aria-label="Value name" size={10} placeholder="value" value={valueName} onInput={(e) => setValueName((e.target as HTMLInputElement).value)} /></label>
        <label>per outcome of a labelled answer <input aria-label="Value per outcome" size={36} placeholder="tp=120, fp=-10, tn=0, fn=-50 (or correct=…, incorrect=…)" value={valueText} onInput={(e) => setValueText((e.target as HTMLInputElement).value)} /></label>
      </div>
      <table class="table">
        <thead><tr><th>Watched</th><th>Feature</th><th>Method (default: by reference size)</th><th>Threshold</th></tr></thead>
        <tbody>
          {props.features.map((f) => (
            <tr>
              <td><input type="checkbox" aria-label={`Watch ${f}`} checked={watched.includes(f)}
                onChange={(e) => setWatched((w) => ((e.target as HTMLInputElement).checked ? [...w, f] : w.filter((x) => x !== f)))} /></td>
              <td>{f}</td>
              <td><select aria-label={`Method for ${f}`} value={rules[f]?.method ?? ''} onChange={(e) => setRule(f, 'method', (e.target as HTMLSelectElement).value)}>
                {['', 'ks', 'wasserstein', 'psi', 'jensenshannon', 'chisquare', 'l_infinity'].map((m) => <option value={m}>{m || 'default'}</option>)}
              </select></td>
              <td><input aria-label={`Threshold for ${f}`} size={6} value={rules[f]?.threshold ?? ''} onInput={(e) => setRule(f, 'threshold', (e.target as HTMLInputElement).value)} /></td>
            </tr>
          ))}
        </tbody>
      </table>
      <button type="submit">Save monitor</button>
      {saved && <span class="muted" data-testid="monitor-saved"> Saved.</span>}
      {!props.monitor.default && <p class="hint">Last changed by {props.monitor.updated_by} at {props.monitor.updated_at}.</p>}
    </form>
  );
}

const METRICS = ['dataset_drift', 'drift_share', 'feature_drift', 'feature_drifted', 'error_rate', 'availability', 'p99_ms',
  'requests', 'violations', 'kpi', 'auc', 'accuracy', 'rmse', 'estimated_auc', 'estimated_accuracy', 'multivariate_drift',
  'reconstruction_error'];

function Alerts(props: { project: string; endpoint: string; features: string[] }) {
  const url = `${base(props.project)}/alerts`;
  const list = useResource<{ rules: AlertRule[] }>(url, { pollMs: 5000 });
  const rules = (list.data?.rules ?? []).filter((r) => r.endpoint === props.endpoint);
  const [error, setError] = useState<string | null>(null);
  const [form, setForm] = useState({ name: '', metric: 'feature_drifted', feature: props.features[0] ?? '', comparator: '>=', threshold: '1', window: '24h', for: '0s', severity: 'warning' });
  const act = async (method: string, path: string, body?: unknown) => {
    setError(null);
    try {
      await api(method, path, body);
      list.reload();
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  const needsFeature = ['feature_drift', 'feature_drifted', 'kpi'].includes(form.metric);
  const create = (e: Event) => {
    e.preventDefault();
    const body: Record<string, unknown> = { ...form, endpoint: props.endpoint, threshold: Number(form.threshold) };
    if (!needsFeature) delete body.feature;
    act('POST', `${url}/rules`, body);
  };
  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  return (
    <Card title="Alerts">
      <ErrorBox error={error ?? list.error} />
      {rules.length === 0 && <p class="muted">No alert rules on this endpoint.</p>}
      {rules.length > 0 && (
        <table class="table" data-testid="alerts-table">
          <thead><tr><th>Alert</th><th>State</th><th>Condition</th><th>Value</th><th>Since</th><th /></tr></thead>
          <tbody>
            {rules.map((r) => (
              <tr data-alert={r.name}>
                <td>{r.name} <span class="muted">({r.severity})</span></td>
                <td><span class={`badge ${r.state === 'firing' ? 'bad' : r.state === 'pending' ? 'warn' : 'ok'}`}>{r.state}</span>
                  {r.silenced && <span class="badge">silenced</span>}{r.acknowledged_by && <span class="badge">ack {r.acknowledged_by}</span>}</td>
                <td>{r.metric}{r.feature ? `(${r.feature})` : ''} {r.comparator} {r.threshold} over {r.window}, for {r.for}</td>
                <td>{show(r.value)}</td>
                <td>{r.since.replace('T', ' ').slice(0, 19)}</td>
                <td>
                  {(r.state === 'firing' || r.state === 'pending') && !r.acknowledged_by && <button class="link" onClick={() => act('POST', `${url}/rules/${encodeURIComponent(r.name)}/acknowledge`, {})}>Acknowledge</button>}
                  {r.silenced
                    ? <button class="link" onClick={() => act('POST', `${url}/rules/${encodeURIComponent(r.name)}/silence`, { until: '' })}>Unsilence</button>
                    : <button class="link" onClick={() => act('POST', `${url}/rules/${encodeURIComponent(r.name)}/silence`, { for: '1h' })}>Silence 1 h</button>}
                  <button class="link" onClick={() => act('DELETE', `${url}/rules/${encodeURIComponent(r.name)}`)}>Delete</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>New rule</h3>
      <form class="row" onSubmit={create} data-testid="alert-form">
        <label>Name <input aria-label="Alert name" value={form.name} onInput={set('name')} /></label>
        <label>Figure <select aria-label="Alert metric" value={form.metric} onChange={set('metric')}>{METRICS.map((m) => <option value={m}>{m}</option>)}</select></label>
        {needsFeature && <label>{form.metric === 'kpi' ? 'KPI' : 'Feature'} <input aria-label="Alert feature" value={form.feature} onInput={set('feature')} list="alert-features" /></label>}
        <datalist id="alert-features">{props.features.map((f) => <option value={f} />)}</datalist>
        <label>When <select aria-label="Alert comparator" value={form.comparator} onChange={set('comparator')}>{['>', '>=', '<', '<='].map((c) => <option value={c}>{c}</option>)}</select></label>
        <input aria-label="Alert threshold" size={6} value={form.threshold} onInput={set('threshold')} />
        <label>over <select aria-label="Alert window" value={form.window} onChange={set('window')}>{WINDOWS.map((w) => <option value={w}>{w}</option>)}</select></label>
        <label>for <input aria-label="Alert for" size={4} value={form.for} onInput={set('for')} /></label>
        <label>Severity <select aria-label="Alert severity" value={form.severity} onChange={set('severity')}>{['info', 'warning', 'critical'].map((v) => <option value={v}>{v}</option>)}</select></label>
        <button type="submit">Create rule</button>
      </form>
    </Card>
  );
}

// Drift, multivariate drift, fit (estimated and realised) and value per step of the window.
function TrendCard(props: { trend: Trend | null | undefined; error: unknown }) {
  const t = props.trend;
  const x = (p: TrendPoint) => p.start.slice(5, 16).replace('T', ' ');
  const pts = t?.points ?? [];
  const line = (label: string, y: (p: TrendPoint) => number | null | undefined) => ({ label, points: pts.map((p) => ({ x: x(p), y: y(p) ?? null })) });
  const busy = pts.some((p) => p.rows > 0);
  const fit = pts.some((p) => p.estimated_auc !== null || p.realised.auc !== undefined);
  const rmse = pts.some((p) => p.realised.rmse !== undefined);
  const value = pts.some((p) => p.value !== null);
  return (
    <Card title="Trends">
      <ErrorBox error={props.error as string | null} />
      {t && !busy && <p class="muted">No logged traffic in this window.</p>}
      {t && busy && <div data-testid="trend">
        <p class="hint">Version v{t.version}, one point per {t.step}.</p>
        <h3>Share of features drifting</h3>
        <LineChart categorical height={160} series={[line('share drifting', (p) => (p.rows ? p.share : null))]} />
        {pts.some((p) => p.reconstruction_error !== null) && <>
          <h3>Reconstruction error (multivariate drift) and its expected band</h3>
          <LineChart categorical height={160} series={[line('error', (p) => p.reconstruction_error),
            line('upper', (p) => p.reconstruction_band?.[1]), line('lower', (p) => p.reconstruction_band?.[0])]} />
        </>}
        {fit && <>
          <h3>AUC: estimated (CBPE) and realised from ground truth</h3>
          <LineChart categorical height={160} series={[line('estimated', (p) => p.estimated_auc), line('realised', (p) => p.realised.auc)]} />
        </>}
        {rmse && <><h3>RMSE from ground truth</h3><LineChart categorical height={160} series={[line('rmse', (p) => p.realised.rmse)]} /></>}
        {value && <><h3>Value ({t.value_name}) per {t.step}</h3><LineChart categorical height={160} series={[line(t.value_name ?? 'value', (p) => p.value)]} /></>}
      </div>}
    </Card>
  );
}

export function EndpointMonitoring(props: { project: string; name: string }) {
  const url = `${base(props.project)}/endpoints/${encodeURIComponent(props.name)}`;
  const [window, setWindow] = useState('24h');
  const drift = useResource<Drift>(`${url}/monitoring/drift?window=${window}`, { pollMs: 15000 });
  const quality = useResource<Quality>(`${url}/monitoring/quality?window=${window}`, { pollMs: 15000 });
  const health = useResource<Health>(`${url}/monitoring/health?window=${window}`, { pollMs: 15000 });
  const kpis = useResource<Kpis>(`${url}/monitoring/kpis?window=${window}`);
  const trend = useResource<Trend>(`${url}/monitoring/trend?window=${window}`, { pollMs: 30000 });
  const monitor = useResource<Monitor>(`${url}/monitoring/monitor`);
  const [selected, setSelected] = useState<string | null>(null);
  const [kpiName, setKpiName] = useState('revenue');
  const [kpiValue, setKpiValue] = useState('');
  const [kpiError, setKpiError] = useState<string | null>(null);
  const d = drift.data;
  const all = [...(d?.features ?? []), ...(d?.outputs ?? [])];
  const pick = all.find((f) => f.name === selected) ?? d?.features.find((f) => f.drifted) ?? d?.features[0] ?? null;
  const h = health.data;
  const series = (key: 'requests' | 'p99_ms' | 'availability') => (h?.versions ?? []).map((v) => ({
    label: `v${v.version}`, points: v.points.map((p) => ({ x: p.time.slice(5, 16).replace('T', ' '), y: p[key] })),
  }));
  const postKpi = async (e: Event) => {
    e.preventDefault();
    setKpiError(null);
    try {
      await api('POST', `${url}/monitoring/kpis`, { name: kpiName, value: Number(kpiValue) });
      setKpiValue('');
      kpis.reload();
    } catch (err) {
      setKpiError(errorMessage(err));
    }
  };
  return (
    <Page title={`Monitoring: ${props.name}`} subtitle={`Project ${props.project}`}
      actions={<>
        <a href={`#/endpoints/${encodeURIComponent(props.project)}/${encodeURIComponent(props.name)}`}>Endpoint</a>{' '}
        <label>Window{' '}
          <select aria-label="Monitoring window" value={window} onChange={(e) => setWindow((e.target as HTMLSelectElement).value)}>
            {WINDOWS.map((w) => <option value={w}>{w}</option>)}
          </select>
        </label>
      </>}>
      <ErrorBox error={drift.error ?? quality.error ?? health.error} />
      <Card title="Data drift">
        {d && (
          <p data-testid="drift-verdict">
            {d.drift.dataset_drift ? <span class="badge bad">dataset drift</span> : <span class="badge ok">no dataset drift</span>}{' '}
            {d.drift.features_drifted} of {d.drift.features_checked} features drifted (dataset drift at a share of {d.drift.drift_share});
            version v{d.version} against {d.reference || 'no reference'}, {d.rows} rows in {d.window}.
          </p>
        )}
        {d?.note && <p class="hint">{d.note}</p>}
        {d && d.features.length > 0 && <DriftTable rows={d.features} selected={pick?.name ?? null} onSelect={setSelected} testid="drift-table" />}
        {pick && <><h3>{pick.name}: reference against current</h3><DriftChart f={pick} /></>}
        {d && (
          <p data-testid="multivariate">
            <strong>Multivariate drift</strong> (PCA reconstruction error):{' '}
            {d.multivariate.available
              ? <>{d.multivariate.drifted ? <span class="badge bad">drift</span> : <span class="badge ok">ok</span>}{' '}
                mean error {fmtNumber(d.multivariate.error!)} over {d.multivariate.rows} rows; expected {fmtNumber(d.multivariate.lower!)}–{fmtNumber(d.multivariate.upper!)}
                {' '}(reference chunks of {d.multivariate.chunk_rows} rows; {d.multivariate.components} of {d.multivariate.features} components keep {(100 * d.multivariate.explained_variance!).toFixed(0)}% of the variance).</>
              : <span class="muted">{d.multivariate.note}</span>}
          </p>
        )}
      </Card>
      <TrendCard trend={trend.data} error={trend.error} />
      {d && d.outputs.length > 0 && (
        <Card title="Prediction drift">
          <DriftTable rows={d.outputs} selected={pick?.name ?? null} onSelect={setSelected} testid="output-drift-table" />
        </Card>
      )}
      <Card title="Data quality in production">
        {quality.data && <p>{quality.data.rows} rows answered in {quality.data.requests} logged requests; {quality.data.refused} requests refused for their content.</p>}
        {quality.data && quality.data.violations.length === 0 && <p class="muted">No violations in this window.</p>}
        {quality.data && quality.data.violations.length > 0 && (
          <table class="table" data-testid="violations-table">
            <thead><tr><th>Feature</th><th>Check</th><th>Description</th></tr></thead>
            <tbody>{quality.data.violations.map((v) => <tr><td>{v.feature_name}</td><td>{v.constraint_check_type}</td><td>{v.description}</td></tr>)}</tbody>
          </table>
        )}
      </Card>
      <Card title="Service health">
        {h && <p data-testid="health-total">{h.total.requests} requests, {h.total.errors} errors, availability {(100 * h.total.availability).toFixed(2)}%, p99 {h.total.p99_ms.toFixed(2)} ms (points per {h.step}).</p>}
        {h && h.versions.length > 0 && <>
          <h3>Requests</h3><LineChart categorical series={series('requests')} height={180} />
          <h3>Latency p99 (ms)</h3><LineChart categorical series={series('p99_ms')} height={180} />
        </>}
      </Card>
      <Card title="Business value (KPIs)">
        <ErrorBox error={kpiError} />
        {(kpis.data?.kpis ?? []).length === 0 && <p class="muted">No KPI values in this window.</p>}
        {(kpis.data?.kpis ?? []).length > 0 && (
          <table class="table" data-testid="kpi-table">
            <thead><tr><th>KPI</th><th>Sum</th><th>Values</th><th>Source</th></tr></thead>
            <tbody>{kpis.data!.kpis.map((k) => <tr><td>{k.name}</td><td>{fmtNumber(k.sum)}</td><td>{k.count}</td>
              <td>{k.source === 'ground_truth' ? `ground truth (${Object.entries(k.outcomes ?? {}).map(([o, n]) => `${o} ${n}`).join(', ')})` : 'posted'}</td></tr>)}</tbody>
          </table>
        )}
        <form class="row" onSubmit={postKpi}>
          <label>KPI <input aria-label="KPI name" value={kpiName} onInput={(e) => setKpiName((e.target as HTMLInputElement).value)} /></label>
          <label>Value <input aria-label="KPI value" value={kpiValue} onInput={(e) => setKpiValue((e.target as HTMLInputElement).value)} /></label>
          <button type="submit">Post</button>
        </form>
      </Card>
      <Alerts project={props.project} endpoint={props.name} features={monitor.data?.served_features ?? []} />
      <Card title="Monitor">
        {monitor.data && (
          <ConfigForm key={props.name} url={url} monitor={monitor.data} features={monitor.data.served_features}
            onSaved={() => { monitor.reload(); drift.reload(); }} />
        )}
      </Card>
    </Page>
  );
}
