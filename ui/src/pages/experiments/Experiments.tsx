import { useEffect, useState } from 'preact/hooks';
import { api, errorMessage, type Project } from '../../api';
import { Card, ErrorBox, Page } from '../../components';
import { navigate } from '../../router';
import { type Experiment, fmt, kv, metricMap, mlflow, type Run, when } from './mlflow';

// The experiments of a project.
export function ExperimentList(props: { project?: string }) {
  const [projects, setProjects] = useState<Project[]>([]);
  const [experiments, setExperiments] = useState<Experiment[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const project = props.project ?? projects.find((p) => p.name === 'demo')?.name ?? projects[0]?.name;

  useEffect(() => {
    api<{ projects: Project[] }>('GET', '/api/v1/projects').then((r) => setProjects(r.projects)).catch((e) => setError(errorMessage(e)));
  }, []);
  useEffect(() => {
    if (!project) return;
    mlflow<{ experiments: Experiment[] }>(project, '/experiments/search', {})
      .then((r) => setExperiments(r.experiments))
      .catch((e) => setError(errorMessage(e)));
  }, [project]);

  return (
    <Page title="Experiments" subtitle="Tracked runs: parameters, metrics, code and data versions. MLflow clients log here too.">
      <ErrorBox error={error} />
      <Card>
        <div class="row filters">
          <select aria-label="Project" value={project} onChange={(e) => navigate(`/experiments/${encodeURIComponent((e.target as HTMLSelectElement).value)}`)}>
            {projects.map((p) => <option value={p.name}>{p.name}</option>)}
          </select>
          <span class="hint">MLflow tracking URI: <code>{location.origin}/projects/{project}</code></span>
        </div>
        {experiments && experiments.length === 0 && <p class="muted">No experiments yet.</p>}
        {experiments && experiments.length > 0 && (
          <table class="table" data-testid="experiment-table">
            <thead><tr><th>Experiment</th><th>Id</th><th>Created</th><th>Tags</th></tr></thead>
            <tbody>
              {experiments.map((e) => (
                <tr class="clickable" onClick={() => navigate(`/experiments/${encodeURIComponent(project!)}/${e.experiment_id}`)}>
                  <td><a href={`#/experiments/${encodeURIComponent(project!)}/${e.experiment_id}`}>{e.name}</a></td>
                  <td>{e.experiment_id}</td>
                  <td>{when(e.creation_time)}</td>
                  <td>{Object.entries(kv(e.tags)).filter(([k]) => !k.startsWith('kade.project')).map(([k, v]) => <span class="badge">{k}={v}</span>)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </Page>
  );
}

// The runs of one experiment: filter (MLflow syntax), sort, choose columns, pick runs to compare.
export function ExperimentPage(props: { project: string; id: string }) {
  const [exp, setExp] = useState<Experiment | null>(null);
  const [runs, setRuns] = useState<Run[]>([]);
  const [filter, setFilter] = useState('');
  const [order, setOrder] = useState<{ key: string; desc: boolean } | null>(null);
  const [selected, setSelected] = useState<string[]>([]);
  const [shown, setShown] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function load() {
    setError(null);
    try {
      const body: Record<string, unknown> = { experiment_ids: [props.id], max_results: 500, filter };
      if (order) body.order_by = [`${order.key} ${order.desc ? 'DESC' : 'ASC'}`];
      const r = await mlflow<{ runs?: Run[] }>(props.project, '/runs/search', body);
      setRuns(r.runs ?? []);
    } catch (e) {
      setError(errorMessage(e));
    }
  }
  useEffect(() => {
    mlflow<{ experiment: Experiment }>(props.project, `/experiments/get?experiment_id=${props.id}`).then((r) => setExp(r.experiment)).catch((e) => setError(errorMessage(e)));
  }, [props.id]);
  useEffect(() => {
    load();
  }, [props.id, order]);

  const metricKeys = [...new Set(runs.flatMap((r) => (r.data.metrics ?? []).map((m) => m.key)))].sort();
  const paramKeys = [...new Set(runs.flatMap((r) => (r.data.params ?? []).map((p) => p.key)))].sort();
  const all = [...metricKeys.map((k) => `metrics.${k}`), ...paramKeys.map((k) => `params.${k}`)];
  const columns = shown ?? all.filter((c) => !c.includes('/')).slice(0, 7);
  const sortBy = (key: string) => setOrder(order && order.key === key ? { key, desc: !order.desc } : { key, desc: true });

  return (
    <Page title={exp?.name ?? 'Experiment'} subtitle={`${runs.length} run(s) in project ${props.project}`}
      actions={<button class="primary" disabled={selected.length < 2}
        onClick={() => navigate(`/compare/${encodeURIComponent(props.project)}/${selected.join(',')}`)}>Compare {selected.length || ''}</button>}>
      <ErrorBox error={error} />
      <Card>
        <form class="row filters" onSubmit={(e) => { e.preventDefault(); load(); }}>
          <input aria-label="Run filter" style="flex: 1; min-width: 360px" placeholder="metrics.auc > 0.8 and params.max_depth = '6'"
            value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
          <button type="submit">Search</button>
        </form>
        <details class="columns-picker">
          <summary>Columns</summary>
          <div class="row">
            {all.map((c) => (
              <label class="row"><input type="checkbox" checked={columns.includes(c)}
                onChange={(e) => setShown((e.target as HTMLInputElement).checked ? [...columns, c] : columns.filter((x) => x !== c))} />{c}</label>
            ))}
          </div>
        </details>
        <div class="scroll-x">
          <table class="table" data-testid="run-table">
            <thead>
              <tr>
                <th />
                <th class="clickable" onClick={() => sortBy('attributes.run_name')}>Run</th>
                <th>Status</th>
                <th class="clickable" onClick={() => sortBy('attributes.start_time')}>Started</th>
                {columns.map((c) => (
                  <th class="clickable" onClick={() => sortBy(c)}>{c.replace(/^(metrics|params)\./, '')}{order?.key === c ? (order.desc ? ' ↓' : ' ↑') : ''}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {runs.map((r) => {
                const m = metricMap(r.data.metrics);
                const p = kv(r.data.params);
                return (
                  <tr>
                    <td><input type="checkbox" aria-label={`select ${r.info.run_name}`} checked={selected.includes(r.info.run_id)}
                      onChange={(e) => setSelected((e.target as HTMLInputElement).checked ? [...selected, r.info.run_id] : selected.filter((x) => x !== r.info.run_id))} /></td>
                    <td><a href={`#/runs/${encodeURIComponent(props.project)}/${r.info.run_id}`}>{r.info.run_name}</a></td>
                    <td><span class={`badge ${r.info.status === 'FINISHED' ? 'ok' : r.info.status === 'FAILED' ? 'bad' : ''}`}>{r.info.status}</span></td>
                    <td>{when(r.info.start_time)}</td>
                    {columns.map((c) => <td>{fmt(c.startsWith('metrics.') ? m[c.slice(8)] : p[c.slice(7)])}</td>)}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      </Card>
    </Page>
  );
}
