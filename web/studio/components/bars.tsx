// A horizontal bar chart in SVG: one labelled bar per item, widths proportional to value.
export interface Bar {
  readonly label: string;
  readonly value: number;
  /** A CSS class for the bar's state (kept, cut by top-k, cut by top-p). */
  readonly kind?: string;
}

export function Bars(props: {
  readonly bars: readonly Bar[];
  readonly label: string;
  readonly testId: string;
}) {
  const rowHeight = 20;
  const max = Math.max(1e-12, ...props.bars.map((b) => b.value));
  const width = 420;
  const labelWidth = 110;
  return (
    <svg
      class="bars"
      role="img"
      aria-label={props.label}
      data-testid={props.testId}
      viewBox={`0 0 ${width} ${Math.max(1, props.bars.length) * rowHeight}`}
      width="100%"
      style={{ maxWidth: `${width}px` }}
    >
      {props.bars.map((bar, i) => (
        <g key={i} transform={`translate(0, ${i * rowHeight})`}>
          <text x={labelWidth - 6} y={14} text-anchor="end" class="bar-label">
            {bar.label}
          </text>
          <rect
            class={`bar ${bar.kind ?? ''}`}
            x={labelWidth}
            y={3}
            height={rowHeight - 6}
            width={Math.max(1, ((width - labelWidth - 60) * bar.value) / max)}
          >
            <title>{`${bar.label}: ${bar.value.toFixed(4)}`}</title>
          </rect>
          <text x={labelWidth + ((width - labelWidth - 60) * bar.value) / max + 4} y={14} class="bar-value">
            {bar.value.toFixed(3)}
          </text>
        </g>
      ))}
    </svg>
  );
}
