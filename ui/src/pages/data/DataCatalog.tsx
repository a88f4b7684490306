import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type Project } from '../../api';
import { Card, ErrorBox, Page, Time } from '../../components';
import { navigate } from '../../router';

export interface DatasetInfo {
  name: string; description: string; owner: string; tags: string[]; roles: Record<string, unknown>;
  latest_version: number; rows: number; updated_at: string; checks: unknown[]; pinned_schema: unknown;
}

// The searchable catalog of one project's datasets.
export function DataCatalog(props: { project?: string }) {
  const [projects, setProjects] = useState<Project[]>([]);
  const [datasets, setDatasets] = useState<DatasetInfo[] | null>(null);
  const [query, setQuery] = useState('');
  const [error, setError] = useState<string | null>(null);
  const project = props.project ?? projects[0]?.name;

  useEffect(() => {
    api<{ projects: Project[] }>('GET', '/api/v1/projects')
      .then((r) => setProjects(r.projects))
      .catch((e) => setError(e instanceof ApiError ? e.message : String(e)));
  }, []);

  async function load(q: string) {
    if (!project) return;
    setError(null);
    try {
      const qs = q.trim() ? `?q=${encodeURIComponent(q.trim())}` : '';
      const r = await api<{ datasets: DatasetInfo[] }>('GET', `/api/v1/projects/${encodeURIComponent(project)}/datasets${qs}`);
      setDatasets(r.datasets);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    }
  }
  useEffect(() => {
    load(query);
  }, [project]);

  return (
    <Page title="Data" subtitle="Versioned datasets with schema, profile and quality checks.">
      <ErrorBox error={error} />
      <Card>
        <div class="row filters">
          <select aria-label="Project" value={project} onChange={(e) => navigate(`/data/${encodeURIComponent((e.target as HTMLSelectElement).value)}`)}>
            {projects.map((p) => <option value={p.name}>{p.name}</option>)}
          </select>
          <form class="row" onSubmit={(e) => { e.preventDefault(); load(query); }}>
            <input aria-label="Search datasets" placeholder="search name, tag, description, column…" value={query}
              onInput={(e) => setQuery((e.target as HTMLInputElement).value)} style="min-width: 320px" />
            <button type="submit">Search</button>
          </form>
        </div>
        {datasets === null ? (
          <p class="muted">{project ? 'Loading…' : 'No project yet.'}</p>
        ) : datasets.length === 0 ? (
          <p class="muted">No datasets{query ? ' match' : ' yet'}. Push one with <code>kade data push FILE --dataset NAME -p {project}</code>.</p>
        ) : (
          <table class="table" data-testid="dataset-table">
            <thead><tr><th>Dataset</th><th>Description</th><th>Tags</th><th>Versions</th><th>Rows</th><th>Target</th><th>Updated</th></tr></thead>
            <tbody>
              {datasets.map((d) => (
                <tr key={d.name} class="clickable" onClick={() => navigate(`/data/${encodeURIComponent(project!)}/${encodeURIComponent(d.name)}`)}>
                  <td><a href={`#/data/${encodeURIComponent(project!)}/${encodeURIComponent(d.name)}`}>{d.name}</a></td>
                  <td class="muted">{d.description}</td>
                  <td>{d.tags.map((t) => <span class="badge">{t}</span>)}</td>
                  <td>{d.latest_version}</td>
                  <td>{d.rows.toLocaleString()}</td>
                  <td>{(d.roles as { target?: string }).target ?? '—'}</td>
                  <td><Time iso={d.updated_at} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </Page>
  );
}
