// Batch inference: run a scoring job now, schedules with their next run and history, and the
// recent jobs with links to the datasets they wrote.
import { useEffect, useState } from 'preact/hooks';
import { api, errorMessage } from '../../api';
import { Card, ErrorBox, Page } from '../../components';
import { StatusBadge } from '../training/Training';
import { base, ProjectPicker, useProjects } from '../models/Models';

interface BatchJob {
  id: string; status: string; error: string; created_at: string; created_by: string;
  spec: { model: string; version: string; dataset: string; dataset_version: string; output: string; schedule?: string };
  result: { rows?: number; output?: string; output_version?: number; model_version?: number; seconds?: number };
}
interface Schedule { name: string; cron: string; timezone: string; enabled: boolean; next_run_at: string | null; spec: BatchJob['spec']; history: { id: string; status: string }[] }

export function BatchPage(props: { project?: string }) {
  const [projects, perr] = useProjects();
  const project = props.project ?? projects.find((p) => p.name === 'demo')?.name ?? projects[0]?.name;
  const [jobs, setJobs] = useState<BatchJob[]>([]);
  const [schedules, setSchedules] = useState<Schedule[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [form, setForm] = useState({ model: 'churn', version: 'champion', dataset: 'churn', dataset_version: 'latest', output: '', name: '', cron: '0 2 * * *', timezone: 'UTC' });
  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });

  useEffect(() => {
    if (!project) return;
    let stop = false;
    let timer: number | undefined;
    const load = async () => {
      try {
        const [j, s] = await Promise.all([
          api<{ jobs: BatchJob[] }>('GET', `${base(project)}/batch/jobs?limit=20`),
          api<{ schedules: Schedule[] }>('GET', `${base(project)}/batch/schedules`),
        ]);
        if (stop) return;
        setJobs(j.jobs);
        setSchedules(s.schedules);
      } catch (e) {
        setError(errorMessage(e));
      }
      if (!stop) timer = window.setTimeout(load, 2000);
    };
    load();
    return () => { stop = true; clearTimeout(timer); };
  }, [project]);

  const spec = () => {
    const s: Record<string, unknown> = { model: form.model, version: form.version, dataset: form.dataset, dataset_version: form.dataset_version };
    if (form.output) s.output = form.output;
    return s;
  };
  async function run(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      const j = await api<BatchJob>('POST', `${base(project!)}/batch/jobs`, spec());
      setJobs([j, ...jobs]);
    } catch (err) {
      setError(errorMessage(err));
    }
  }
  async function schedule(e: Event) {
    e.preventDefault();
    setError(null);
    try {
      const s = await api<Schedule>('POST', `${base(project!)}/batch/schedules`, { name: form.name, cron: form.cron, timezone: form.timezone, spec: spec() });
      setSchedules([...schedules, s]);
    } catch (err) {
      setError(errorMessage(err));
    }
  }

  return (
    <Page title="Batch" subtitle="Score dataset versions with a model alias or version, now or on a cron schedule; the scored rows become a new dataset version." actions={<ProjectPicker projects={projects} value={project} section="batch" />}>
      <ErrorBox error={error ?? perr} />
      <Card title="Score">
        <form class="train-form" onSubmit={run} data-testid="batch-form">
          <label>Model <input aria-label="Model" value={form.model} onInput={set('model')} /></label>
          <label>Version or alias <input aria-label="Model version" value={form.version} onInput={set('version')} /></label>
          <label>Dataset <input aria-label="Input dataset" value={form.dataset} onInput={set('dataset')} /></label>
          <label>Dataset version <input aria-label="Input version" value={form.dataset_version} onInput={set('dataset_version')} /></label>
          <label>Output dataset <input aria-label="Output dataset" value={form.output} onInput={set('output')} placeholder={`${form.dataset}-scored`} /></label>
          <div class="wide"><button type="submit">Run now</button></div>
        </form>
        <form class="train-form" onSubmit={schedule} data-testid="schedule-form">
          <label>Schedule name <input aria-label="Schedule name" value={form.name} onInput={set('name')} /></label>
          <label>Cron (5 fields) <input aria-label="Cron" value={form.cron} onInput={set('cron')} /></label>
          <label>Time zone <input aria-label="Time zone" value={form.timezone} onInput={set('timezone')} /></label>
          <div class="wide"><button type="submit" class="secondary">Schedule</button></div>
        </form>
      </Card>
      <Card title="Schedules">
        {schedules.length === 0 && <p class="muted">No schedules.</p>}
        {schedules.length > 0 && (
          <table class="table" data-testid="schedule-table">
            <thead><tr><th>Name</th><th>Cron</th><th>Time zone</th><th>Model</th><th>Input</th><th>Next run</th><th>Runs</th></tr></thead>
            <tbody>
              {schedules.map((s) => (
                <tr><td>{s.name}</td><td><code>{s.cron}</code></td><td>{s.timezone}</td><td>{s.spec.model}@{s.spec.version}</td>
                  <td>{s.spec.dataset}@{s.spec.dataset_version}</td><td>{s.enabled ? s.next_run_at?.replace('T', ' ').slice(0, 16) : 'disabled'}</td>
                  <td>{s.history.map((h) => <StatusBadge status={h.status} />)}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
      <Card title="Jobs">
        {jobs.length === 0 && <p class="muted">No batch jobs yet.</p>}
        {jobs.length > 0 && (
          <table class="table" data-testid="batch-table">
            <thead><tr><th>Job</th><th>Status</th><th>Model</th><th>Input</th><th>Output</th><th>Rows</th><th>Schedule</th></tr></thead>
            <tbody>
              {jobs.map((j) => (
                <tr>
                  <td><a href={`#/training/${encodeURIComponent(project!)}/${j.id}`}>{j.id}</a></td>
                  <td><StatusBadge status={j.status} /></td>
                  <td>{j.spec.model}@{j.spec.version}{j.result.model_version ? ` (v${j.result.model_version})` : ''}</td>
                  <td>{j.spec.dataset}@{j.spec.dataset_version}</td>
                  <td>{j.result.output ? <a href={`#/data/${encodeURIComponent(project!)}/${encodeURIComponent(j.result.output)}`}>{j.result.output}@{j.result.output_version}</a> : (j.error || '-')}</td>
                  <td>{j.result.rows ?? '-'}</td>
                  <td>{j.spec.schedule ?? '-'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </Page>
  );
}
