// Small shared building blocks so every page looks the same.
import type { ComponentChildren } from 'preact';

export function Page(props: { title: string; subtitle?: string; actions?: ComponentChildren; children: ComponentChildren }) {
  return (
    <section class="page">
      <header class="page-head">
        <div>
          <h1>{props.title}</h1>
          {props.subtitle && <p class="muted">{props.subtitle}</p>}
        </div>
        <div class="actions">{props.actions}</div>
      </header>
      {props.children}
    </section>
  );
}

export function Card(props: { title?: string; children: ComponentChildren }) {
  return (
    <div class="card">
      {props.title && <h2>{props.title}</h2>}
      {props.children}
    </div>
  );
}

export function ErrorBox(props: { error: string | null }) {
  if (!props.error) return null;
  return <div class="error" role="alert">{props.error}</div>;
}

export function RoleBadge(props: { role: string | null }) {
  return <span class={`badge role-${props.role ?? 'none'}`}>{props.role ?? 'admin'}</span>;
}

export function Time(props: { iso: string }) {
  const d = new Date(props.iso);
  return <time dateTime={props.iso} title={props.iso}>{d.toLocaleString()}</time>;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(1)} ${units[i]}`;
}
