/**
 * The add-on folder, checked statically (no Docker engine and no Supervisor run here) against the
 * rules the Supervisor applies when it reads a repository, taken from its source
 * (home-assistant/supervisor: supervisor/addons/validate.py `_SCHEMA_ADDON_CONFIG`,
 * `SCHEMA_BUILD_CONFIG`, `SCHEMA_ADDON_TRANSLATIONS`; supervisor/addons/options.py
 * `RE_SCHEMA_ELEMENT`, `_check_missing_options`; supervisor/store/validate.py
 * `SCHEMA_REPOSITORY_CONFIG`; supervisor/const.py `ARCH_ALL`; supervisor/addons/const.py `RE_SLUG`),
 * and the two images built from one Dockerfile.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { OPTIONS } from '../../src/addon/options.js';
import { VARIABLES } from '../../src/config.js';
import { baseImage, dockerStages, neededStages, type Stage } from '../helpers/dockerfile.js';

const root = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');
const yaml = (path: string): Record<string, unknown> => parse(read(path)) as Record<string, unknown>;

const config = yaml('addon/config.yaml');
const build = yaml('addon/build.yaml') as { build_from: Record<string, string>; args: Record<string, string> };
const translations = yaml('addon/translations/en.yaml') as {
  configuration: Record<string, { name: string; description?: string }>;
  network: Record<string, string>;
};
const repository = yaml('repository.yaml');
const pkg = JSON.parse(read('package.json')) as { version: string };

const ARCH_ALL = ['armhf', 'armv7', 'aarch64', 'amd64', 'i386'];
const RE_SLUG = /^[-_.A-Za-z0-9]+$/;
// options.py RE_SCHEMA_ELEMENT, in JavaScript's spelling of named groups.
const RE_SCHEMA_ELEMENT =
  /^(?:|bool|email|url|port|device(?:\((?<filter>subsystem=[a-z]+)\))?|str(?:\((?<s_min>\d+)?,(?<s_max>\d+)?\))?|password(?:\((?<p_min>\d+)?,(?<p_max>\d+)?\))?|int(?:\((?<i_min>\d+)?,(?<i_max>\d+)?\))?|float(?:\((?<f_min>[\d.]+)?,(?<f_max>[\d.]+)?\))?|match\((?<match>.*)\)|list\((?<list>.+)\))\??$/;
// validate.py: the watchdog URL; RE_VOLUME for `map`; a version tag is a string.
const RE_WATCHDOG = /^(?:https?|\[PROTO:\w+\]|tcp):\/\/\[HOST\]:(\[PORT:\d+\]|\d+).*$/;
const RE_VOLUME = /^(data|config|ssl|addons|backup|share|media|homeassistant_config|all_addon_configs|addon_config)(?::(rw|ro))?$/;

/** A schema entry's type text: a list's element for list options. */
const element = (type: unknown): string => (Array.isArray(type) ? String(type[0]) : String(type));

describe('addon/config.yaml', () => {
  const options = config.options as Record<string, unknown>;
  const schema = config.schema as Record<string, unknown>;

  it("has the Supervisor's required keys with their types, and a slug it accepts", () => {
    for (const key of ['name', 'version', 'slug', 'description']) expect(typeof config[key], key).toBe('string');
    expect(config.slug).toMatch(RE_SLUG);
    expect(Array.isArray(config.arch)).toBe(true);
    for (const arch of config.arch as string[]) expect(ARCH_ALL).toContain(arch);
  });

  it("has package.json's version", () => {
    expect(config.version).toBe(pkg.version);
  });

  it('runs as an application with the Home Assistant API, no init, a watchdog on /health and the health port unpublished', () => {
    expect(config).toMatchObject({ startup: 'application', boot: 'auto', init: false, homeassistant_api: true });
    expect(config.watchdog).toMatch(RE_WATCHDOG);
    const port = VARIABLES.HTTP_PORT.default();
    expect(config.watchdog).toBe(`http://[HOST]:[PORT:${port}]/health`);
    expect(config.ports).toEqual({ [`${port}/tcp`]: null });
    expect(Object.keys(config.ports_description as object)).toEqual([`${port}/tcp`]);
    expect(() => new URL(config.url as string)).not.toThrow();
    for (const entry of config.map as string[]) expect(entry).toMatch(RE_VOLUME);
  });

  it('gives every schema entry a type the Supervisor knows (at most a list of one element)', () => {
    for (const [name, type] of Object.entries(schema)) {
      if (Array.isArray(type)) expect(type, name).toHaveLength(1);
      expect(element(type), name).toMatch(RE_SCHEMA_ELEMENT);
    }
  });

  it('has a schema entry for every option; an option without a default is optional (type ending in ?)', () => {
    for (const name of Object.keys(options)) expect(schema, name).toHaveProperty(name);
    // _check_missing_options: a schema entry missing from the options must end in `?`, or the
    // add-on cannot start before the user sets it.
    for (const [name, type] of Object.entries(schema)) if (!(name in options)) expect(element(type).endsWith('?'), name).toBe(true);
    // A default given to a `?` type makes it required (configuration.md, Options / Schema).
    for (const [name, type] of Object.entries(schema)) if (name in options && !Array.isArray(type)) expect(element(type).endsWith('?'), name).toBe(false);
  });

  it('maps every option to a variable the ingestor reads, with the kind of value its schema gives', () => {
    expect(Object.keys(schema).sort()).toEqual(Object.keys(OPTIONS).sort());
    const known = new Set(Object.keys(VARIABLES));
    for (const [name, spec] of Object.entries(OPTIONS)) {
      expect(known.has(spec.variable), name).toBe(true);
      const type = schema[name];
      const kind = Array.isArray(type) ? 'list' : /^(bool)/.test(String(type)) ? 'bool' : /^int/.test(String(type)) ? 'int' : 'str';
      expect(kind, name).toBe(spec.kind);
    }
  });

  it('offers the same choices as the variables (list(a|b) against the literals of the table)', () => {
    for (const [name, type] of Object.entries(schema)) {
      const choices = /^list\((.+)\)\??$/.exec(element(type))?.[1];
      if (choices === undefined || Array.isArray(type)) continue;
      const variable = OPTIONS[name as keyof typeof OPTIONS].variable;
      const spec = VARIABLES[variable].schema as { anyOf?: { const: string }[] };
      expect(choices.split('|').sort(), name).toEqual((spec.anyOf ?? []).map((s) => s.const).sort());
    }
  });

  it('has defaults the ingestor accepts as they are', async () => {
    const { loadConfig } = await import('../../src/config.js');
    const { optionsToVariables } = await import('../../src/addon/options.js');
    const { variables, problems } = optionsToVariables(options);
    expect(problems).toEqual([]);
    expect(() => loadConfig({ SUPERVISOR_TOKEN: 'x'.repeat(20), ...variables })).not.toThrow();
  });
});

describe('addon/translations/en.yaml', () => {
  it('names and describes every option, and the port', () => {
    const schema = config.schema as Record<string, unknown>;
    expect(Object.keys(translations.configuration).sort()).toEqual(Object.keys(schema).sort());
    for (const [name, t] of Object.entries(translations.configuration)) {
      expect(typeof t.name, name).toBe('string');
      expect(typeof t.description, name).toBe('string');
    }
    expect(Object.keys(translations.network)).toEqual(Object.keys(config.ports as object));
  });
});

describe('addon/build.yaml and repository.yaml', () => {
  it('builds for exactly the arches of config.yaml, from a base image the Supervisor accepts', () => {
    expect(Object.keys(build.build_from).sort()).toEqual([...(config.arch as string[])].sort());
    // validate.py RE_DOCKER_IMAGE_BUILD: an image name with at least one `/`.
    const reImage = /^([a-zA-Z\-.:\d{}]+\/)*?([-\w{}]+)\/([-\w{}]+)(:[.\-\w{}]+)?$/;
    for (const image of Object.values(build.build_from)) expect(image).toMatch(reImage);
    for (const value of Object.values(build.args)) expect(typeof value).toBe('string');
  });

  it('has a repository.yaml with a name, and one repository URL everywhere', () => {
    expect(typeof repository.name).toBe('string');
    expect(typeof repository.maintainer).toBe('string');
    expect(repository.url).toBe(config.url);
    expect(build.args.REPOSITORY).toBe(config.url);
  });
});

describe('one Dockerfile for the compose image and the add-on', () => {
  const dockerfile = read('Dockerfile');
  /** What BuildKit builds, with the Supervisor's arguments for `arch` (build.py get_docker_args) or compose's (none). */
  const addonBuild = (arch: string): Stage[] =>
    dockerStages(read('addon/Dockerfile'), {
      BUILD_FROM: build.build_from[arch] as string,
      BUILD_VERSION: String(config.version),
      BUILD_ARCH: arch,
      ...build.args,
    });
  const composeBuild = (): Stage[] => dockerStages(dockerfile);
  const unqualified = (image: string): string => image.replace(/^docker\.io\/library\//, '');
  const runs = (stages: Stage[]): string[] =>
    neededStages(stages).flatMap((s) => s.instructions.filter((i) => /^(RUN|ENV|WORKDIR|CMD|HEALTHCHECK|STOPSIGNAL|EXPOSE|VOLUME) /.test(i)));

  it('is the same file in addon/ (the Supervisor builds with addon/ as the context)', () => {
    expect(read('addon/Dockerfile')).toBe(dockerfile);
  });

  it('builds, for every arch, from the same Node image, with the same commands, as the compose image', () => {
    const compose = composeBuild();
    for (const arch of config.arch as string[]) {
      const addon = addonBuild(arch);
      const images = (stages: Stage[]) =>
        neededStages(stages)
          .map((s) => unqualified(baseImage(stages, s)))
          .filter((b) => b !== 'scratch');
      expect(images(addon), arch).toEqual(images(compose));
      expect(runs(addon), arch).toEqual(runs(compose));
    }
  });

  it('takes the sources of the compose build from its context, those of the add-on from the git tag of its version', () => {
    const sources = (stages: Stage[]) => neededStages(stages).flatMap((s) => s.instructions.filter((i) => /^(COPY|ADD) /.test(i) && !i.includes('--from=')));
    expect(sources(composeBuild())).toEqual(['COPY package.json package-lock.json tsconfig.json /src/', 'COPY src /src/src', 'COPY workers /src/workers']);
    // Nothing from the build context (addon/ holds no sources): only the tag of config.yaml's version.
    expect(sources(addonBuild('amd64'))).toEqual([`ADD ${config.url}.git#v${pkg.version} /src`]);
  });

  it("runs the compose image as node, the add-on as root (the owner of the Supervisor's /data)", () => {
    const user = (stages: Stage[]) => (stages.at(-1) as Stage).instructions.find((i) => i.startsWith('USER '));
    expect(user(composeBuild())).toBe('USER node');
    expect(user(addonBuild('aarch64'))).toBe('USER root');
  });
});
