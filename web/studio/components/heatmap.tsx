// A heat map on a canvas: rows x cols values in [0, max], hover (or arrow keys when focused)
// shows the cell's row, column and value; optional row/column labels.
import { useEffect, useRef, useState } from 'preact/hooks';

export interface HeatmapProps {
  readonly values: ArrayLike<number>;
  readonly rows: number;
  readonly cols: number;
  readonly label: string;
  readonly rowLabels?: readonly string[];
  readonly colLabels?: readonly string[];
  /** Colour scale: 'sequential' (0..max) or 'diverging' (-max..max). */
  readonly scale?: 'sequential' | 'diverging';
  readonly size?: number;
  readonly testId?: string;
}

/** The colour of `value` as [r, g, b] in 0..255. */
export function colourRgb(
  value: number,
  max: number,
  scale: 'sequential' | 'diverging',
): [number, number, number] {
  if (scale === 'diverging') {
    const t = Math.max(-1, Math.min(1, value / (max || 1)));
    const r = t > 0 ? 255 : Math.round(255 * (1 + t));
    const b = t < 0 ? 255 : Math.round(255 * (1 - t));
    const g = Math.round(255 * (1 - Math.abs(t)));
    return [r, g, b];
  }
  const t = Math.max(0, Math.min(1, value / (max || 1)));
  // white -> deep blue
  return [Math.round(255 - 222 * t), Math.round(255 - 180 * t), Math.round(255 - 90 * t)];
}

export function colour(value: number, max: number, scale: 'sequential' | 'diverging'): string {
  const [r, g, b] = colourRgb(value, max, scale);
  return `rgb(${r},${g},${b})`;
}

export function Heatmap(props: HeatmapProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [cell, setCell] = useState<[number, number] | null>(null);
  const scale = props.scale ?? 'sequential';
  const size = props.size ?? 480;
  const cellW = size / props.cols;
  const cellH = Math.max(1, Math.min(size / props.rows, 40));
  let max = 0;
  for (let k = 0; k < props.values.length; k++) max = Math.max(max, Math.abs(props.values[k]!));
  useEffect(() => {
    const c = canvas.current;
    if (c === null) return;
    const context = c.getContext('2d')!;
    context.clearRect(0, 0, c.width, c.height);
    for (let i = 0; i < props.rows; i++) {
      for (let j = 0; j < props.cols; j++) {
        context.fillStyle = colour(props.values[i * props.cols + j]!, max, scale);
        context.fillRect(j * cellW, i * cellH, Math.ceil(cellW), Math.ceil(cellH));
      }
    }
    if (cell !== null) {
      context.strokeStyle = '#e4572e';
      context.lineWidth = 2;
      context.strokeRect(cell[1] * cellW, cell[0] * cellH, cellW, cellH);
    }
  }, [props.values, props.rows, props.cols, cell, max, scale, cellW, cellH]);
  const at = (event: MouseEvent): void => {
    const rect = (event.currentTarget as HTMLCanvasElement).getBoundingClientRect();
    const j = Math.floor(((event.clientX - rect.left) / rect.width) * props.cols);
    const i = Math.floor(((event.clientY - rect.top) / rect.height) * props.rows);
    if (i >= 0 && i < props.rows && j >= 0 && j < props.cols) setCell([i, j]);
  };
  const key = (event: KeyboardEvent): void => {
    const [i, j] = cell ?? [0, 0];
    const moves: Record<string, [number, number]> = {
      ArrowUp: [Math.max(0, i - 1), j],
      ArrowDown: [Math.min(props.rows - 1, i + 1), j],
      ArrowLeft: [i, Math.max(0, j - 1)],
      ArrowRight: [i, Math.min(props.cols - 1, j + 1)],
    };
    const move = moves[event.key];
    if (move !== undefined) {
      event.preventDefault();
      setCell(move);
    }
  };
  const value = cell === null ? null : props.values[cell[0] * props.cols + cell[1]]!;
  return (
    <figure class="heatmap">
      <canvas
        ref={canvas}
        width={Math.round(cellW * props.cols)}
        height={Math.round(cellH * props.rows)}
        role="img"
        aria-label={`${props.label}: ${props.rows} by ${props.cols}; focus and use the arrow keys to read cells`}
        tabIndex={0}
        data-testid={props.testId}
        onMouseMove={at}
        onKeyDown={key}
      />
      <figcaption
        aria-live="polite"
        data-testid={props.testId === undefined ? undefined : `${props.testId}-readout`}
      >
        {cell === null || value === null
          ? `${props.label} (hover or focus to read values)`
          : `${props.rowLabels?.[cell[0]] ?? `row ${cell[0]}`} → ${props.colLabels?.[cell[1]] ?? `col ${cell[1]}`}: ${value.toFixed(4)}`}
      </figcaption>
    </figure>
  );
}
