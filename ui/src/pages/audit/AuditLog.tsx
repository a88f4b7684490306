import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type AuditEntry, type AuditVerify } from '../../api';
import { Card, ErrorBox, Page, Time } from '../../components';

export function AuditLog() {
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [filters, setFilters] = useState({ project: '', actor: '', action: '' });
  const [error, setError] = useState<string | null>(null);
  const [verify, setVerify] = useState<AuditVerify | null>(null);
  const [expanded, setExpanded] = useState<number | null>(null);

  function query(before?: number) {
    const q = new URLSearchParams({ limit: '50' });
    for (const [k, v] of Object.entries(filters)) if (v.trim()) q.set(k, v.trim());
    if (before) q.set('before', String(before));
    return `/api/v1/audit?${q}`;
  }

  async function load(before?: number) {
    setError(null);
    try {
      const r = await api<{ entries: AuditEntry[]; next_before?: number }>('GET', query(before));
      setEntries(before ? [...entries, ...r.entries] : r.entries);
      setNext(r.next_before ?? null);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  }
  useEffect(() => {
    load();
  }, []);

  async function runVerify() {
    try {
      setVerify(await api<AuditVerify>('GET', '/api/v1/audit/verify'));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  }

  return (
    <Page
      title="Audit log"
      subtitle="Every change and every refused change, hash-chained so that edits and deletions are detectable."
      actions={<button onClick={runVerify}>Verify chain</button>}
    >
      <ErrorBox error={error} />
      {verify && (
        <div class={verify.ok ? 'notice ok' : 'error'} role="status" data-testid="verify-result">
          {verify.ok
            ? `Chain intact: ${verify.entries} entries, head #${verify.head_seq} ${verify.head_hash.slice(0, 16)}…`
            : `Verification FAILED at entry ${verify.first_bad_seq}: ${verify.problem}`}
        </div>
      )}
      <Card>
        <form
          class="row filters"
          onSubmit={(e) => {
            e.preventDefault();
            load();
          }}
        >
          {(['project', 'actor', 'action'] as const).map((k) => (
            <input
              aria-label={`Filter by ${k}`}
              placeholder={k}
              value={filters[k]}
              onInput={(e) => setFilters({ ...filters, [k]: (e.target as HTMLInputElement).value })}
            />
          ))}
          <button type="submit">Filter</button>
        </form>
        <table class="table" data-testid="audit-table">
          <thead>
            <tr><th>#</th><th>Time</th><th>Actor</th><th>Action</th><th>Target</th><th>Outcome</th></tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <>
                <tr key={e.seq} class="clickable" onClick={() => setExpanded(expanded === e.seq ? null : e.seq)}>
                  <td>{e.seq}</td>
                  <td><Time iso={e.time} /></td>
                  <td>{e.actor}</td>
                  <td><code>{e.action}</code></td>
                  <td>{e.target}</td>
                  <td><span class={`badge ${e.outcome === 'ok' ? 'ok' : 'bad'}`}>{e.outcome}</span></td>
                </tr>
                {expanded === e.seq && (
                  <tr class="detail">
                    <td colSpan={6}>
                      <pre>{JSON.stringify({ request_id: e.request_id, remote: e.remote, detail: e.detail, hash: e.hash }, null, 2)}</pre>
                    </td>
                  </tr>
                )}
              </>
            ))}
          </tbody>
        </table>
        {next && <button onClick={() => load(next)}>Load older entries</button>}
      </Card>
    </Page>
  );
}
