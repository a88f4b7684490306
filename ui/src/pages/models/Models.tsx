// The model registry: models, their versions with metrics and gate reports, aliases with
// promote and rollback, a metric comparison chart and the lineage of a version.
import { useState } from 'preact/hooks';
import { api, errorMessage, type Project } from '../../api';
import { Card, ErrorBox, Page, Time } from '../../components';
import { useResource } from '../../hooks';
import { navigate } from '../../router';
import { BarChart } from '../data/charts';

interface GateCheck { gate: string; passed: boolean; [k: string]: unknown }
interface Version {
  version: number; source: string; run_id: string; status: string; description: string; created_at: string; created_by: string;
  metrics: Record<string, number>; gate_report: { passed?: boolean; checks?: GateCheck[]; evaluated_at?: string };
}
interface Model { name: string; description: string; versions: Version[]; aliases: Record<string, number>; latest_version: number | null; gates: Record<string, unknown> }
interface Lineage { dataset: { dataset?: string; version?: number }; run_id: string; version: number; aliases: string[]; endpoints: string[] }

export const base = (p: string) => `/api/v1/projects/${encodeURIComponent(p)}`;

export function useProjects(): [Project[], string | null] {
  const r = useResource<{ projects: Project[] }>('/api/v1/projects');
  return [r.data?.projects ?? [], r.error];
}

export function ProjectPicker(props: { projects: Project[]; value?: string; section: string }) {
  return (
    <select aria-label="Project" value={props.value} onChange={(e) => navigate(`/${props.section}/${encodeURIComponent((e.target as HTMLSelectElement).value)}`)}>
      {props.projects.map((p) => <option value={p.name}>{p.name}</option>)}
    </select>
  );
}

function aliasesOf(m: Model, v: number) {
  return Object.entries(m.aliases).filter(([, n]) => n === v).map(([a]) => a);
}

export function ModelList(props: { project?: string }) {
  const [projects, perr] = useProjects();
  const project = props.project ?? projects.find((p) => p.name === 'demo')?.name ?? projects[0]?.name;
  const list = useResource<{ models: Model[] }>(project ? `${base(project)}/models` : null);
  const models = list.data?.models ?? null;
  const error = list.error;
  return (
    <Page title="Models" subtitle="The registry: versions from training runs or imported files, aliases that roll out and roll back, quality gates." actions={<ProjectPicker projects={projects} value={project} section="models" />}>
      <ErrorBox error={error ?? perr} />
      <Card>
        {models && models.length === 0 && <p class="muted">No registered models yet: register a training run with <code>kade models register RUN --name NAME</code>.</p>}
        {models && models.length > 0 && (
          <table class="table" data-testid="model-table">
            <thead><tr><th>Model</th><th>Latest</th><th>Aliases</th><th>Description</th></tr></thead>
            <tbody>
              {models.map((m) => (
                <tr class="clickable" onClick={() => navigate(`/models/${encodeURIComponent(project!)}/${encodeURIComponent(m.name)}`)}>
                  <td><a href={`#/models/${encodeURIComponent(project!)}/${encodeURIComponent(m.name)}`}>{m.name}</a></td>
                  <td>{m.latest_version ? `v${m.latest_version}` : '-'}</td>
                  <td>{Object.entries(m.aliases).map(([a, v]) => <span class="badge">{a} → v{v}</span>)}</td>
                  <td>{m.description}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </Page>
  );
}

export function ModelPage(props: { project: string; name: string }) {
  const url = `${base(props.project)}/models/${encodeURIComponent(props.name)}`;
  const res = useResource<Model>(url);
  const model = res.data;
  const [actionError, setError] = useState<string | null>(null);
  const error = actionError ?? res.error;
  const [notice, setNotice] = useState<string | null>(null);
  const [metric, setMetric] = useState('');
  const [open, setOpen] = useState<number | null>(null);
  const lineage = useResource<Lineage>(open === null ? null : `${url}/versions/${open}/lineage`).data;
  const load = res.reload;
  if (!model) return <Page title={props.name}><ErrorBox error={error} /></Page>;

  const metricNames = [...new Set(model.versions.flatMap((v) => Object.keys(v.metrics)))].sort();
  const shown = metric || (metricNames.includes('auc') ? 'auc' : metricNames[0] ?? '');
  const ordered = [...model.versions].sort((a, b) => a.version - b.version);

  async function setAlias(alias: string, version: number, force = false) {
    setError(null);
    setNotice(null);
    try {
      await api('PUT', `${url}/aliases/${encodeURIComponent(alias)}`, { version, force });
      setNotice(`${alias} → v${version}`);
    } catch (e) {
      setError(errorMessage(e));
    }
    load();
  }
  async function rollback(alias: string) {
    setError(null);
    try {
      const r = await api<{ version: number }>('POST', `${url}/aliases/${encodeURIComponent(alias)}/rollback`);
      setNotice(`${alias} rolled back to v${r.version}`);
    } catch (e) {
      setError(errorMessage(e));
    }
    load();
  }

  return (
    <Page title={`Model ${model.name}`} subtitle={model.description || 'Versions, aliases, quality gates and lineage.'}>
      <ErrorBox error={error} />
      {notice && <div class="notice" role="status">{notice}</div>}
      <Card title="Aliases">
        <table class="table" data-testid="alias-table">
          <thead><tr><th>Alias</th><th>Version</th><th /></tr></thead>
          <tbody>
            {Object.entries(model.aliases).map(([a, v]) => (
              <tr>
                <td><span class="badge">{a}</span></td>
                <td>v{v}</td>
                <td><button class="secondary" onClick={() => rollback(a)} aria-label={`Roll back ${a}`}>Roll back</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
      <Card title="Versions">
        <table class="table" data-testid="version-table">
          <thead><tr><th>Version</th><th>Status</th><th>Aliases</th><th>Source</th><th>Gates</th><th>{shown || 'metric'}</th><th>Created</th><th /></tr></thead>
          <tbody>
            {model.versions.map((v) => (
              <>
                <tr>
                  <td><a href="#" onClick={(e) => { e.preventDefault(); setOpen(open === v.version ? null : v.version); }}>v{v.version}</a></td>
                  <td>{v.status}</td>
                  <td>{aliasesOf(model, v.version).map((a) => <span class="badge">{a}</span>)}</td>
                  <td>{v.source === 'run' ? <a href={`#/runs/${encodeURIComponent(props.project)}/${v.run_id}`}>run</a> : v.source}</td>
                  <td>{v.gate_report.passed === undefined ? '-' : <span class={`badge status-${v.gate_report.passed ? 'succeeded' : 'failed'}`}>{v.gate_report.passed ? 'passed' : 'failed'}</span>}</td>
                  <td>{v.metrics[shown] !== undefined ? v.metrics[shown].toFixed(4) : '-'}</td>
                  <td><Time iso={v.created_at} /></td>
                  <td class="actions">
                    <button onClick={() => setAlias('champion', v.version)} aria-label={`Promote v${v.version}`} disabled={model.aliases.champion === v.version}>Promote to champion</button>
                    <button class="secondary" onClick={() => setAlias('challenger', v.version)} aria-label={`Challenger v${v.version}`}>Make challenger</button>
                  </td>
                </tr>
                {open === v.version && (
                  <tr><td colSpan={8}>
                    <div class="detail" data-testid="version-detail">
                      <h3>Gate report</h3>
                      {!v.gate_report.checks && <p class="muted">Not evaluated yet (gates run when a serving alias moves).</p>}
                      {v.gate_report.checks && v.gate_report.checks.length === 0 && <p class="muted">No gates are configured for this model; moves pass.</p>}
                      {v.gate_report.checks && v.gate_report.checks.length > 0 && (
                        <ul>{v.gate_report.checks.map((c) => <li><strong>{c.passed ? '✓' : '✗'} {c.gate}</strong> {JSON.stringify(Object.fromEntries(Object.entries(c).filter(([k]) => k !== 'gate' && k !== 'passed')))}</li>)}</ul>
                      )}
                      <h3>Lineage</h3>
                      {lineage && lineage.version === v.version && (
                        <div class="lineage" data-testid="lineage">
                          <span class="node">{lineage.dataset.dataset ? `dataset ${lineage.dataset.dataset}@${lineage.dataset.version}` : 'imported file'}</span>
                          <span class="arrow">→</span>
                          <span class="node">{lineage.run_id ? `run ${lineage.run_id.slice(0, 8)}` : 'no run'}</span>
                          <span class="arrow">→</span>
                          <span class="node">{model.name} v{v.version}{lineage.aliases.length ? ` (${lineage.aliases.join(', ')})` : ''}</span>
                          <span class="arrow">→</span>
                          <span class="node">{lineage.endpoints.length ? lineage.endpoints.map((e) => <a href={`#/endpoints/${encodeURIComponent(props.project)}/${encodeURIComponent(e)}`}>{e} </a>) : 'no endpoint'}</span>
                        </div>
                      )}
                    </div>
                  </td></tr>
                )}
              </>
            ))}
          </tbody>
        </table>
      </Card>
      {metricNames.length > 0 && (
        <Card title="Metric comparison">
          <label>Metric{' '}
            <select aria-label="Metric" value={shown} onChange={(e) => setMetric((e.target as HTMLSelectElement).value)}>
              {metricNames.map((m) => <option value={m}>{m}</option>)}
            </select>
          </label>
          <div data-testid="metric-chart">
            <BarChart labels={ordered.map((v) => `v${v.version}`)} values={ordered.map((v) => v.metrics[shown] ?? 0)} label={shown} />
          </div>
        </Card>
      )}
    </Page>
  );
}
