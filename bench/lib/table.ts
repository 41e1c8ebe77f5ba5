/** Plain-text tables for the benchmark's stdout. */

export type Cell = string | number | undefined;

function text(cell: Cell): string {
  if (cell === undefined) return '–';
  if (typeof cell === 'number') {
    if (!Number.isFinite(cell)) return '–';
    if (Number.isInteger(cell)) return cell.toLocaleString('en-US');
    if (Math.abs(cell) >= 100) return Math.round(cell).toLocaleString('en-US');
    if (Math.abs(cell) >= 10) return cell.toFixed(1);
    return cell.toFixed(2);
  }
  return cell;
}

export function formatTable(title: string, header: string[], rows: Cell[][]): string {
  const body = rows.map((row) => row.map(text));
  const widths = header.map((name, column) =>
    Math.max(name.length, ...body.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join('  ');
  return [
    `\n${title}`,
    line(header),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...body.map(line),
  ].join('\n');
}
