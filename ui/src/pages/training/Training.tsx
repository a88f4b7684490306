import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, errorMessage } from '../../api';
import { usePoll } from '../../hooks';
import { useProjects } from '../models/Models';
import { Card, ErrorBox, Page } from '../../components';
import { navigate } from '../../router';
import { LineChart } from '../data/charts';

export interface Job {
  id: string; kind: string; status: string; attempts: number; max_attempts: number;
  spec: { dataset: string; version: string; target: string; algorithm: string; params: Record<string, string>; search?: unknown };
  run_id: string; error: string; created_by: string; created_at: string; started_at: string | null; finished_at: string | null;
  result: { metrics?: Record<string, number>; best_run_id?: string; best_trial?: number; metric?: string; best_value?: number; trials?: number };
}
interface DatasetInfo { name: string; roles: { target?: string }; latest_version: number }

const base = (p: string) => `/api/v1/projects/${encodeURIComponent(p)}`;
const live = (s: string) => s === 'queued' || s === 'running';

export function StatusBadge(props: { status: string }) {
  return <span class={`badge status-${props.status}`} data-testid="job-status">{props.status}</span>;
}

// Training: submit a job (one model or a search) and follow the project's jobs.
export function TrainingPage(props: { project?: string }) {
  const [projects] = useProjects();
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [datasets, setDatasets] = useState<DatasetInfo[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [form, setForm] = useState({ dataset: '', version: 'latest', target: '', algorithm: 'xgboost', max_depth: '6', eta: '0.1', rounds: '100', search: '', trials: '10' });
  const project = props.project ?? projects.find((p) => p.name === 'demo')?.name ?? projects[0]?.name;

  useEffect(() => {
    if (!project) return;
    api<{ datasets: DatasetInfo[] }>('GET', `${base(project)}/datasets`).then((r) => {
      setDatasets(r.datasets);
      const first = r.datasets[0];
      if (first) setForm((f) => ({ ...f, dataset: first.name, target: first.roles?.target ?? '' }));
    }).catch((e) => setError(errorMessage(e)));
  }, [project]);
  // Polled while anything is queued or running (and the tab is visible).
  usePoll(async (alive) => {
    if (!project) return false;
    try {
      const r = await api<{ jobs: Job[] }>('GET', `${base(project)}/jobs`);
      if (!alive()) return false;
      setJobs(r.jobs);
      return r.jobs.some((j) => live(j.status));
    } catch (e) {
      if (alive()) setError(errorMessage(e));
      return !(e instanceof ApiError && e.status === 404);
    }
  }, 1500, [project]);

  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    const spec: Record<string, unknown> = {
      dataset: form.dataset, version: form.version || 'latest', algorithm: form.algorithm,
      num_rounds: Number(form.rounds), params: { max_depth: Number(form.max_depth), eta: Number(form.eta) },
    };
    if (form.target) spec.target = form.target;
    if (form.search.trim()) {
      spec.params = {};
      spec.search = { strategy: form.search.includes('..') ? 'random' : 'grid', space: form.search.trim(), trials: Number(form.trials) };
    }
    try {
      const job = await api<Job>('POST', `${base(project!)}/jobs/train`, spec);
      navigate(`/training/${encodeURIComponent(project!)}/${job.id}`);
    } catch (err) {
      setError(errorMessage(err));
    }
  }
  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });

  return (
    <Page title="Training" subtitle="Train XGBoost models on dataset versions, one model or a hyper-parameter search; every job is a tracked run.">
      <ErrorBox error={error} />
      <Card title="New training">
        <form class="train-form" onSubmit={submit} data-testid="train-form">
          <label>Project
            <select aria-label="Project" value={project} onChange={(e) => navigate(`/training/${encodeURIComponent((e.target as HTMLSelectElement).value)}`)}>
              {projects.map((p) => <option value={p.name}>{p.name}</option>)}
            </select>
          </label>
          <label>Dataset
            <select aria-label="Dataset" value={form.dataset} onChange={(e) => {
              const name = (e.target as HTMLSelectElement).value;
              setForm({ ...form, dataset: name, target: datasets.find((d) => d.name === name)?.roles?.target ?? '' });
            }}>
              {datasets.map((d) => <option value={d.name}>{d.name}</option>)}
            </select>
          </label>
          <label>Version <input aria-label="Version" value={form.version} onInput={set('version')} /></label>
          <label>Target <input aria-label="Target" value={form.target} onInput={set('target')} placeholder="declared target" /></label>
          <label>Algorithm
            <select aria-label="Algorithm" value={form.algorithm} onChange={set('algorithm')}>
              <option value="xgboost">XGBoost (boosted trees)</option>
              <option value="random_forest">Random forest</option>
              <option value="linear">Linear / logistic regression</option>
            </select>
          </label>
          <label>max_depth <input aria-label="max_depth" value={form.max_depth} onInput={set('max_depth')} /></label>
          <label>eta <input aria-label="eta" value={form.eta} onInput={set('eta')} /></label>
          <label>Rounds <input aria-label="Rounds" value={form.rounds} onInput={set('rounds')} /></label>
          <label class="wide">Search space (optional) <input aria-label="Search space" value={form.search} onInput={set('search')} placeholder="max_depth=4,6,8;eta=0.05..0.3" /></label>
          <label>Trials (random) <input aria-label="Trials" value={form.trials} onInput={set('trials')} /></label>
          <div class="wide"><button type="submit">Train</button></div>
        </form>
      </Card>
      <Card title="Jobs">
        {jobs && jobs.length === 0 && <p class="muted">No jobs yet.</p>}
        {jobs && jobs.length > 0 && (
          <table class="table" data-testid="job-table">
            <thead><tr><th>Job</th><th>Status</th><th>Dataset</th><th>Target</th><th>Kind</th><th>Result</th><th>By</th><th>Created</th></tr></thead>
            <tbody>
              {jobs.map((j) => (
                <tr class="clickable" onClick={() => navigate(`/training/${encodeURIComponent(project!)}/${j.id}`)}>
                  <td><a href={`#/training/${encodeURIComponent(project!)}/${j.id}`}>{j.id}</a></td>
                  <td><StatusBadge status={j.status} /></td>
                  <td>{j.spec.dataset}@{j.spec.version}</td>
                  <td>{j.spec.target}</td>
                  <td>{j.spec.search ? `search (${j.result.trials ?? '…'} trials)` : j.spec.algorithm}</td>
                  <td>{summary(j)}</td>
                  <td>{j.created_by}</td>
                  <td>{j.created_at.replace('T', ' ').slice(0, 16)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </Page>
  );
}

function summary(j: Job): string {
  if (j.status === 'failed') return j.error.slice(0, 60);
  if (j.result.best_value !== undefined) return `best ${j.result.metric} ${j.result.best_value.toFixed(4)}`;
  const m = j.result.metrics ?? {};
  if (m.auc !== undefined) return `AUC ${m.auc.toFixed(4)}`;
  if (m.rmse !== undefined) return `RMSE ${m.rmse.toFixed(4)}`;
  if (m.accuracy !== undefined) return `accuracy ${m.accuracy.toFixed(4)}`;
  return '';
}

interface SearchResults {
  metric: string; direction: string; best_trial: number; best_run_id: string;
  trials: { trial: number; params: Record<string, string>; run_id?: string; metrics?: Record<string, number>; error?: string }[];
}

// A search's trials: a table sorted best first and a parallel-coordinates chart of the
// parameters against the search metric (each axis scaled to its range).
function SearchView(props: { project: string; results: SearchResults }) {
  const { metric, direction, trials } = props.results;
  const ok = trials.filter((t) => t.metrics && typeof t.metrics[metric] === 'number');
  const sorted = [...ok].sort((a, b) => (direction === 'max' ? -1 : 1) * (a.metrics![metric] - b.metrics![metric]));
  const params = [...new Set(trials.flatMap((t) => Object.keys(t.params)))].sort();
  const axes = [...params, metric];
  const raw = ok.map((t) => axes.map((a) => (a === metric ? t.metrics![metric] : Number(t.params[a]))));
  const scaled = raw.map((row) => row.map((v, j) => {
    const col = raw.map((r) => r[j]);
    const lo = Math.min(...col), hi = Math.max(...col);
    return hi > lo ? (v - lo) / (hi - lo) : 0.5;
  }));
  return (
    <Card title={`Search: ${trials.length} trials, best by ${metric} (${direction})`}>
      <div class="grid-2">
        <table class="table" data-testid="search-table">
          <thead><tr><th>Trial</th>{params.map((p) => <th>{p}</th>)}<th>{metric}</th><th>Run</th></tr></thead>
          <tbody>
            {sorted.map((t) => (
              <tr class={t.trial === props.results.best_trial ? 'best' : ''}>
                <td>{t.trial}{t.trial === props.results.best_trial && <span class="badge ok">best</span>}</td>
                {params.map((p) => <td>{t.params[p]}</td>)}
                <td>{t.metrics![metric].toFixed(4)}</td>
                <td><a href={`#/runs/${encodeURIComponent(props.project)}/${t.run_id}`}>{t.run_id?.slice(0, 8)}</a></td>
              </tr>
            ))}
            {trials.filter((t) => t.error).map((t) => <tr><td>{t.trial}</td><td colSpan={params.length + 2} class="error">{t.error}</td></tr>)}
          </tbody>
        </table>
        <div data-testid="search-parallel">
          <LineChart categorical height={260} series={ok.map((t, i) => ({ label: `trial ${t.trial}`, points: axes.map((a, j) => ({ x: a, y: scaled[i][j] })) }))}
            tooltip={(si, j) => `trial ${ok[si].trial}: ${axes[j]} = ${raw[si][j]}`} />
        </div>
      </div>
    </Card>
  );
}

// One job: status, spec, result and its log, followed live until the job ends.
export function JobPage(props: { project: string; id: string }) {
  const [job, setJob] = useState<Job | null>(null);
  const [lines, setLines] = useState<{ seq: number; time: string; line: string }[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [search, setSearch] = useState<SearchResults | null>(null);
  useEffect(() => {
    if (!job || job.status !== 'succeeded' || !job.spec.search || !job.run_id) return;
    fetch(`${base(props.project)}/artifacts/runs/${job.run_id}/artifacts/search/results.json`, {
      headers: { Authorization: `Bearer ${sessionStorage.getItem('kade.token')}` },
    }).then((r) => (r.ok ? r.json() : null)).then(setSearch).catch(() => setSearch(null));
  }, [job?.status, job?.run_id]);
  // The log is read on from the last line seen, every second until the job ends.
  const after = useRef(0);
  usePoll(async (alive) => {
    try {
      const r = await api<{ lines: { seq: number; time: string; line: string }[]; ended: boolean }>(
        'GET', `${base(props.project)}/jobs/${props.id}/logs?after=${after.current}`);
      if (!alive()) return false;
      if (r.lines.length) {
        after.current = r.lines[r.lines.length - 1].seq;
        setLines((old) => [...old, ...r.lines]);
      }
      const j = await api<Job>('GET', `${base(props.project)}/jobs/${props.id}`);
      if (!alive()) return false;
      setJob(j);
      return !r.ended;
    } catch (e) {
      if (alive()) setError(errorMessage(e));
      return !(e instanceof ApiError && e.status === 404);
    }
  }, 1000, [props.project, props.id]);

  async function cancel() {
    try {
      setJob(await api<Job>('POST', `${base(props.project)}/jobs/${props.id}/cancel`));
    } catch (e) {
      setError(errorMessage(e));
    }
  }

  if (!job) return <Page title="Job"><ErrorBox error={error} />{!error && <p class="muted">Loading…</p>}</Page>;
  const runLink = (id: string) => <a href={`#/runs/${encodeURIComponent(props.project)}/${id}`}>{id}</a>;
  return (
    <Page title={`Job ${job.id}`} subtitle={`${job.spec.search ? 'hyper-parameter search' : job.spec.algorithm} on ${job.spec.dataset}@${job.spec.version} for '${job.spec.target}' · by ${job.created_by}`}
      actions={<>{live(job.status) && <button onClick={cancel}>Cancel</button>}<a class="button-link" href={`#/training/${encodeURIComponent(props.project)}`}>All jobs</a></>}>
      <ErrorBox error={error} />
      <div class="grid-2">
        <Card title="Status">
          <p><StatusBadge status={job.status} /> attempt {job.attempts} of {job.max_attempts}</p>
          {job.error && <p class="error">{job.error}</p>}
          {job.run_id && <p>Run: {runLink(job.run_id)}</p>}
          {job.result.best_run_id && <p data-testid="best-run">Best trial {job.result.best_trial}: {runLink(job.result.best_run_id)} ({job.result.metric} {job.result.best_value?.toFixed(4)})</p>}
          {job.result.metrics && (
            <table class="table" data-testid="job-metrics"><tbody>
              {Object.entries(job.result.metrics).map(([k, v]) => <tr><td>{k}</td><td>{typeof v === 'number' ? v.toFixed(4) : String(v)}</td></tr>)}
            </tbody></table>
          )}
        </Card>
        <Card title="Spec"><pre class="preview">{JSON.stringify(job.spec, null, 2)}</pre></Card>
      </div>
      {search && <SearchView project={props.project} results={search} />}
      <Card title="Log">
        <pre class="preview log" data-testid="job-log">{lines.map((l) => `${l.time.slice(11, 23)}  ${l.line}`).join('\n')}</pre>
      </Card>
    </Page>
  );
}
