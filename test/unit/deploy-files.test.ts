/**
 * No Docker engine runs here, so the container files are checked statically: what compose would
 * start, with which images, health checks, volumes and variables, and that every variable the
 * files hand to the ingestor is one the ingestor reads.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { VARIABLES } from '../../src/config.js';
import { dockerStages, neededStages } from '../helpers/dockerfile.js';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

interface Service {
  image?: string;
  build?: string;
  profiles?: string[];
  restart?: string;
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  volumes?: string[];
  ports?: string[];
  command?: string[];
}

const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const dockerfile = read('Dockerfile');
const envExample = read('.env.example');

describe('docker-compose.yml', () => {
  const { influxdb, ingestor, grafana, sim } = compose.services;

  it('runs InfluxDB 2.7, set up on first start, with a volume and a health check', () => {
    expect(influxdb?.image).toBe('influxdb:2.7');
    for (const v of ['MODE', 'USERNAME', 'PASSWORD', 'ORG', 'BUCKET', 'RETENTION', 'ADMIN_TOKEN']) {
      expect(influxdb?.environment, v).toHaveProperty(`DOCKER_INFLUXDB_INIT_${v}`);
    }
    expect(influxdb?.healthcheck?.test?.[1]).toMatch(/^influx ping && /);
    expect(influxdb?.volumes).toContain('influxdb-data:/var/lib/influxdb2');
  });

  it('starts the ingestor once InfluxDB is healthy, restarts it, keeps its data folder', () => {
    expect(ingestor?.build).toBe('.');
    expect(ingestor?.depends_on?.influxdb?.condition).toBe('service_healthy');
    expect(ingestor?.restart).toBe('unless-stopped');
    expect(ingestor?.environment?.DATA_DIR).toBe('/data');
    expect(ingestor?.volumes).toContain('ingestor-data:/data');
    expect(ingestor?.environment?.INFLUX_URL).toBe('http://influxdb:8086');
    expect(ingestor?.ports).toContain(`\${INGESTOR_PUBLISH:-127.0.0.1}:${ingestor?.environment?.HTTP_PORT}:${ingestor?.environment?.HTTP_PORT}`);
  });

  it('hands the ingestor only variables it reads', () => {
    const known = new Set(Object.keys(VARIABLES));
    for (const name of Object.keys(ingestor?.environment ?? {})) expect(known.has(name), name).toBe(true);
  });

  it('has Grafana and the simulator as optional profiles', () => {
    expect(grafana?.profiles).toEqual(['grafana']);
    expect(grafana?.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    expect(grafana?.volumes).toContain('./grafana/provisioning:/etc/grafana/provisioning:ro');
    expect(sim?.profiles).toEqual(['sim']);
    expect(sim?.command?.slice(0, 2)).toEqual(['node', 'dist/src/sim/cli.js']);
  });

  it('declares every named volume it mounts', () => {
    for (const service of Object.values(compose.services)) {
      for (const v of service.volumes ?? []) {
        const name = v.split(':')[0] as string;
        if (!name.startsWith('.')) expect(compose.volumes, name).toHaveProperty(name);
      }
    }
  });

  it('documents in .env.example every variable it takes from .env', () => {
    const used = new Set([...read('docker-compose.yml').matchAll(/\$\{([A-Z_]+)/g)].map((m) => m[1] as string));
    const documented = new Set([...envExample.matchAll(/^([A-Z_]+)=/gm)].map((m) => m[1] as string));
    for (const name of used) expect(documented.has(name), name).toBe(true);
  });
});

describe('Dockerfile', () => {
  // Read as BuildKit builds it for compose (no build arguments: the defaults of its ARGs; the
  // add-on's arguments are test/unit/addon-manifest.test.ts's).
  it('builds in two stages on a pinned Node LTS image and runs as a non-root user', () => {
    const stages = neededStages(dockerStages(dockerfile));
    const froms = stages.map((s) => s.base).filter((base) => !stages.some((t) => t.name === base) && base !== 'scratch');
    expect(froms).toHaveLength(2);
    for (const image of froms) expect(image).toMatch(/^node:(22|24)\.\d+(\.\d+)?-[a-z-]+$/);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(stages.at(-1)?.instructions).toContain('USER node');
  });

  it('has a health check on /health, a data volume, SIGTERM as stop signal, and the default port', () => {
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/health/m);
    expect(dockerfile).toMatch(/^VOLUME \["\/data"\]$/m);
    expect(dockerfile).toMatch(/^STOPSIGNAL SIGTERM$/m);
    expect(dockerfile).toMatch(new RegExp(`^EXPOSE ${VARIABLES.HTTP_PORT.default()}$`, 'm'));
  });

  it('keeps secrets and build output out of the build context', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['node_modules', 'dist', 'data', '.env', '.git']) expect(ignored).toContain(entry);
  });
});

describe('Grafana provisioning', () => {
  const dashboard = JSON.parse(read('grafana/dashboards/ha-ingestor.json')) as {
    panels: { title: string; targets: { query: string }[]; datasource: { uid: string } }[];
  };
  const datasource = parse(read('grafana/provisioning/datasources/influxdb.yml')) as {
    datasources: { uid: string; url: string; jsonData: { version: string } }[];
  };

  it('points the datasource at the compose InfluxDB with Flux', () => {
    expect(datasource.datasources[0]).toMatchObject({ uid: 'influxdb-ha', url: 'http://influxdb:8086', jsonData: { version: 'Flux' } });
  });

  it('has panels for sensors, weather, presence and the ingestor itself, all on that datasource', () => {
    const titles = dashboard.panels.map((p) => p.title).join(' | ');
    for (const word of ['Temperatures', 'weather', 'home', 'events per second', 'write latency', 'spool', 'reconnects']) expect(titles).toContain(word);
    for (const p of dashboard.panels) {
      expect(p.datasource.uid).toBe('influxdb-ha');
      expect(p.targets[0]?.query).toMatch(/^from\(bucket: v\.defaultBucket\)\n/);
    }
  });
});

describe('the container image', () => {
  it('ships no benchmark code: bench/ is neither copied nor sent to the build', () => {
    expect(dockerfile).not.toMatch(/COPY\s+bench/);
    expect(read('.dockerignore').split('\n')).toContain('bench');
    expect(dockerfile).toMatch(/CMD \["node", "dist\/src\/main\.js"\]/);
  });
});
