import { useState } from 'preact/hooks';
import { api, ApiError, type Me, setToken } from '../../api';

export function SignIn(props: { onSignedIn: (me: Me) => void }) {
  const [token, setTokenValue] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const me = await api<Me>('GET', '/api/v1/whoami', undefined, token.trim());
      setToken(token.trim());
      props.onSignedIn(me);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="signin">
      <form class="card signin-card" onSubmit={submit}>
        <div class="brand big">
          <span class="logo" /> Kade
        </div>
        <p class="muted">The machine-learning platform. Sign in with an API token.</p>
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          placeholder="kade_…"
          value={token}
          onInput={(e) => setTokenValue((e.target as HTMLInputElement).value)}
          required
        />
        {error && <div class="error" role="alert">{error}</div>}
        <button type="submit" class="primary" disabled={busy || !token.trim()}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p class="hint">
          The admin token is printed when the server first starts. Others get one from
          <code> kade tokens create</code>.
        </p>
      </form>
    </div>
  );
}
