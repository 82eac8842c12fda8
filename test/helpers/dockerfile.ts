/**
 * Reads a Dockerfile as BuildKit would for a given set of build arguments, without a Docker
 * engine: ARG defaults and values substituted (`${NAME}`), stages named, and the stages the final
 * image needs (its base chain and `COPY --from=`), in the order they are written. Enough for the
 * static checks of test/unit/deploy-files.test.ts and test/unit/addon-manifest.test.ts; not a
 * general Dockerfile parser (no `$NAME` without braces, no `${NAME:-x}`).
 */
export interface Stage {
  readonly name: string | undefined;
  /** The FROM image or stage, arguments substituted. */
  readonly base: string;
  /** Every instruction after FROM, continuation lines joined, arguments substituted. */
  readonly instructions: readonly string[];
}

const substitute = (text: string, values: ReadonlyMap<string, string>): string => text.replace(/\$\{(\w+)\}/g, (_, name: string) => values.get(name) ?? '');

/** `ARG NAME=default` → [NAME, default]; `ARG NAME` → [NAME, undefined]. */
function argOf(line: string): [string, string | undefined] {
  const m = /^ARG (\w+)(?:=(.*))?$/.exec(line) as RegExpExecArray;
  return [m[1] as string, m[2]];
}

/** Every stage of `text` with `args` given (as `--build-arg`). */
export function dockerStages(text: string, args: Readonly<Record<string, string>> = {}): Stage[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const global = new Map<string, string>();
  const stages: { name: string | undefined; base: string; instructions: string[]; scope: Map<string, string> }[] = [];
  for (const line of lines) {
    const from = /^FROM (\S+)(?: AS (\S+))?$/i.exec(line);
    const current = stages.at(-1);
    if (from) stages.push({ name: from[2], base: substitute(from[1] as string, global), instructions: [], scope: new Map() });
    else if (line.startsWith('ARG ')) {
      const [name, def] = argOf(line);
      const value = args[name] ?? (current ? global.get(name) : undefined) ?? def;
      if (value !== undefined) (current?.scope ?? global).set(name, value);
    } else current?.instructions.push(substitute(line, current.scope));
  }
  return stages.map(({ name, base, instructions }) => ({ name, base, instructions }));
}

/** The stages the final image is built from (BuildKit skips the others), in file order. */
export function neededStages(stages: readonly Stage[]): Stage[] {
  const byName = new Map(stages.filter((s) => s.name !== undefined).map((s) => [s.name as string, s]));
  const needed = new Set<Stage>();
  const visit = (stage: Stage): void => {
    if (needed.has(stage)) return;
    needed.add(stage);
    const base = byName.get(stage.base);
    if (base) visit(base);
    for (const i of stage.instructions) {
      const from = /--from=(\S+)/.exec(i)?.[1];
      const dep = from === undefined ? undefined : byName.get(from);
      if (dep) visit(dep);
    }
  };
  visit(stages.at(-1) as Stage);
  return stages.filter((s) => needed.has(s));
}

/** The image a stage chain starts from (the first base that is not a stage). */
export function baseImage(stages: readonly Stage[], stage: Stage): string {
  const byName = new Map(stages.filter((s) => s.name !== undefined).map((s) => [s.name as string, s]));
  let s = stage;
  for (let next = byName.get(s.base); next !== undefined; next = byName.get(s.base)) s = next;
  return s.base;
}
