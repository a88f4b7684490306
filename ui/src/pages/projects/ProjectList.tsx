import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type Project } from '../../api';
import { Card, ErrorBox, Page, RoleBadge, Time } from '../../components';
import { navigate } from '../../router';

export function ProjectList() {
  const [projects, setProjects] = useState<Project[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [creating, setCreating] = useState(false);
  const [showForm, setShowForm] = useState(false);

  async function load() {
    try {
      const r = await api<{ projects: Project[] }>('GET', '/api/v1/projects');
      setProjects(r.projects);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  }
  useEffect(() => {
    load();
  }, []);

  async function create(e: Event) {
    e.preventDefault();
    setCreating(true);
    setError(null);
    try {
      await api('POST', '/api/v1/projects', { name: name.trim(), description });
      setName('');
      setDescription('');
      setShowForm(false);
      await load();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setCreating(false);
    }
  }

  return (
    <Page
      title="Projects"
      subtitle="A project holds datasets, experiments, models and endpoints, and decides who may see and change them."
      actions={<button class="primary" onClick={() => setShowForm(!showForm)}>New project</button>}
    >
      <ErrorBox error={error} />
      {showForm && (
        <Card title="Create a project">
          <form class="form-grid" onSubmit={create}>
            <label for="project-name">Name</label>
            <input
              id="project-name"
              name="name"
              placeholder="churn-model"
              pattern="[a-z0-9][a-z0-9._\-]{0,62}"
              title="lowercase letters, digits, '-', '_' or '.'"
              value={name}
              onInput={(e) => setName((e.target as HTMLInputElement).value)}
              required
            />
            <label for="project-description">Description</label>
            <input
              id="project-description"
              name="description"
              placeholder="What is this project for?"
              value={description}
              onInput={(e) => setDescription((e.target as HTMLInputElement).value)}
            />
            <div />
            <div class="row">
              <button type="submit" class="primary" disabled={creating}>Create project</button>
              <button type="button" onClick={() => setShowForm(false)}>Cancel</button>
            </div>
          </form>
        </Card>
      )}
      <Card>
        {projects === null ? (
          <p class="muted">Loading…</p>
        ) : projects.length === 0 ? (
          <p class="muted">No projects yet. Create one to get started.</p>
        ) : (
          <table class="table" data-testid="project-table">
            <thead>
              <tr><th>Name</th><th>Description</th><th>Your role</th><th>Created by</th><th>Created</th></tr>
            </thead>
            <tbody>
              {projects.map((p) => (
                <tr key={p.name} class="clickable" onClick={() => navigate(`/projects/${encodeURIComponent(p.name)}`)}>
                  <td><a href={`#/projects/${encodeURIComponent(p.name)}`}>{p.name}</a></td>
                  <td class="muted">{p.description}</td>
                  <td><RoleBadge role={p.role} /></td>
                  <td>{p.created_by}</td>
                  <td><Time iso={p.created_at} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </Page>
  );
}
