export interface ProgressBarProps {
  value: number;
  max: number;
  label: string;
}

/** An accessible progress bar (role=progressbar) that turns amber past 90 %. */
export function ProgressBar({ value, max, label }: ProgressBarProps) {
  const fraction = max > 0 ? Math.min(1, Math.max(0, value / max)) : 0;
  const percent = Math.round(fraction * 100);
  return (
    <div
      className={`progress${fraction >= 0.9 ? ' progress-late' : ''}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={percent}
    >
      <div className="progress-fill" style={{ width: `${percent}%` }} />
    </div>
  );
}
