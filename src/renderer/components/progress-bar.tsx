export interface ProgressBarProps {
  value: number;
  max: number;
  label: string;
  /** The fraction past which the bar turns amber; default 0.9 (a limit drawing near). */
  warnAt?: number;
}

/** An accessible progress bar (role=progressbar) that turns amber past 90 %. */
export function ProgressBar({ value, max, label, warnAt = 0.9 }: ProgressBarProps) {
  const fraction = max > 0 ? Math.min(1, Math.max(0, value / max)) : 0;
  const percent = Math.round(fraction * 100);
  return (
    <div
      className={`progress${fraction >= warnAt ? ' progress-late' : ''}`}
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
