// The Kade REST API as the UI uses it. The token lives in sessionStorage (cleared when the
// tab closes); every call sends it as a bearer token. Errors carry the server's message.

const TOKEN_KEY = 'kade.token';

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export async function api<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = {};
  const t = token ?? getToken();
  if (t) headers['Authorization'] = `Bearer ${t}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = data?.error;
    throw new ApiError(res.status, err?.code ?? 'HTTP_' + res.status, err?.message ?? text ?? res.statusText);
  }
  return data as T;
}

export interface Me { name: string; display_name: string; admin: boolean; version: string; default_project?: string }
export interface Project { name: string; description: string; created_at: string; created_by: string; role: string | null }
export interface Member { user: string; role: string; since: string }
export interface User { name: string; display_name: string; email: string; admin: boolean; disabled: boolean }
export interface Artifact { name: string; sha256: string; size: number; content_type: string; created_at: string; created_by: string }
export interface AuditEntry {
  seq: number; time: string; actor: string; action: string; target: string; project: string;
  request_id: string; outcome: string; detail: unknown; remote: string; hash: string;
}
export interface AuditVerify { ok: boolean; entries: number; head_seq: number; head_hash: string; first_bad_seq?: number; problem?: string }

export const ROLES = ['viewer', 'editor', 'maintainer', 'owner'] as const;
export const roleRank = (r: string | null) => (r ? ROLES.indexOf(r as (typeof ROLES)[number]) + 1 : 0);

export function errorMessage(err: unknown): string {
  return err instanceof ApiError ? err.message : String(err);
}

// Runs a change, then reloads; any failure lands in setError with the server's message.
export function runAction(setError: (e: string | null) => void, reload: () => Promise<void>) {
  return async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      await reload();
    } catch (err) {
      setError(errorMessage(err));
    }
  };
}
