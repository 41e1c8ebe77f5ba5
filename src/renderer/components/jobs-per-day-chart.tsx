import type { JobTotals } from '../../contract/ui-contract';

const WIDTH = 560;
const HEIGHT = 140;
const AXIS = 18;

/** Inline SVG bar chart of jobs per day (oldest first), with a text alternative. */
export function JobsPerDayChart({ perDay }: { perDay: JobTotals['perDay'] }) {
  if (perDay.length === 0) return <p className="muted">No jobs yet.</p>;
  const max = Math.max(1, ...perDay.map((d) => d.jobs));
  const slot = WIDTH / perDay.length;
  const barWidth = Math.max(2, Math.min(36, slot * 0.7));
  const summary = perDay.map((d) => `${d.day}: ${d.jobs}`).join(', ');
  return (
    <svg
      className="chart"
      viewBox={`0 0 ${WIDTH} ${HEIGHT + AXIS}`}
      role="img"
      aria-label={`Jobs per day: ${summary}`}
    >
      {perDay.map((d, i) => {
        const h = Math.round((d.jobs / max) * (HEIGHT - 16));
        const x = i * slot + (slot - barWidth) / 2;
        return (
          <g key={d.day}>
            <title>{`${d.day}: ${d.jobs} job${d.jobs === 1 ? '' : 's'}`}</title>
            <rect className="chart-bar" x={x} y={HEIGHT - h} width={barWidth} height={h} rx={3} />
            <text className="chart-value" x={x + barWidth / 2} y={HEIGHT - h - 4}>
              {d.jobs}
            </text>
            {(perDay.length <= 10 || i % Math.ceil(perDay.length / 10) === 0) && (
              <text className="chart-label" x={x + barWidth / 2} y={HEIGHT + AXIS - 4}>
                {d.day.slice(5)}
              </text>
            )}
          </g>
        );
      })}
      <line className="chart-axis" x1={0} x2={WIDTH} y1={HEIGHT} y2={HEIGHT} />
    </svg>
  );
}
