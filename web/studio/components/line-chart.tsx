// A line chart of several series over steps (uPlot), e.g. one run per series.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  readonly label: string;
  readonly x: readonly number[];
  readonly y: readonly (number | null)[];
}

const palette = ['#1f77b4', '#e4572e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22'];

/** The series on one sorted x axis (the union of their steps), null where a series has no point. */
function aligned(series: readonly Series[]): uPlot.AlignedData {
  const xs = [...new Set(series.flatMap((s) => s.x))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = series.map((s) => {
    const y: (number | null)[] = new Array<number | null>(xs.length).fill(null);
    s.x.forEach((x, k) => (y[index.get(x)!] = s.y[k] ?? null));
    return y;
  });
  return [xs, ...ys] as uPlot.AlignedData;
}

export function LineChart(props: {
  readonly title: string;
  readonly series: readonly Series[];
  readonly testId: string;
  readonly log?: boolean;
}) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  // The plot is rebuilt when the series or their lengths change (a live run grew): cheap at
  // a poll every few seconds, and it rescales both axes.
  const shape = props.series.map((s) => `${s.label}:${s.x.length}`).join('\n') + String(props.log);
  useEffect(() => {
    const element = host.current;
    if (element === null) return;
    const width = Math.max(280, Math.min(560, element.clientWidth || 560));
    plot.current = new uPlot(
      {
        title: props.title,
        width,
        height: 220,
        scales: { x: { time: false }, y: props.log === true ? { distr: 3 } : {} },
        axes: [{ label: 'step' }, { size: 64 }],
        series: [
          { label: 'step' },
          ...props.series.map((s, i) => ({
            label: s.label,
            stroke: palette[i % palette.length]!,
            spanGaps: true,
            width: 1.5,
          })),
        ],
      },
      aligned(props.series),
      element,
    );
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape]);
  return <div class="chart" ref={host} data-testid={props.testId} role="img" aria-label={props.title} />;
}
