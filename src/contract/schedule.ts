/**
 * The "when to compute" time windows of the settings (`computeSchedule`): entries separated by
 * `;`, each days and a time range, e.g. `Mon-Fri 18:00-08:00; Sat,Sun 00:00-24:00`. Days are
 * `Mon`..`Sun`, ranges (`Mon-Fri`), lists (`Sat,Sun`) or `daily`. A range whose end is before its
 * start runs past midnight into the next day. Empty: any time.
 */

export interface ScheduleWindow {
  /** 0 = Sunday .. 6 = Saturday (Date.getDay()). */
  days: ReadonlySet<number>;
  /** Minutes after midnight. */
  start: number;
  end: number;
}

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const ENTRY = /^(\S+)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$/;

function dayIndex(name: string): number {
  const index = DAY_NAMES.indexOf(name.slice(0, 3).toLowerCase());
  if (index < 0 || name.length > 9) throw new Error(`unknown day "${name}"`);
  return index;
}

function parseDays(text: string): Set<number> {
  if (/^(daily|\*)$/i.test(text)) return new Set([0, 1, 2, 3, 4, 5, 6]);
  const days = new Set<number>();
  for (const part of text.split(',')) {
    const [from, to] = part.split('-');
    if (from === undefined || from === '') throw new Error(`empty day in "${text}"`);
    const first = dayIndex(from);
    const last = to === undefined ? first : dayIndex(to);
    for (let day = first; ; day = (day + 1) % 7) {
      days.add(day);
      if (day === last) break;
    }
  }
  return days;
}

function minutesOf(hours: string, minutes: string): number {
  const h = Number(hours);
  const m = Number(minutes);
  if (m > 59 || h > 24 || (h === 24 && m > 0)) throw new Error(`bad time ${hours}:${minutes}`);
  return h * 60 + m;
}

/** Parses a schedule; throws with the reason on a malformed entry. */
export function parseSchedule(text: string): ScheduleWindow[] {
  return text
    .split(';')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const match = ENTRY.exec(entry);
      if (!match) throw new Error(`"${entry}" is not like "Mon-Fri 18:00-08:00"`);
      const [, days = '', h1 = '', m1 = '', h2 = '', m2 = ''] = match;
      return { days: parseDays(days), start: minutesOf(h1, m1), end: minutesOf(h2, m2) };
    });
}

/** The check of the settings rules: a problem, or null. */
export function scheduleProblem(text: string): string | null {
  try {
    parseSchedule(text);
    return null;
  } catch (error) {
    return `must be windows such as "Mon-Fri 18:00-08:00; Sat,Sun 00:00-24:00": ${(error as Error).message}`;
  }
}

/** Whether local time `date` is inside a window; no windows means any time. */
export function inSchedule(windows: readonly ScheduleWindow[], date: Date): boolean {
  if (windows.length === 0) return true;
  const day = date.getDay();
  const minute = date.getHours() * 60 + date.getMinutes();
  const yesterday = (day + 6) % 7;
  return windows.some((window) => {
    if (window.start <= window.end) {
      return window.days.has(day) && minute >= window.start && minute < window.end;
    }
    // Past midnight: the evening part belongs to its day, the morning part to the day before.
    return (
      (window.days.has(day) && minute >= window.start) ||
      (window.days.has(yesterday) && minute < window.end)
    );
  });
}
