import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../../api';
import { Card, ErrorBox, formatBytes, Page, Time } from '../../components';
import { BarChart, Histogram } from './charts';
import type { DatasetInfo } from './DataCatalog';
import { useResource } from '../../hooks';

interface Version {
  version: number; ref: string; rows: number; columns: number; format: string; compression: string;
  size: number; sha256: string; quality_status: string; created_at: string; created_by: string;
  schema: { name: string; type: string }[];
  quality: { status: string; checks: { check: string; column?: string; severity: string; passed: boolean; message: string }[] };
  source: Record<string, unknown>;
}
interface ColumnProfile {
  name: string; type: string; count: number; nulls: number; null_fraction: number; distinct: number;
  distinct_exact: boolean; min?: number | string; max?: number | string; mean?: number; std?: number;
  quantiles?: Record<string, number>; histogram?: { edges: number[]; counts: number[] };
  top?: { value: string; count: number }[]; samples: string[]; true_count?: number; false_count?: number;
}
interface Profile {
  rows: number; columns: ColumnProfile[];
  correlations?: { columns: string[]; matrix: (number | null)[][] };
  target?: string; target_correlations?: Record<string, number | null>;
}

const num = (v: unknown) => (typeof v === 'number' ? (Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : Number(v.toFixed(4)).toString()) : v == null ? '—' : String(v));

function QualityBadge(props: { status: string }) {
  const cls = props.status === 'passed' ? 'ok' : props.status === 'failed' ? 'bad' : props.status === 'warning' ? 'warn' : '';
  return <span class={`badge ${cls}`}>{props.status}</span>;
}

function ColumnCard(props: { c: ColumnProfile }) {
  const c = props.c;
  return (
    <div class="card column-card" data-testid={`column-${c.name}`}>
      <div class="row" style="justify-content: space-between">
        <h2 style="margin: 0">{c.name}</h2>
        <span class="badge">{c.type}</span>
      </div>
      <dl class="stats">
        <dt>nulls</dt><dd>{c.nulls.toLocaleString()} ({(c.null_fraction * 100).toFixed(1)}%)</dd>
        <dt>distinct</dt><dd>{c.distinct.toLocaleString()}{c.distinct_exact ? '' : ' ≈'}</dd>
        {c.mean !== undefined && <><dt>mean</dt><dd>{num(c.mean)}</dd><dt>std</dt><dd>{num(c.std)}</dd></>}
        {c.min !== undefined && <><dt>min</dt><dd>{num(c.min)}</dd><dt>max</dt><dd>{num(c.max)}</dd></>}
        {c.quantiles && <><dt>median</dt><dd>{num(c.quantiles.p50)}</dd><dt>p5 – p95</dt><dd>{num(c.quantiles.p5)} – {num(c.quantiles.p95)}</dd></>}
        {c.true_count !== undefined && <><dt>true / false</dt><dd>{c.true_count} / {c.false_count}</dd></>}
      </dl>
      {c.histogram && <Histogram edges={c.histogram.edges} counts={c.histogram.counts} />}
      {!c.histogram && c.top && c.type !== 'string' && c.type !== 'timestamp' && (
        <BarChart horizontal labels={c.top.map((t) => t.value || '(empty)')} values={c.top.map((t) => t.count)} label="rows" />
      )}
      {c.type === 'string' && <p class="hint">e.g. {c.samples.slice(0, 3).map((s) => <code>{s}</code>).reduce((a: any, b) => [a, ', ', b] as any)}</p>}
    </div>
  );
}

export function DatasetPage(props: { project: string; name: string }) {
  const base = `/api/v1/projects/${encodeURIComponent(props.project)}/datasets/${encodeURIComponent(props.name)}`;
  const res = useResource<DatasetInfo & { versions: Version[] }>(base);
  const info = res.data;
  const [selected, setSelected] = useState<number | null>(null);
  const [tab, setTab] = useState<'profile' | 'schema' | 'quality' | 'preview' | 'diff'>('profile');
  const [profile, setProfile] = useState<Profile | null>(null);
  const [preview, setPreview] = useState<{ columns: string[]; rows: (string | null)[][]; offset: number; total_rows: number } | null>(null);
  const [offset, setOffset] = useState(0);
  const [diff, setDiff] = useState<any>(null);
  const [diffFrom, setDiffFrom] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);

  const fail = (e: unknown) => setError(e instanceof ApiError ? e.message : String(e));

  useEffect(() => {
    if (!info || selected !== null || !info.versions.length) return;
    setSelected(info.versions[0].version);
    setDiffFrom(info.versions.length > 1 ? info.versions[1].version : info.versions[0].version);
  }, [info]);

  useEffect(() => {
    if (selected === null) return;
    setProfile(null);
    api<Profile>('GET', `${base}/versions/${selected}/profile`).then(setProfile).catch(fail);
  }, [selected]);

  useEffect(() => {
    if (selected === null || tab !== 'preview') return;
    api<any>('GET', `${base}/versions/${selected}/preview?offset=${offset}&limit=25`).then(setPreview).catch(fail);
  }, [selected, tab, offset]);

  useEffect(() => {
    if (selected === null || tab !== 'diff' || diffFrom === null) return;
    api<any>('GET', `${base}/diff?from=${diffFrom}&to=${selected}`).then(setDiff).catch(fail);
  }, [selected, tab, diffFrom]);

  if (!info) {
    const err = error ?? res.error;
    return <Page title={props.name}><ErrorBox error={err} />{!err && <p class="muted">Loading…</p>}</Page>;
  }
  const v = info.versions.find((x) => x.version === selected);
  const roles = info.roles as { target?: string; id?: string; timestamp?: string; sensitive?: string[] };

  return (
    <Page
      title={info.name}
      subtitle={info.description || 'No description.'}
      actions={<a class="button-link" href={`#/data/${encodeURIComponent(props.project)}`}>All datasets</a>}
    >
      <ErrorBox error={error} />
      <div class="grid-2">
        <Card title="About">
          <dl class="stats">
            <dt>project</dt><dd>{props.project}</dd>
            <dt>owner</dt><dd>{info.owner}</dd>
            <dt>target</dt><dd>{roles.target ?? '—'}</dd>
            <dt>id / time</dt><dd>{roles.id ?? '—'} / {roles.timestamp ?? '—'}</dd>
            <dt>sensitive</dt><dd>{roles.sensitive?.join(', ') || '—'}</dd>
            <dt>schema</dt><dd>{info.pinned_schema ? 'pinned' : 'inferred'}</dd>
            <dt>checks</dt><dd>{info.checks.length}</dd>
            <dt>tags</dt><dd>{info.tags.map((t) => <span class="badge">{t}</span>)}</dd>
          </dl>
        </Card>
        <Card title="Versions">
          <table class="table" data-testid="version-table">
            <thead><tr><th>Version</th><th>Rows</th><th>Size</th><th>Quality</th><th>Uploaded</th><th>By</th></tr></thead>
            <tbody>
              {info.versions.map((x) => (
                <tr key={x.version} class={`clickable ${x.version === selected ? 'selected' : ''}`} onClick={() => setSelected(x.version)}>
                  <td>@{x.version}</td>
                  <td>{x.rows.toLocaleString()}</td>
                  <td>{formatBytes(x.size)}{x.compression !== 'none' ? ` (${x.compression})` : ''}</td>
                  <td><QualityBadge status={x.quality_status} /></td>
                  <td><Time iso={x.created_at} /></td>
                  <td>{x.created_by}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      </div>
      {v && (
        <Card>
          <div class="tabs" role="tablist">
            {(['profile', 'schema', 'quality', 'preview', 'diff'] as const).map((t) => (
              <button role="tab" class={tab === t ? 'active' : ''} onClick={() => setTab(t)}>{t}</button>
            ))}
            <span class="muted" style="margin-left: auto">{v.ref} · {v.format} · <code title={v.sha256}>{v.sha256.slice(0, 12)}…</code></span>
          </div>
          {tab === 'profile' && (profile ? (
            <>
              <p class="muted">{profile.rows.toLocaleString()} rows, {profile.columns.length} columns</p>
              <div class="column-grid" data-testid="profile">
                {profile.columns.map((c) => <ColumnCard c={c} />)}
              </div>
              {profile.target_correlations && (
                <>
                  <h2>Correlation with {profile.target}</h2>
                  <BarChart horizontal label="pearson r"
                    labels={Object.keys(profile.target_correlations)}
                    values={Object.values(profile.target_correlations).map((x) => x ?? 0)} />
                </>
              )}
            </>
          ) : <p class="muted">Loading profile…</p>)}
          {tab === 'schema' && (
            <table class="table" data-testid="schema-table">
              <thead><tr><th>Column</th><th>Type</th></tr></thead>
              <tbody>{v.schema.map((c) => <tr><td>{c.name}</td><td><span class="badge">{c.type}</span></td></tr>)}</tbody>
            </table>
          )}
          {tab === 'quality' && (
            <>
              <p>Overall: <QualityBadge status={v.quality.status} /></p>
              {v.quality.checks.length === 0 ? <p class="muted">No quality checks are configured for this dataset.</p> : (
                <table class="table" data-testid="quality-table">
                  <thead><tr><th>Check</th><th>Column</th><th>Severity</th><th>Result</th><th>Detail</th></tr></thead>
                  <tbody>
                    {v.quality.checks.map((c) => (
                      <tr>
                        <td><code>{c.check}</code></td><td>{c.column ?? '—'}</td><td>{c.severity}</td>
                        <td><span class={`badge ${c.passed ? 'ok' : c.severity === 'blocking' ? 'bad' : 'warn'}`}>{c.passed ? 'pass' : 'fail'}</span></td>
                        <td>{c.message}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </>
          )}
          {tab === 'preview' && preview && (
            <>
              <div class="scroll-x">
                <table class="table" data-testid="preview-table">
                  <thead><tr><th>#</th>{preview.columns.map((c) => <th>{c}</th>)}</tr></thead>
                  <tbody>
                    {preview.rows.map((r, i) => <tr><td class="muted">{preview.offset + i + 1}</td>{r.map((x) => <td>{x ?? <span class="muted">null</span>}</td>)}</tr>)}
                  </tbody>
                </table>
              </div>
              <div class="row" style="margin-top: 10px">
                <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - 25))}>Previous</button>
                <span class="muted">rows {offset + 1}–{offset + preview.rows.length} of {preview.total_rows.toLocaleString()}</span>
                <button disabled={offset + 25 >= preview.total_rows} onClick={() => setOffset(offset + 25)}>Next</button>
              </div>
            </>
          )}
          {tab === 'diff' && (
            <>
              <div class="row">
                Compare
                <select aria-label="Compare from" value={String(diffFrom)} onChange={(e) => setDiffFrom(Number((e.target as HTMLSelectElement).value))}>
                  {info.versions.map((x) => <option value={String(x.version)}>@{x.version}</option>)}
                </select>
                with @{selected}
              </div>
              {diff && (
                <div data-testid="diff">
                  <p>Rows {diff.rows.from.toLocaleString()} → {diff.rows.to.toLocaleString()}.
                    {diff.schema.added.map((c: any) => <span class="badge ok">+ {c.name}</span>)}
                    {diff.schema.removed.map((c: any) => <span class="badge bad">− {c.name}</span>)}
                    {diff.schema.type_changed.map((c: any) => <span class="badge warn">{c.name}: {c.from} → {c.to}</span>)}
                  </p>
                  {diff.drift && (
                    <p data-testid="dataset-drift">
                      <span class={`badge ${diff.drift.dataset_drift ? 'bad' : 'ok'}`}>{diff.drift.dataset_drift ? 'dataset drift' : 'no dataset drift'}</span>{' '}
                      {diff.drift.columns_drifted} of {diff.drift.columns_checked} columns drifted (Evidently's defaults: tests for a reference of up to 1,000 rows, distances beyond)
                    </p>
                  )}
                  <table class="table">
                    <thead><tr><th>Column</th><th>Null fraction</th><th>Mean</th><th>Drift</th><th /></tr></thead>
                    <tbody>
                      {diff.columns.map((c: any) => (
                        <tr>
                          <td>{c.name}</td>
                          <td>{num(c.null_fraction.from)} → {num(c.null_fraction.to)}</td>
                          <td>{c.mean ? `${num(c.mean.from)} → ${num(c.mean.to)}` : '—'}</td>
                          <td title={c.drift ? `KS ${num(c.drift.ks_statistic ?? 0)}, PSI ${num(c.drift.psi)}, Jensen–Shannon ${num(c.drift.jensenshannon)}` : ''}>
                            {c.drift ? `${c.drift.method === 'ks' || c.drift.method === 'chisquare' ? `${c.drift.method} p` : c.drift.method} ${num(c.drift.value)}`
                              : c.ks_statistic !== undefined ? `KS ${num(c.ks_statistic)}` : c.total_variation !== undefined ? `TVD ${num(c.total_variation)}` : '—'}
                          </td>
                          <td>{c.shifted && <span class="badge bad" data-testid="drifted">drifted</span>}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </>
          )}
        </Card>
      )}
    </Page>
  );
}
