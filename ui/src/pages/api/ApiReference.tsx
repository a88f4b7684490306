import { useEffect, useState } from 'preact/hooks';
import { api, errorMessage, getToken } from '../../api';
import { Card, ErrorBox, Page } from '../../components';

// The OpenAPI document the server generates from its route table, browsable and callable:
// every operation with its role, audit action, parameters and schemas, and a form that sends
// it with your token.

interface Param { name: string; in: string; required?: boolean; schema?: unknown; description?: string }
interface Operation {
  operationId: string; summary: string; tags: string[];
  parameters?: Param[]; requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
  security?: unknown[]; 'x-kade-permission'?: string; 'x-kade-audit-action'?: string;
}
interface Doc { info: { title: string; version: string }; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } }

interface Entry { path: string; method: string; op: Operation }

function Schema(props: { schema: unknown }) {
  return <pre class="schema">{JSON.stringify(props.schema, null, 2)}</pre>;
}

function TryIt(props: { entry: Entry }) {
  const { path, method, op } = props.entry;
  const params = op.parameters ?? [];
  const [values, setValues] = useState<Record<string, string>>({});
  const [body, setBody] = useState(op.requestBody && 'application/json' in op.requestBody.content ? '{}' : '');
  const [answer, setAnswer] = useState<{ status: number; text: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  async function send(e: Event) {
    e.preventDefault();
    setError(null);
    setAnswer(null);
    let url = path;
    const query = new URLSearchParams();
    for (const p of params) {
      const v = values[p.name] ?? '';
      if (p.in === 'path') {
        if (!v) return setError(`give a value for ${p.name}`);
        url = url.replace(`{${p.name}}`, p.description?.includes("'/'") ? v : encodeURIComponent(v));
      } else if (v) query.set(p.name, v);
    }
    if ([...query].length) url += '?' + query.toString();
    const headers: Record<string, string> = { Authorization: `Bearer ${getToken()}` };
    let payload: string | undefined;
    if (body.trim() && method !== 'get') {
      try {
        JSON.parse(body);
      } catch (err) {
        return setError('the body is not JSON: ' + errorMessage(err));
      }
      payload = body;
      headers['Content-Type'] = 'application/json';
    }
    try {
      const res = await fetch(url, { method: method.toUpperCase(), headers, body: payload });
      let text = await res.text();
      try {
        text = JSON.stringify(JSON.parse(text), null, 2);
      } catch {}
      setAnswer({ status: res.status, text: text.length > 20000 ? text.slice(0, 20000) + '\n…' : text });
    } catch (err) {
      setError(errorMessage(err));
    }
  }
  return (
    <form class="try" onSubmit={send} data-testid="try-it">
      {params.map((p) => (
        <label class="field">
          <span>{p.name}{p.required ? ' *' : ''} <span class="muted">({p.in})</span></span>
          <input aria-label={`param ${p.name}`} value={values[p.name] ?? ''}
            onInput={(e) => setValues({ ...values, [p.name]: (e.target as HTMLInputElement).value })} />
        </label>
      ))}
      {method !== 'get' && op.requestBody && 'application/json' in op.requestBody.content && (
        <label class="field">
          <span>JSON body</span>
          <textarea aria-label="request body" rows={5} value={body}
            onInput={(e) => setBody((e.target as HTMLTextAreaElement).value)} />
        </label>
      )}
      <button type="submit">Send {method.toUpperCase()}</button>
      <ErrorBox error={error} />
      {answer && (
        <div data-testid="try-answer">
          <span class={`badge ${answer.status < 300 ? 'ok' : 'bad'}`}>{answer.status}</span>
          <pre class="schema">{answer.text}</pre>
        </div>
      )}
    </form>
  );
}

export function ApiReference() {
  const [doc, setDoc] = useState<Doc | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  useEffect(() => {
    api<Doc>('GET', '/api/v1/openapi.json').then(setDoc).catch((e) => setError(errorMessage(e)));
  }, []);
  const entries: Entry[] = [];
  if (doc) {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) entries.push({ path, method, op });
    }
  }
  const f = filter.trim().toLowerCase();
  const shown = entries.filter((e) => !f || e.path.toLowerCase().includes(f) || e.op.summary.toLowerCase().includes(f) ||
    e.op.tags[0].toLowerCase().includes(f));
  const tags = [...new Set(shown.map((e) => e.op.tags[0]))].sort();
  return (
    <Page title="API" subtitle={doc ? `${doc.info.title} ${doc.info.version}: ${entries.length} operations, described by OpenAPI 3.1 (generated from the server's route table).` : 'Loading the OpenAPI document…'}
      actions={<a class="button" href="/api/v1/openapi.json" download="kade-openapi.json"
        onClick={async (e) => {
          // The document needs the token: fetch it and hand the browser a file.
          e.preventDefault();
          const text = JSON.stringify(await api('GET', '/api/v1/openapi.json'), null, 2);
          const a = document.createElement('a');
          a.href = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
          a.download = 'kade-openapi.json';
          a.click();
        }}>Download openapi.json</a>}>
      <ErrorBox error={error} />
      <input class="filter" aria-label="Filter operations" placeholder="filter by path, summary or group, e.g. registered-models"
        value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
      {tags.map((tag) => (
        <Card title={tag}>
          <table class="table api-table" data-testid="api-table">
            <tbody>
              {shown.filter((e) => e.op.tags[0] === tag).map((e) => {
                const id = e.method + ' ' + e.path;
                const ok = Object.entries(e.op.responses).find(([k]) => k.startsWith('2'));
                return [
                  <tr class="clickable" onClick={() => setOpen(open === id ? null : id)} data-testid="api-op">
                    <td><span class={`method m-${e.method}`}>{e.method.toUpperCase()}</span></td>
                    <td><code>{e.path}</code></td>
                    <td>{e.op.summary}</td>
                    <td><span class="badge">{e.op.security && e.op.security.length === 0 ? 'public' : e.op['x-kade-permission']}</span>
                      {e.op['x-kade-audit-action'] && <span class="badge warn" title="audit log action">{e.op['x-kade-audit-action']}</span>}</td>
                  </tr>,
                  open === id && (
                    <tr>
                      <td colSpan={4}>
                        <div class="grid-2">
                          <div>
                            {e.op.requestBody && Object.entries(e.op.requestBody.content).map(([ct, c]) => (
                              <div><strong>Request</strong> <span class="muted">{ct}</span><Schema schema={c.schema} /></div>
                            ))}
                            {ok && (
                              <div><strong>Answer {ok[0]}</strong> {ok[1].content && Object.entries(ok[1].content).map(([ct, c]) => (
                                <span><span class="muted">{ct}</span><Schema schema={c.schema} /></span>
                              ))}</div>
                            )}
                          </div>
                          <div><strong>Try it</strong> <span class="muted">(sent with your token; writes are real and audited)</span>
                            <TryIt entry={e} /></div>
                        </div>
                      </td>
                    </tr>
                  ),
                ];
              })}
            </tbody>
          </table>
        </Card>
      ))}
      {doc && (
        <Card title="Schemas">
          {Object.entries(doc.components.schemas).map(([name, s]) => (
            <details><summary><code>{name}</code></summary><Schema schema={s} /></details>
          ))}
        </Card>
      )}
    </Page>
  );
}
