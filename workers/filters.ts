/**
 * Which entities are written, which attributes are left out, and measurement overrides, with
 * Home Assistant's semantics (the recorder's and the InfluxDB integration's `include`/`exclude`
 * and `component_config*`).
 *
 * Include/exclude, in this order, the first rule that matches decides:
 *   1. listed in include entities → written      2. listed in exclude entities → left out
 *   3. matches an include glob → written         4. matches an exclude glob → left out
 *   5. domain in include domains → written       6. domain in exclude domains → left out
 *   7. anything else: left out when an include rule exists, else written.
 * Globs are fnmatch patterns: `*` any run of characters, `?` one character.
 *
 * Per-entity settings merge domain, then glob (in the order given), then entity settings, the
 * later winning, as HA's EntityValues do.
 */

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

/** fnmatch → RegExp (anchored). */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}

export function compileFilters(config: FilterConfig = {}): (entityId: string) => EntityRules {
  const set = (list?: readonly string[]) => new Set(list ?? []);
  const includeEntities = set(config.include?.entities);
  const excludeEntities = set(config.exclude?.entities);
  const includeDomains = set(config.include?.domains);
  const excludeDomains = set(config.exclude?.domains);
  const includeGlobs = (config.include?.entity_globs ?? []).map(globToRegExp);
  const excludeGlobs = (config.exclude?.entity_globs ?? []).map(globToRegExp);
  const hasInclude = includeEntities.size > 0 || includeDomains.size > 0 || includeGlobs.length > 0;
  const globalIgnore = config.ignore_attributes ?? [];
  const globSettings = Object.entries(config.component_config_glob ?? {}).map(([g, s]) => [globToRegExp(g), s] as const);
  const cache = new Map<string, EntityRules>();

  function write(entityId: string, domain: string): boolean {
    if (includeEntities.has(entityId)) return true;
    if (excludeEntities.has(entityId)) return false;
    if (includeGlobs.some((g) => g.test(entityId))) return true;
    if (excludeGlobs.some((g) => g.test(entityId))) return false;
    if (includeDomains.has(domain)) return true;
    if (excludeDomains.has(domain)) return false;
    return !hasInclude;
  }

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
