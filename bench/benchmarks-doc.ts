/** The marked sections of docs/benchmarks.md (`<!-- name:start -->` … `<!-- name:end -->`) that the benchmarks regenerate. */
import { readFileSync, writeFileSync } from 'node:fs';

export function replaceSection(doc: string, name: string, body: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i === -1 || j === -1) throw new Error(`docs/benchmarks.md lacks the ${start} … ${end} markers`);
  return `${doc.slice(0, i + start.length)}\n${body}\n${doc.slice(j)}`;
}

/** Rewrites one section of the file at `path`. */
export function writeSection(path: string, name: string, body: string): void {
  writeFileSync(path, replaceSection(readFileSync(path, 'utf8'), name, body));
}
