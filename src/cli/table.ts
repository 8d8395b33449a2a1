/**
 * @module cli/table
 * Plain-text tables for the CLI's human output: columns padded to their widest cell,
 * two spaces apart, trailing blanks trimmed.
 */
export function table (head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => r[i].length)))
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
  return [head, ...rows].map(line).join('\n') + '\n'
}
