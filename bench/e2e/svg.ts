/** Two small SVG charts for docs/benchmarks.md, drawn from the results (no library). */

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Horizontal bars, one per row, labelled with their value. */
export function barChart(title: string, unit: string, rows: readonly { label: string; value: number; highlight?: boolean }[]): string {
  const width = 720;
  const rowHeight = 28;
  const left = 260;
  const top = 40;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const height = top + rows.length * rowHeight + 20;
  const bars = rows
    .map((r, i) => {
      const y = top + i * rowHeight;
      const w = Math.max(1, ((width - left - 110) * r.value) / max);
      return [
        `<text x="${left - 8}" y="${y + 18}" text-anchor="end">${esc(r.label)}</text>`,
        `<rect x="${left}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowHeight - 8}" fill="${r.highlight ? '#2b7bb9' : '#9ab'}"/>`,
        `<text x="${(left + w + 6).toFixed(1)}" y="${y + 18}">${Math.round(r.value).toLocaleString('en-US')} ${esc(unit)}</text>`,
      ].join('');
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">
<rect width="100%" height="100%" fill="white"/>
<text x="12" y="24" font-size="15" font-weight="bold">${esc(title)}</text>
${bars}
</svg>
`;
}
