// Profile charts drawn with Chart.js: a histogram per numeric column and a bar chart of the
// top values of categorical columns.
import { useEffect, useRef } from 'preact/hooks';
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip,
} from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, LineController, LineElement, PointElement, Legend);

const PALETTE = ['#6366f1', '#f59e0b', '#10b981', '#ef4444', '#06b6d4', '#8b5cf6', '#ec4899', '#84cc16', '#f97316', '#64748b'];
export const color = (i: number) => PALETTE[i % PALETTE.length];

// Lines over a shared x axis (steps, or categorical axes for parallel coordinates).
export function LineChart(props: {
  series: { label: string; points: { x: number | string; y: number | null }[] }[];
  categorical?: boolean; height?: number; yLabel?: string; xLabel?: string; tooltip?: (series: number, index: number) => string;
}) {
  const ref = useRef<HTMLCanvasElement>(null);
  const key = JSON.stringify(props.series);
  useEffect(() => {
    if (!ref.current) return;
    const labels = props.categorical ? (props.series[0]?.points.map((p) => String(p.x)) ?? []) : undefined;
    const chart = new Chart(ref.current, {
      type: 'line',
      data: {
        labels,
        datasets: props.series.map((s, i) => ({
          label: s.label,
          data: props.categorical ? s.points.map((p) => p.y) : (s.points as any),
          borderColor: color(i), backgroundColor: color(i), pointRadius: props.categorical ? 3 : 0, borderWidth: 2, tension: 0,
        })),
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, parsing: props.categorical ? undefined : false,
        plugins: {
          legend: { display: props.series.length > 1, position: 'bottom' },
          tooltip: props.tooltip ? { callbacks: { label: (c) => props.tooltip!(c.datasetIndex, c.dataIndex) } } : {},
        },
        scales: {
          x: props.categorical ? { type: 'category' } : { type: 'linear', title: { display: true, text: props.xLabel ?? 'step' } },
          y: { title: { display: !!props.yLabel, text: props.yLabel ?? '' } },
        },
      },
    });
    return () => chart.destroy();
  }, [key]);
  return (
    <div class="chart" style={`height: ${props.height ?? 220}px`} data-testid="line-chart">
      <canvas ref={ref} />
    </div>
  );
}

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-2)) return v.toExponential(1);
  return Number(v.toFixed(2)).toString();
}

export function BarChart(props: { labels: string[]; values: number[]; label: string; horizontal?: boolean }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!ref.current) return;
    const chart = new Chart(ref.current, {
      type: 'bar',
      data: {
        labels: props.labels,
        datasets: [{ label: props.label, data: props.values, backgroundColor: '#6366f1', borderRadius: 2 }],
      },
      options: {
        indexAxis: props.horizontal ? 'y' : 'x',
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 6 } }, y: { beginAtZero: true } },
      },
    });
    return () => chart.destroy();
  }, [props.labels.join('|'), props.values.join('|')]);
  return (
    <div class="chart" data-testid="chart">
      <canvas ref={ref} />
    </div>
  );
}

export function Histogram(props: { edges: number[]; counts: number[] }) {
  const labels = props.counts.map((_, i) => fmt(props.edges[i]));
  return <BarChart labels={labels} values={props.counts} label="rows" />;
}

// Curves over a numeric x axis with axis titles (ROC, precision-recall, calibration).
export function XYChart(props: {
  series: { label: string; points: [number, number][]; dashed?: boolean }[];
  xLabel: string; yLabel: string; height?: number; testid?: string;
}) {
  const ref = useRef<HTMLCanvasElement>(null);
  const key = JSON.stringify(props.series);
  useEffect(() => {
    if (!ref.current) return;
    const chart = new Chart(ref.current, {
      type: 'line',
      data: {
        datasets: props.series.map((s, i) => ({
          label: s.label,
          data: s.points.map(([x, y]) => ({ x, y })),
          borderColor: s.dashed ? '#94a3b8' : color(i), backgroundColor: color(i),
          borderDash: s.dashed ? [4, 4] : [], pointRadius: 0, borderWidth: 2, tension: 0,
        })),
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, parsing: false,
        plugins: { legend: { display: props.series.length > 1, position: 'bottom' } },
        scales: {
          x: { type: 'linear', min: 0, max: 1, title: { display: true, text: props.xLabel } },
          y: { min: 0, max: 1, title: { display: true, text: props.yLabel } },
        },
      },
    });
    return () => chart.destroy();
  }, [key]);
  return (
    <div class="chart" style={`height: ${props.height ?? 240}px`} data-testid={props.testid ?? 'xy-chart'}>
      <canvas ref={ref} />
    </div>
  );
}

// Two distributions on the same bins, side by side (reference against current).
export function CompareBars(props: { labels: string[]; series: { label: string; values: number[] }[]; testid?: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const key = JSON.stringify(props);
  useEffect(() => {
    if (!ref.current) return;
    const chart = new Chart(ref.current, {
      type: 'bar',
      data: {
        labels: props.labels,
        datasets: props.series.map((s, i) => ({ label: s.label, data: s.values, backgroundColor: i === 0 ? '#94a3b8' : color(i - 1), borderRadius: 2 })),
      },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: true, position: 'bottom' } },
        scales: { x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 12 } }, y: { beginAtZero: true, title: { display: true, text: 'share' } } },
      },
    });
    return () => chart.destroy();
  }, [key]);
  return (
    <div class="chart" style="height: 240px" data-testid={props.testid ?? 'compare-chart'}>
      <canvas ref={ref} />
    </div>
  );
}

export const fmtNumber = fmt;
