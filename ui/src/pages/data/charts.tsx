// Profile charts drawn with Chart.js: a histogram per numeric column and a bar chart of the
// top values of categorical columns.
import { useEffect, useRef } from 'preact/hooks';
import { BarController, BarElement, CategoryScale, Chart, LinearScale, Tooltip } from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

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
