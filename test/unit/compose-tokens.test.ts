/**
 * Issue 12, item 8, checked without a Docker engine (none runs here): the compose stack gives the
 * ingestor a write-only token and Grafana a read-only one, publishes InfluxDB and /health on
 * 127.0.0.1 unless the user opts in, and the dashboard follows INFLUX_BUCKET and counts each state
 * change once. What a shell can run is run: the InfluxDB init script (against a stand-in `influx`
 * CLI that records its arguments) and the services' entrypoint wrappers.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const INIT_SCRIPT = fileURLToPath(new URL('docker/influxdb-init/10-ha-ingestor-tokens.sh', root));

interface Service {
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  volumes?: string[];
  ports?: string[];
}
const composeText = read('docker-compose.yml');
const compose = parse(composeText) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const { influxdb, ingestor, grafana } = compose.services as Record<'influxdb' | 'ingestor' | 'grafana', Service>;

/** Compose's interpolation of `${VAR:-default}` and `$$`, with `env` as the .env file. */
function interpolate(text: string, env: Record<string, string> = {}): string {
  return text.replace(/\$\$|\$\{([A-Z_]+)(?::-([^}]*))?\}/g, (whole, name: string | undefined, fallback: string | undefined) => {
    if (whole === '$$') return '$';
    const v = env[name as string];
    return v !== undefined && v !== '' ? v : (fallback ?? '');
  });
}

/** [host address, host port, container port] of a short-syntax port entry after interpolation. */
function binding(port: string, env: Record<string, string> = {}): [string, string, string] {
  const parts = interpolate(port, env).split(':');
  return parts.length === 3 ? (parts as [string, string, string]) : ['0.0.0.0', parts[0] as string, parts[1] as string];
}

/** The volume mounted at `target` in `service`. */
const mountAt = (service: Service, target: string) => service.volumes?.find((v) => v.split(':')[1] === target);

describe('compose: published ports', () => {
  it.each([
    ['influxdb', 'INFLUX_PUBLISH', '8086', influxdb],
    ['ingestor', 'INGESTOR_PUBLISH', '8099', ingestor],
  ] as const)('%s is published on 127.0.0.1 only, unless %s opts in', (_name, variable, port, service) => {
    expect(service.ports).toHaveLength(1);
    const entry = service.ports?.[0] as string;
    expect(binding(entry)).toEqual(['127.0.0.1', port, port]);
    expect(binding(entry, { [variable]: '0.0.0.0' })).toEqual(['0.0.0.0', port, port]);
    expect(read('.env.example')).toMatch(new RegExp(`^${variable}=127\\.0\\.0\\.1$`, 'm'));
  });
});

describe('compose: one token per service, each allowed one thing', () => {
  it("keeps InfluxDB's admin token with InfluxDB: no other service is handed INFLUX_TOKEN", () => {
    expect(influxdb.environment?.DOCKER_INFLUXDB_INIT_ADMIN_TOKEN).toMatch(/^\$\{INFLUX_TOKEN[:?}]/);
    for (const [name, service] of Object.entries(compose.services)) {
      if (name === 'influxdb') continue;
      expect(JSON.stringify(service), name).not.toContain('${INFLUX_TOKEN');
    }
  });

  it('runs the init script on first start and reports healthy only once both tokens exist', () => {
    expect(influxdb.volumes).toContain('./docker/influxdb-init:/docker-entrypoint-initdb.d:ro');
    // The image runs only executable *.sh files there.
    expect(statSync(INIT_SCRIPT).mode & 0o111).toBe(0o111);
    expect(influxdb.healthcheck?.test).toEqual(['CMD-SHELL', 'influx ping && test -s /tokens/ingestor/token && test -s /tokens/grafana/token']);
    expect(mountAt(influxdb, '/tokens/ingestor')).toBe('influx-token-ingestor:/tokens/ingestor');
    expect(mountAt(influxdb, '/tokens/grafana')).toBe('influx-token-grafana:/tokens/grafana');
  });

  it("mounts each service's token volume, read-only, in that service alone", () => {
    expect(mountAt(ingestor, '/run/influx-token')).toBe('influx-token-ingestor:/run/influx-token:ro');
    expect(mountAt(grafana, '/run/influx-token')).toBe('influx-token-grafana:/run/influx-token:ro');
    for (const [name, service] of Object.entries(compose.services)) {
      const mounts = (service.volumes ?? []).map((v) => v.split(':')[0]);
      if (name !== 'influxdb' && name !== 'ingestor') expect(mounts, name).not.toContain('influx-token-ingestor');
      if (name !== 'influxdb' && name !== 'grafana') expect(mounts, name).not.toContain('influx-token-grafana');
    }
    expect(compose.volumes).toHaveProperty('influx-token-ingestor');
    expect(compose.volumes).toHaveProperty('influx-token-grafana');
  });

  it('the init script creates a write-only token for the ingestor and a read-only one for Grafana, on the bucket, once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ha-ingestor-initdb-'));
    const calls = join(dir, 'calls.log');
    // A stand-in influx CLI: logs its arguments, answers like influx 2.7 (--json, --hide-headers).
    const bin = join(dir, 'bin');
    execFileSync('mkdir', [bin]);
    writeFileSync(
      join(bin, 'influx'),
      `#!/bin/sh
echo "$*" >> "${calls}"
case "$1 $2" in
  "bucket list") printf '0a1b2c3d4e5f6789\\tha-bucket\\t0s\\t0a0a0a0a0a0a0a0a\\n' ;;
  "auth create") n=$(wc -l < "${calls}"); printf '{\\n\\t"id": "x",\\n\\t"token": "tok-%s==",\\n\\t"status": "active"\\n}\\n' "$n" ;;
esac
`,
    );
    chmodSync(join(bin, 'influx'), 0o755);
    const env = {
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      HA_INGESTOR_TOKENS_DIR: join(dir, 'tokens'),
      DOCKER_INFLUXDB_INIT_ORG: 'home',
      DOCKER_INFLUXDB_INIT_BUCKET: 'ha-bucket',
      DOCKER_INFLUXDB_INIT_ADMIN_TOKEN: 'admin-token',
    };
    execFileSync('sh', [INIT_SCRIPT], { env });
    const lines = readFileSync(calls, 'utf8').trim().split('\n');
    // The bucket id is looked up (by hand, no DOCKER_INFLUXDB_INIT_BUCKET_ID), then one token each.
    expect(lines).toEqual([
      'bucket list --org home --name ha-bucket --hide-headers',
      'auth create --org home --write-bucket 0a1b2c3d4e5f6789 --description ha-influx-ingestor: write-only, bucket ha-bucket --json',
      'auth create --org home --read-bucket 0a1b2c3d4e5f6789 --description Grafana: read-only, bucket ha-bucket --json',
    ]);
    const ingestorToken = join(dir, 'tokens/ingestor/token');
    expect(readFileSync(ingestorToken, 'utf8')).toBe('tok-2==');
    expect(readFileSync(join(dir, 'tokens/grafana/token'), 'utf8')).toBe('tok-3==');
    expect(statSync(ingestorToken).mode & 0o777).toBe(0o444);
    // Run again (by hand on an existing stack, or twice): the tokens are kept, nothing created.
    execFileSync('sh', [INIT_SCRIPT], { env: { ...env, DOCKER_INFLUXDB_INIT_BUCKET_ID: '0a1b2c3d4e5f6789' } });
    expect(readFileSync(calls, 'utf8').trim().split('\n')).toHaveLength(3);
    expect(readFileSync(ingestorToken, 'utf8')).toBe('tok-2==');
  });

  it.each([
    ['ingestor', 'INFLUX_TOKEN', ['node', 'dist/src/main.js'], ingestor],
    ['grafana', 'INFLUX_READ_TOKEN', ['/run.sh'], grafana],
  ] as const)('%s reads its token from the file into %s, then runs its own command', (_name, variable, command, service) => {
    expect(service.command).toEqual(command);
    const [shell, flag, script, arg0] = service.entrypoint ?? [];
    expect([shell, flag, arg0]).toEqual(['sh', '-c', _name]);
    const dir = mkdtempSync(join(tmpdir(), 'ha-ingestor-entry-'));
    writeFileSync(join(dir, 'token'), 'the-token==');
    const run = interpolate(script as string).replaceAll('/run/influx-token/token', join(dir, 'token'));
    const out = execFileSync('sh', ['-c', run, _name, 'sh', '-c', `printf %s "$${variable}"`], { env: { PATH: process.env.PATH ?? '' } });
    expect(out.toString()).toBe('the-token==');
    // No token file: exit 2 at once, before the command.
    expect(() =>
      execFileSync('sh', ['-c', interpolate(script as string).replaceAll('/run/influx-token/token', join(dir, 'none')), _name, 'true'], { stdio: 'ignore' }),
    ).toThrow(/status 2|code 2|exit code 2|Command failed/);
  });
});

/** `${name}`, as compose and Grafana's provisioning spell a variable. */
const ref = (name: string) => `\${${name}}`;

describe('Grafana: the bucket follows INFLUX_BUCKET', () => {
  const datasource = parse(read('grafana/provisioning/datasources/influxdb.yml')) as {
    datasources: { jsonData: { defaultBucket: string; organization: string }; secureJsonData: { token: string } }[];
  };
  const dashboardText = read('grafana/dashboards/ha-ingestor.json');
  const dashboard = JSON.parse(dashboardText) as { templating: { list: { name: string }[] }; panels: { title: string; targets: { query: string }[] }[] };

  it("provisions the datasource's default bucket and read-only token from what compose passes Grafana", () => {
    const ds = datasource.datasources[0];
    expect(ds?.jsonData.defaultBucket).toBe(ref('INFLUX_BUCKET'));
    expect(ds?.jsonData.organization).toBe(ref('INFLUX_ORG'));
    expect(ds?.secureJsonData.token).toBe(ref('INFLUX_READ_TOKEN'));
    expect(grafana.environment?.INFLUX_BUCKET).toBe(ref('INFLUX_BUCKET:-ha'));
    expect(ingestor.environment?.INFLUX_BUCKET).toBe(grafana.environment?.INFLUX_BUCKET);
  });

  it('has no bucket of its own: every query reads v.defaultBucket, no variable or literal names one', () => {
    expect(dashboard.templating.list.map((v) => v.name)).not.toContain('bucket');
    expect(dashboardText).not.toMatch(/bucket: "/);
    expect(dashboardText).not.toContain(ref('bucket'));
    for (const p of dashboard.panels) for (const t of p.targets) expect(t.query, p.title).toMatch(/^from\(bucket: v\.defaultBucket\)\n/);
  });

  it('"State changes per domain" counts each point once: on/off points carry value and state', () => {
    const query = dashboard.panels.find((p) => p.title === 'State changes per domain')?.targets[0]?.query ?? '';
    const steps = query.split('\n').filter((l) => l.trim().startsWith('|>'));
    const at = (f: string) => steps.findIndex((l) => l.includes(`|> ${f}(`));
    // Both fields are read (a point has value, state, or both) and folded into one row per point before counting.
    expect(query).toContain('r._field == "value" or r._field == "state"');
    expect(steps[at('pivot')]).toContain('pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")');
    expect(at('pivot')).toBeGreaterThan(0);
    expect(at('pivot')).toBeLessThan(at('group'));
    expect(at('group')).toBeLessThan(at('aggregateWindow'));
    expect(steps[at('aggregateWindow')]).toContain('fn: count');
  });
});
