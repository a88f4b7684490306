import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, runAction, type Artifact, type Member, type Project, ROLES, roleRank } from '../../api';
import { Card, ErrorBox, formatBytes, Page, RoleBadge, Time } from '../../components';

export function ProjectDetail(props: { name: string; isAdmin: boolean }) {
  const [project, setProject] = useState<Project | null>(null);
  const [members, setMembers] = useState<Member[]>([]);
  const [artifacts, setArtifacts] = useState<Artifact[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [newUser, setNewUser] = useState('');
  const [newRole, setNewRole] = useState('viewer');
  const base = `/api/v1/projects/${encodeURIComponent(props.name)}`;

  async function load() {
    try {
      const p = await api<Project>('GET', base);
      setProject(p);
      const m = await api<{ members: Member[] }>('GET', `${base}/members`);
      setMembers(m.members);
      const a = await api<{ artifacts: Artifact[] }>('GET', `${base}/artifacts`);
      setArtifacts(a.artifacts);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  }
  useEffect(() => {
    load();
  }, [props.name]);

  const canManage = props.isAdmin || roleRank(project?.role ?? null) >= 3;
  const isOwner = props.isAdmin || project?.role === 'owner';

  const act = runAction(setError, load);

  if (!project) {
    return (
      <Page title={props.name}>
        <ErrorBox error={error} />
        {!error && <p class="muted">Loading…</p>}
      </Page>
    );
  }

  return (
    <Page
      title={project.name}
      subtitle={project.description || 'No description.'}
      actions={<RoleBadge role={project.role} />}
    >
      <ErrorBox error={error} />
      <div class="grid-2">
        <Card title="Members">
          <table class="table" data-testid="member-table">
            <thead><tr><th>User</th><th>Role</th><th>Since</th><th /></tr></thead>
            <tbody>
              {members.map((m) => (
                <tr key={m.user}>
                  <td>{m.user}</td>
                  <td>
                    {canManage && (isOwner || m.role !== 'owner') ? (
                      <select
                        aria-label={`Role of ${m.user}`}
                        value={m.role}
                        onChange={(e) =>
                          act(() => api('PUT', `${base}/members/${encodeURIComponent(m.user)}`, {
                            role: (e.target as HTMLSelectElement).value,
                          }))
                        }
                      >
                        {ROLES.filter((r) => isOwner || r !== 'owner').map((r) => <option value={r}>{r}</option>)}
                      </select>
                    ) : (
                      <RoleBadge role={m.role} />
                    )}
                  </td>
                  <td><Time iso={m.since} /></td>
                  <td>
                    {canManage && (isOwner || m.role !== 'owner') && (
                      <button class="link danger" onClick={() => act(() => api('DELETE', `${base}/members/${encodeURIComponent(m.user)}`))}>
                        Remove
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {canManage && (
            <form
              class="row add-member"
              onSubmit={(e) => {
                e.preventDefault();
                act(async () => {
                  await api('POST', `${base}/members`, { user: newUser.trim(), role: newRole });
                  setNewUser('');
                });
              }}
            >
              <input
                aria-label="User name"
                placeholder="user name"
                value={newUser}
                onInput={(e) => setNewUser((e.target as HTMLInputElement).value)}
                required
              />
              <select aria-label="Role" value={newRole} onChange={(e) => setNewRole((e.target as HTMLSelectElement).value)}>
                {ROLES.filter((r) => isOwner || r !== 'owner').map((r) => <option value={r}>{r}</option>)}
              </select>
              <button type="submit" class="primary">Add member</button>
            </form>
          )}
        </Card>
        <Card title="Artifacts">
          {artifacts.length === 0 ? (
            <p class="muted">No artifacts. Upload with <code>PUT {base}/artifacts/NAME</code>.</p>
          ) : (
            <table class="table">
              <thead><tr><th>Name</th><th>Size</th><th>SHA-256</th><th>By</th></tr></thead>
              <tbody>
                {artifacts.map((a) => (
                  <tr key={a.name}>
                    <td>{a.name}</td>
                    <td>{formatBytes(a.size)}</td>
                    <td><code title={a.sha256}>{a.sha256.slice(0, 12)}…</code></td>
                    <td>{a.created_by}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Card>
      </div>
      <Card title="Lifecycle">
        <p class="muted">
          Datasets, experiments, models and endpoints of this project will appear here as those
          capabilities are released. See the areas in the navigation.
        </p>
      </Card>
    </Page>
  );
}
