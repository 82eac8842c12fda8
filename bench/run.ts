/**
 * `npm run bench`: runs the benchmarks, saves their JSON under bench/results/, and regenerates
 * the generated parts of docs/benchmarks.md (between `<!-- micro:start -->` and
 * `<!-- micro:end -->`). Figures in the docs come from here, never typed by hand.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { runMicro, type MicroResult } from './micro.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

function microTable(results: MicroResult[]): string {
  const rows = results.map((r) => `| ${r.group} | ${r.name} | ${r.nsPerEvent < 10 ? r.nsPerEvent.toFixed(2) : Math.round(r.nsPerEvent).toLocaleString('en-US')} |`);
  return ['| where | step | ns per event |', '|---|---|---:|', ...rows].join('\n');
}

function replaceSection(doc: string, name: string, body: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i === -1 || j === -1) throw new Error(`docs/benchmarks.md lacks the ${start} … ${end} markers`);
  return `${doc.slice(0, i + start.length)}\n${body}\n${doc.slice(j)}`;
}

const results = await runMicro();
const at = machine();
mkdirSync(`${root}bench/results`, { recursive: true });
writeFileSync(`${root}bench/results/micro.json`, `${JSON.stringify({ machine: at, results }, null, 2)}\n`);
console.log(`micro-benchmarks on ${at}`);
console.table(results.map((r) => ({ where: r.group, step: r.name, 'ns/event': Math.round(r.nsPerEvent * 100) / 100 })));

const docPath = `${root}docs/benchmarks.md`;
const doc = readFileSync(docPath, 'utf8');
writeFileSync(docPath, replaceSection(doc, 'micro', `Measured on ${at}.\n\n${microTable(results)}`));
console.log('docs/benchmarks.md updated');
