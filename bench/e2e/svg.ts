/** Small SVG charts for docs/benchmarks.md, drawn from the results (no library). */

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

/** Panels of horizontal bars side by side (the same labels in each), values shown to `digits`. */
export function barPanels(
  title: string,
  panels: readonly { title: string; unit: string; digits: number; rows: readonly { label: string; value: number; highlight?: boolean }[] }[],
): string {
  const left = 200;
  const panelWidth = 300;
  const rowHeight = 28;
  const top = 64;
  const labels = panels[0]?.rows.map((r) => r.label) ?? [];
  const width = left + panels.length * panelWidth + 20;
  const height = top + labels.length * rowHeight + 20;
  const names = labels.map((l, i) => `<text x="${left - 8}" y="${top + i * rowHeight + 18}" text-anchor="end">${esc(l)}</text>`).join('\n');
  const drawn = panels
    .map((p, k) => {
      const x0 = left + k * panelWidth;
      const max = Math.max(Number.MIN_VALUE, ...p.rows.map((r) => r.value));
      const bars = p.rows.map((r, i) => {
        const y = top + i * rowHeight;
        const w = Math.max(1, ((panelWidth - 110) * r.value) / max);
        const value = r.value.toLocaleString('en-US', { maximumFractionDigits: p.digits, minimumFractionDigits: p.digits });
        return `<rect x="${x0}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowHeight - 8}" fill="${r.highlight ? '#2b7bb9' : '#9ab'}"/><text x="${(x0 + w + 6).toFixed(1)}" y="${y + 18}">${value} ${esc(p.unit)}</text>`;
      });
      return [`<text x="${x0}" y="${top - 10}" font-weight="bold">${esc(p.title)}</text>`, ...bars].join('\n');
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">
<rect width="100%" height="100%" fill="white"/>
<text x="12" y="24" font-size="15" font-weight="bold">${esc(title)}</text>
${names}
${drawn}
</svg>
`;
}
