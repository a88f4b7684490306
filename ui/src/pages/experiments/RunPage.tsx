import { useEffect, useState } from 'preact/hooks';
import { api, type Artifact, errorMessage } from '../../api';
import { Card, ErrorBox, formatBytes, Page } from '../../components';
import { BarChart, LineChart, XYChart } from '../data/charts';
import { fmt, kv, type Metric, mlflow, type Run, when } from './mlflow';

const TEXT = /\.(txt|json|md|csv|diff|yaml|yml|log|py)$/i;
const IMAGE = /\.(png|jpe?g|gif|webp|svg)$/i;

interface Evaluation {
  roc?: [number, number][]; pr?: [number, number][];
  calibration?: { predicted: number; observed: number; count: number }[];
  confusion_matrix?: number[][]; importance?: { feature: string; gain: number }[];
  residuals?: Record<string, number>; train_rows?: number; holdout_rows?: number; classes?: string[];
}

// train/X and valid/X share a chart (learning curves); other keys get their own.
function groupCurves(curves: [string, Metric[]][]): [string, [string, Metric[]][]][] {
  const groups = new Map<string, [string, Metric[]][]>();
  for (const [key, pts] of curves) {
    const m = /^(train|valid)\/(.+)$/.exec(key);
    const title = m ? m[2] : key;
    groups.set(title, [...(groups.get(title) ?? []), [key, pts]]);
  }
  return [...groups.entries()];
}

// A training run's holdout evaluation: ROC, precision-recall and calibration curves, the
// confusion matrix and the features' importance (gain).
function EvaluationCard(props: { ev: Evaluation; classes?: string[] }) {
  const ev = props.ev;
  const cm = ev.confusion_matrix;
  const labels = props.classes ?? cm?.map((_, i) => String(i)) ?? [];
  return (
    <Card title={`Evaluation on the holdout (${ev.holdout_rows ?? '?'} rows; trained on ${ev.train_rows ?? '?'})`}>
      <div class="grid-3" data-testid="evaluation">
        {ev.roc && <div><h3>ROC</h3><XYChart testid="roc-chart" xLabel="false positive rate" yLabel="true positive rate"
          series={[{ label: 'model', points: ev.roc }, { label: 'chance', points: [[0, 0], [1, 1]], dashed: true }]} /></div>}
        {ev.pr && <div><h3>Precision–recall</h3><XYChart testid="pr-chart" xLabel="recall" yLabel="precision" series={[{ label: 'model', points: ev.pr }]} /></div>}
        {ev.calibration && <div><h3>Calibration</h3><XYChart testid="calibration-chart" xLabel="predicted probability" yLabel="observed frequency"
          series={[{ label: 'model', points: ev.calibration.map((c) => [c.predicted, c.observed] as [number, number]) },
            { label: 'perfect', points: [[0, 0], [1, 1]], dashed: true }]} /></div>}
      </div>
      <div class="grid-2">
        {cm && (
          <div>
            <h3>Confusion matrix</h3>
            <table class="table confusion" data-testid="confusion-matrix">
              <thead><tr><th>true \ predicted</th>{labels.map((l) => <th>{l}</th>)}</tr></thead>
              <tbody>{cm.map((row, i) => <tr><th>{labels[i]}</th>{row.map((v, j) => <td class={i === j ? 'hit' : ''}>{v}</td>)}</tr>)}</tbody>
            </table>
          </div>
        )}
        {ev.residuals && (
          <div><h3>Residuals</h3><table class="table"><tbody>
            {Object.entries(ev.residuals).map(([k, v]) => <tr><td>{k}</td><td>{fmt(v)}</td></tr>)}
          </tbody></table></div>
        )}
        {ev.importance && ev.importance.length > 0 && (
          <div data-testid="importance">
            <h3>Feature importance (gain)</h3>
            <BarChart horizontal label="gain" labels={ev.importance.slice(0, 15).map((f) => f.feature)} values={ev.importance.slice(0, 15).map((f) => f.gain)} />
          </div>
        )}
      </div>
    </Card>
  );
}

// One run: params, metric charts per key (with steps), tags, code version, inputs, artifacts.
export function RunPage(props: { project: string; id: string }) {
  const [run, setRun] = useState<Run | null>(null);
  const [history, setHistory] = useState<Record<string, Metric[]>>({});
  const [artifacts, setArtifacts] = useState<Artifact[]>([]);
  const [preview, setPreview] = useState<{ name: string; text?: string; image?: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [evaluation, setEvaluation] = useState<Evaluation | null>(null);
  const base = `/api/v1/projects/${encodeURIComponent(props.project)}`;

  useEffect(() => {
    (async () => {
      try {
        const r = (await mlflow<{ run: Run }>(props.project, `/runs/get?run_id=${props.id}`)).run;
        setRun(r);
        const h: Record<string, Metric[]> = {};
        for (const m of r.data.metrics ?? []) {
          const q = new URLSearchParams({ run_id: props.id, metric_key: m.key });
          h[m.key] = (await mlflow<{ metrics: Metric[] }>(props.project, `/metrics/get-history?${q}`)).metrics;
        }
        setHistory(h);
        const a = await api<{ artifacts: Artifact[] }>('GET', `${base}/artifacts?prefix=${encodeURIComponent(`runs/${props.id}/artifacts/`)}`);
        setArtifacts(a.artifacts);
        // A training job's evaluation on the holdout, for the plots below.
        const ev = a.artifacts.find((x) => x.name.endsWith('/artifacts/eval/evaluation.json'));
        if (ev) {
          const res = await fetch(`${base}/artifacts/${ev.name.split('/').map(encodeURIComponent).join('/')}`, {
            headers: { Authorization: `Bearer ${sessionStorage.getItem('kade.token')}` },
          });
          if (res.ok) setEvaluation(await res.json());
        }
      } catch (e) {
        setError(errorMessage(e));
      }
    })();
  }, [props.id]);

  async function open(a: Artifact) {
    try {
      const res = await fetch(`${base}/artifacts/${a.name.split('/').map(encodeURIComponent).join('/')}`, {
        headers: { Authorization: `Bearer ${sessionStorage.getItem('kade.token')}` },
      });
      if (!res.ok) throw new Error(`${a.name}: HTTP ${res.status}`);
      if (preview?.image) URL.revokeObjectURL(preview.image);
      if (IMAGE.test(a.name)) {
        // Shown through <img> (scripts in an SVG do not run there), from a blob URL because
        // the download needs the bearer token.
        setPreview({ name: a.name, image: URL.createObjectURL(await res.blob()) });
        return;
      }
      let text = await res.text();
      if (a.name.endsWith('.json')) {
        try { text = JSON.stringify(JSON.parse(text), null, 2); } catch { /* shown as is */ }
      }
      setPreview({ name: a.name, text: text.slice(0, 200000) });
    } catch (e) {
      setError(errorMessage(e));
    }
  }

  if (!run) return <Page title="Run"><ErrorBox error={error} />{!error && <p class="muted">Loading…</p>}</Page>;
  const tags = kv(run.data.tags);
  const curves = Object.entries(history).filter(([, pts]) => pts.length > 1);
  const finals = Object.entries(history).filter(([, pts]) => pts.length <= 1);
  return (
    <Page title={run.info.run_name} subtitle={`${run.info.status} · ${run.info.user_id} · started ${when(run.info.start_time)} · ended ${when(run.info.end_time)}`}
      actions={<a class="button-link" href={`#/experiments/${encodeURIComponent(props.project)}/${run.info.experiment_id}`}>Experiment</a>}>
      <ErrorBox error={error} />
      <div class="grid-2">
        <Card title="Parameters">
          <table class="table" data-testid="param-table">
            <tbody>{(run.data.params ?? []).map((p) => <tr><td>{p.key}</td><td><code>{p.value}</code></td></tr>)}</tbody>
          </table>
        </Card>
        <Card title="Metrics">
          <table class="table" data-testid="metric-table">
            <tbody>{(run.data.metrics ?? []).map((m) => <tr><td>{m.key}</td><td>{fmt(m.value)}</td><td class="muted">step {m.step}</td></tr>)}</tbody>
          </table>
        </Card>
      </div>
      {curves.length > 0 && (
        <Card title="Metric history">
          <div class="column-grid">
            {groupCurves(curves).map(([title, series]) => (
              <div>
                <h2>{title}</h2>
                <LineChart series={series.map(([key, pts]) => ({ label: key, points: pts.map((p) => ({ x: p.step, y: typeof p.value === 'number' ? p.value : null })) }))} />
              </div>
            ))}
          </div>
          {finals.length > 0 && <p class="hint">Single-value metrics: {finals.map(([k]) => k).join(', ')}</p>}
        </Card>
      )}
      {evaluation && <EvaluationCard ev={evaluation} classes={evaluation.classes} />}
      <div class="grid-2">
        <Card title="Code and data">
          <dl class="stats">
            <dt>git commit</dt><dd><code>{tags['mlflow.source.git.commit'] ?? '—'}</code></dd>
            <dt>branch</dt><dd>{tags['mlflow.source.git.branch'] ?? '—'}</dd>
            <dt>dirty tree</dt><dd>{tags['kade.git.dirty'] ?? '—'}</dd>
            <dt>entry point</dt><dd>{tags['mlflow.source.name'] ?? '—'}</dd>
            <dt>command</dt><dd><code>{tags['kade.command_line'] ?? '—'}</code></dd>
          </dl>
          <h2>Dataset inputs</h2>
          {(run.inputs?.dataset_inputs ?? []).length === 0 ? <p class="muted">None recorded.</p> : (
            <ul data-testid="inputs">
              {run.inputs!.dataset_inputs!.map((d) => {
                const m = /datasets\/([^@]+)@(\d+)/.exec(d.dataset.source);
                const role = kv(d.tags)['mlflow.data.context'];
                return <li>{m ? <a href={`#/data/${encodeURIComponent(props.project)}/${m[1]}`}>{m[1]}@{m[2]}</a> : d.dataset.name} <span class="badge">{role}</span></li>;
              })}
            </ul>
          )}
        </Card>
        <Card title="Tags and artifacts">
          <table class="table">
            <tbody>{Object.entries(tags).filter(([k]) => !k.startsWith('mlflow.source') && !k.startsWith('kade.git') && k !== 'kade.command_line').map(([k, v]) => <tr><td>{k}</td><td>{v}</td></tr>)}</tbody>
          </table>
          <h2>Artifacts</h2>
          {artifacts.length === 0 ? <p class="muted">None.</p> : (
            <table class="table" data-testid="artifact-table">
              <tbody>
                {artifacts.map((a) => (
                  <tr><td>{TEXT.test(a.name) || IMAGE.test(a.name) ? <a href="javascript:void 0" onClick={() => open(a)}>{a.name.split('/').slice(3).join('/')}</a> : a.name.split('/').slice(3).join('/')}</td><td>{formatBytes(a.size)}</td></tr>
                ))}
              </tbody>
            </table>
          )}
          {preview && <><h2>{preview.name.split('/').pop()}</h2>
            {preview.image ? <img class="preview-image" data-testid="artifact-image" src={preview.image} alt={preview.name.split('/').pop()} />
              : <pre class="preview">{preview.text}</pre>}</>}
        </Card>
      </div>
    </Page>
  );
}
