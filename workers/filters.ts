/**
 * Which entities are written, which attributes are left out, and measurement overrides, with
 * Home Assistant's semantics (the recorder's and the InfluxDB integration's `include`/`exclude`
 * and `component_config*`).
 *
 * Include/exclude: HA's entityfilter.py (`_generate_filter_from_sets_and_pattern_lists`). Which
 * lists are non-empty picks one of six cases, once:
 *   1. nothing listed: every entity is written.
 *   2. only include lists: written when its id, domain or a glob is included.
 *   3. only exclude lists: written unless its id, domain or a glob is excluded.
 *   4. include domains or globs (and excludes): included id → written; else excluded id → left
 *      out; else included glob → written; else included domain and no excluded glob → written;
 *      else left out. Excluded domains count for nothing here.
 *   5. include ids only, exclude domains or globs: excluded domain or glob → written only when
 *      its id is included; else written unless its id is excluded (an id both included and
 *      excluded is left out). Every entity not excluded is written.
 *   6. include ids and exclude ids only: written when its id is included.
 * Entity ids in the lists are compared lower-cased (HA's `cv.entity_ids` lower-cases them);
 * domains and globs as given. Globs are Python's fnmatch (workers/fnmatch.ts).
 *
 * Per-entity settings merge domain, then glob (in the order given), then entity settings, the
 * later winning, as HA's EntityValues do.
 */
import { anyGlobRegExp, fnmatchRegExp } from './fnmatch.js';

export interface EntitySettings {
  readonly override_measurement?: string;
  readonly ignore_attributes?: readonly string[];
}

export interface FilterConfig {
  readonly include?: { readonly domains?: readonly string[]; readonly entities?: readonly string[]; readonly entity_globs?: readonly string[] };
  readonly exclude?: { readonly domains?: readonly string[]; readonly entities?: readonly string[]; readonly entity_globs?: readonly string[] };
  readonly ignore_attributes?: readonly string[];
  readonly component_config?: Readonly<Record<string, EntitySettings>>;
  readonly component_config_domain?: Readonly<Record<string, EntitySettings>>;
  readonly component_config_glob?: Readonly<Record<string, EntitySettings>>;
}

export interface EntityRules {
  readonly write: boolean;
  readonly ignoreAttributes: ReadonlySet<string>;
  readonly overrideMeasurement: string | undefined;
}

type Rules = FilterConfig['include'];

/** HA's six cases (module header): a test of one entity id and its domain. */
export function compileEntityFilter(include: Rules = {}, exclude: Rules = {}): (entityId: string, domain: string) => boolean {
  // ASCII only: HA accepts only ASCII entity ids, and a list may be in Latin-1 form (latin1.ts).
  const ids = (list?: readonly string[]) => new Set((list ?? []).map((id) => id.replace(/[A-Z]+/g, (m) => m.toLowerCase())));
  const includeE = ids(include.entities);
  const excludeE = ids(exclude.entities);
  const includeD = new Set(include.domains ?? []);
  const excludeD = new Set(exclude.domains ?? []);
  const includeG = anyGlobRegExp(include.entity_globs ?? []);
  const excludeG = anyGlobRegExp(exclude.entity_globs ?? []);
  const haveInclude = includeE.size > 0 || includeD.size > 0 || includeG !== null;
  const haveExclude = excludeE.size > 0 || excludeD.size > 0 || excludeG !== null;
  const inG = (re: RegExp | null, id: string) => re?.test(id) === true;

  if (!haveInclude && !haveExclude) return () => true;
  if (!haveExclude) return (id, domain) => includeE.has(id) || includeD.has(domain) || inG(includeG, id);
  if (!haveInclude) return (id, domain) => !(excludeE.has(id) || excludeD.has(domain) || inG(excludeG, id));
  if (includeD.size > 0 || includeG !== null) {
    return (id, domain) => includeE.has(id) || (!excludeE.has(id) && (inG(includeG, id) || (includeD.has(domain) && !inG(excludeG, id))));
  }
  if (excludeD.size > 0 || excludeG !== null) {
    return (id, domain) => (excludeD.has(domain) || inG(excludeG, id) ? includeE.has(id) : !excludeE.has(id));
  }
  return (id) => includeE.has(id);
}

export function compileFilters(config: FilterConfig = {}): (entityId: string) => EntityRules {
  const write = compileEntityFilter(config.include, config.exclude);
  const globalIgnore = config.ignore_attributes ?? [];
  const globSettings = Object.entries(config.component_config_glob ?? {}).map(([g, s]) => [fnmatchRegExp(g), s] as const);
  const cache = new Map<string, EntityRules>();

  return (entityId) => {
    let rules = cache.get(entityId);
    if (rules !== undefined) return rules;
    const domain = entityId.slice(0, Math.max(0, entityId.indexOf('.')));
    const layers: EntitySettings[] = [];
    const byDomain = config.component_config_domain?.[domain];
    if (byDomain) layers.push(byDomain);
    for (const [g, s] of globSettings) if (g.test(entityId)) layers.push(s);
    const byEntity = config.component_config?.[entityId];
    if (byEntity) layers.push(byEntity);
    let overrideMeasurement: string | undefined;
    let ignore: readonly string[] | undefined;
    for (const layer of layers) {
      if (layer.override_measurement !== undefined) overrideMeasurement = layer.override_measurement;
      if (layer.ignore_attributes !== undefined) ignore = layer.ignore_attributes;
    }
    rules = { write: write(entityId, domain), ignoreAttributes: new Set([...globalIgnore, ...(ignore ?? [])]), overrideMeasurement };
    if (cache.size > 100_000) cache.clear();
    cache.set(entityId, rules);
    return rules;
  };
}
