import type { JobTotals } from '../../contract/ui-contract';

const WIDTH = 560;
const HEIGHT = 140;
const AXIS = 18;
export const CHART_DAYS = 14;

function localDay(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** The last CHART_DAYS days up to `today`, oldest first, with zero for days without jobs. */
export function lastDays(perDay: JobTotals['perDay'], today: Date): JobTotals['perDay'] {
  const counts = new Map(perDay.map((d) => [d.day, d.jobs]));
  const days: JobTotals['perDay'] = [];
  for (let back = CHART_DAYS - 1; back >= 0; back--) {
    const date = new Date(today.getFullYear(), today.getMonth(), today.getDate() - back);
    const day = localDay(date);
    days.push({ day, jobs: counts.get(day) ?? 0 });
  }
  return days;
}

/** Inline SVG bar chart of jobs per day over the last two weeks, with a text alternative. */
export function JobsPerDayChart({ perDay }: { perDay: JobTotals['perDay'] }) {
  const days = lastDays(perDay, new Date());
  const total = days.reduce((sum, d) => sum + d.jobs, 0);
  if (total === 0) return <p className="muted">No jobs in the last {CHART_DAYS} days.</p>;
  const max = Math.max(1, ...days.map((d) => d.jobs));
  const slot = WIDTH / days.length;
  const barWidth = slot * 0.7;
  const summary = days
    .filter((d) => d.jobs > 0)
    .map((d) => `${d.day}: ${d.jobs}`)
    .join(', ');
  return (
    <svg
      className="chart"
      viewBox={`0 0 ${WIDTH} ${HEIGHT + AXIS}`}
      role="img"
      aria-label={`Jobs per day, last ${CHART_DAYS} days: ${summary}`}
    >
      {days.map((d, i) => {
        const h = Math.round((d.jobs / max) * (HEIGHT - 16));
        const x = i * slot + (slot - barWidth) / 2;
        return (
          <g key={d.day}>
            <title>{`${d.day}: ${d.jobs} job${d.jobs === 1 ? '' : 's'}`}</title>
            {d.jobs > 0 && (
              <>
                <rect
                  className="chart-bar"
                  x={x}
                  y={HEIGHT - h}
                  width={barWidth}
                  height={h}
                  rx={3}
                />
                <text className="chart-value" x={x + barWidth / 2} y={HEIGHT - h - 4}>
                  {d.jobs}
                </text>
              </>
            )}
            {i % 2 === (days.length - 1) % 2 && (
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
