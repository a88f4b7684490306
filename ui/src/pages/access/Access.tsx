import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, runAction, type Me, type Project, type User } from '../../api';
import { Card, ErrorBox, Page, Time } from '../../components';

interface Token {
  id: number; user: string; name: string; prefix: string; status: string;
  created_at: string; expires_at: string | null; last_used_at: string | null;
}

const EXPIRY: Record<string, number | null> = { '30 days': 30 * 86400, '90 days': 90 * 86400, '1 year': 365 * 86400, never: null };

// Self-service API tokens for everyone; users for platform admins.
export function Access(props: { isAdmin: boolean }) {
  const [tokens, setTokens] = useState<Token[]>([]);
  const [users, setUsers] = useState<User[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [tokenName, setTokenName] = useState('');
  const [expiry, setExpiry] = useState('90 days');
  const [fresh, setFresh] = useState<string | null>(null);
  const [newUser, setNewUser] = useState({ name: '', email: '', admin: false });
  const [me, setMe] = useState<Me | null>(null);
  const [projects, setProjects] = useState<Project[]>([]);
  const [defaultProject, setDefaultProject] = useState('');

  async function load() {
    try {
      setTokens((await api<{ tokens: Token[] }>('GET', '/api/v1/tokens')).tokens);
      const who = await api<Me>('GET', '/api/v1/whoami');
      setMe(who);
      setDefaultProject(who.default_project ?? '');
      setProjects((await api<{ projects: Project[] }>('GET', '/api/v1/projects')).projects);
      if (props.isAdmin) setUsers((await api<{ users: User[] }>('GET', '/api/v1/users')).users);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  }
  useEffect(() => {
    load();
  }, []);

  const act = runAction(setError, load);

  return (
    <Page title="Access" subtitle="API tokens sign you in to the API, the CLI and this UI. Each is shown once when created.">
      <ErrorBox error={error} />
      {fresh && (
        <div class="notice ok" role="status" data-testid="new-token">
          New token (copy it now, it will not be shown again): <code>{fresh}</code>
        </div>
      )}
      <Card title="Your API tokens">
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            act(async () => {
              const secs = EXPIRY[expiry];
              const body: Record<string, unknown> = { name: tokenName.trim() };
              if (secs) body.expires_in_seconds = secs;
              const t = await api<{ token: string }>('POST', '/api/v1/tokens', body);
              setFresh(t.token);
              setTokenName('');
            });
          }}
        >
          <input aria-label="Token name" placeholder="token name, e.g. laptop" value={tokenName}
            onInput={(e) => setTokenName((e.target as HTMLInputElement).value)} required />
          <select aria-label="Expires" value={expiry} onChange={(e) => setExpiry((e.target as HTMLSelectElement).value)}>
            {Object.keys(EXPIRY).map((k) => <option value={k}>{k === 'never' ? 'never expires' : `expires in ${k}`}</option>)}
          </select>
          <button type="submit" class="primary">Create token</button>
        </form>
        <table class="table" data-testid="token-table" style="margin-top: 14px">
          <thead><tr><th>Name</th><th>Prefix</th><th>Status</th><th>Created</th><th>Expires</th><th>Last used</th><th /></tr></thead>
          <tbody>
            {tokens.map((t) => (
              <tr key={t.id}>
                <td>{t.name}</td>
                <td><code>{t.prefix}…</code></td>
                <td><span class={`badge ${t.status === 'active' ? 'ok' : 'bad'}`}>{t.status}</span></td>
                <td><Time iso={t.created_at} /></td>
                <td>{t.expires_at ? <Time iso={t.expires_at} /> : 'never'}</td>
                <td>{t.last_used_at ? <Time iso={t.last_used_at} /> : '—'}</td>
                <td>
                  {t.status === 'active' && (
                    <button class="link danger" onClick={() => act(() => api('DELETE', `/api/v1/tokens/${t.id}`))}>Revoke</button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
      {me && (
        <Card title="MLflow clients">
          <p class="hint">
            Existing MLflow code logs here unchanged: <code>MLFLOW_TRACKING_URI={location.origin}</code> and{' '}
            <code>MLFLOW_TRACKING_TOKEN=</code> one of your tokens. Plain experiment and model names live in your default
            project; <code>PROJECT/NAME</code> reaches any other, and <code>{location.origin}/projects/PROJECT</code> is one
            project's own URI.
          </p>
          <form class="row" onSubmit={(e) => {
            e.preventDefault();
            act(() => api('PATCH', `/api/v1/users/${encodeURIComponent(me.name)}`, { default_project: defaultProject }));
          }}>
            <label>Default project{' '}
              <select aria-label="Default project" value={defaultProject}
                onChange={(e) => setDefaultProject((e.target as HTMLSelectElement).value)}>
                <option value="">{me.name}-home (personal, made on first use)</option>
                {projects.filter((p) => p.name !== `${me.name}-home`).map((p) => <option value={p.name}>{p.name}</option>)}
              </select>
            </label>
            <button type="submit" class="primary">Save default project</button>
          </form>
          <p class="hint" data-testid="default-project">Now: <code>{me.default_project || `${me.name}-home`}</code></p>
        </Card>
      )}
      {props.isAdmin && (
        <Card title="Users">
          <form
            class="row"
            onSubmit={(e) => {
              e.preventDefault();
              act(async () => {
                await api('POST', '/api/v1/users', { name: newUser.name.trim(), email: newUser.email.trim(), admin: newUser.admin });
                setNewUser({ name: '', email: '', admin: false });
              });
            }}
          >
            <input aria-label="New user name" placeholder="user name" value={newUser.name}
              onInput={(e) => setNewUser({ ...newUser, name: (e.target as HTMLInputElement).value })} required />
            <input aria-label="New user email" placeholder="email (optional)" value={newUser.email}
              onInput={(e) => setNewUser({ ...newUser, email: (e.target as HTMLInputElement).value })} />
            <label class="row"><input type="checkbox" checked={newUser.admin}
              onChange={(e) => setNewUser({ ...newUser, admin: (e.target as HTMLInputElement).checked })} /> platform admin</label>
            <button type="submit" class="primary">Create user</button>
          </form>
          <p class="hint">A new user signs in with a token: <code>kade tokens create --user NAME</code>.</p>
          <table class="table" data-testid="user-table">
            <thead><tr><th>Name</th><th>Display name</th><th>Email</th><th>Admin</th><th>Status</th><th /></tr></thead>
            <tbody>
              {users.map((u) => (
                <tr key={u.name} data-user={u.name}>
                  <td>{u.name}</td><td>{u.display_name}</td><td>{u.email}</td><td>{u.admin ? 'yes' : ''}</td>
                  <td>{u.disabled ? <span class="badge bad">disabled</span> : <span class="badge ok">active</span>}</td>
                  <td class="row">
                    <button class="link" onClick={() => act(() => api('PATCH', `/api/v1/users/${encodeURIComponent(u.name)}`, { admin: !u.admin }))}>
                      {u.admin ? 'Remove admin' : 'Make admin'}
                    </button>
                    <button class={`link ${u.disabled ? '' : 'danger'}`}
                      onClick={() => act(() => api('PATCH', `/api/v1/users/${encodeURIComponent(u.name)}`, { disabled: !u.disabled }))}>
                      {u.disabled ? 'Enable' : 'Disable'}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      )}
    </Page>
  );
}
