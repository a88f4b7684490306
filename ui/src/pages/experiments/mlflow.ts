// The tracking data as the UI reads it: Kade serves the MLflow REST API per project.
import { api } from '../../api';

export interface Kv { key: string; value: string }
export interface Metric { key: string; value: number | string; step: number; timestamp: number }
export interface RunInfo { run_id: string; run_name: string; status: string; start_time: number; end_time?: number; user_id: string; experiment_id: string }
export interface Run {
  info: RunInfo;
  data: { metrics?: Metric[]; params?: Kv[]; tags?: Kv[] };
  inputs?: { dataset_inputs?: { dataset: { name: string; source: string; digest: string }; tags: Kv[] }[] };
}
export interface Experiment { experiment_id: string; name: string; lifecycle_stage: string; creation_time: number; tags?: Kv[] }

export const mlflow = <T,>(project: string, path: string, body?: unknown) =>
  api<T>(body === undefined ? 'GET' : 'POST', `/projects/${encodeURIComponent(project)}/api/2.0/mlflow${path}`, body);

export const kv = (list?: Kv[]) => Object.fromEntries((list ?? []).map((x) => [x.key, x.value]));
export const metricMap = (list?: Metric[]) => Object.fromEntries((list ?? []).map((m) => [m.key, m.value]));
export const fmt = (v: unknown) =>
  typeof v === 'number' ? (Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : Number(v.toFixed(4)).toString()) : v == null ? '—' : String(v);
export const when = (ms?: number) => (ms ? new Date(ms).toLocaleString() : '—');
