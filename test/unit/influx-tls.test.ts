/** INFLUX_TLS_VERIFY / INFLUX_TLS_CA_FILE (HA's verify_ssl / ssl_ca_cert) → undici's connect options. */
import { describe, expect, it } from 'vitest';
import { StartError } from '../../src/errors.js';
import { influxWriteTarget, tlsConnectOptions } from '../../src/sinks/influx.js';

const CERT = new URL('../fixtures/tls/cert.pem', import.meta.url).pathname;

describe('tlsConnectOptions', () => {
  it("Node's own checks when nothing is set, or verification on without a CA file", () => {
    expect(tlsConnectOptions(undefined)).toBeUndefined();
    expect(tlsConnectOptions({ verify: true, caFile: undefined })).toBeUndefined();
  });

  it('verify off accepts any certificate (the CA file does not matter then)', () => {
    expect(tlsConnectOptions({ verify: false, caFile: undefined })).toEqual({ rejectUnauthorized: false });
    expect(tlsConnectOptions({ verify: false, caFile: '/nowhere.pem' })).toEqual({ rejectUnauthorized: false });
  });

  it("a CA file: only its certificates are trusted, as HA's clients do with ssl_ca_cert", () => {
    const options = tlsConnectOptions({ verify: true, caFile: CERT });
    expect(options?.rejectUnauthorized).toBe(true);
    expect(options?.ca).toHaveLength(1);
    expect(options?.ca?.[0]).toContain('BEGIN CERTIFICATE');
  });

  it('an unreadable CA file stops the start with exit 2, naming the variable and the file', () => {
    let error: unknown;
    try {
      tlsConnectOptions({ verify: true, caFile: '/nowhere/ca.pem' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(StartError);
    expect(error).toMatchObject({ code: 'INFLUX_TLS_CA_UNREADABLE', exitCode: 2, message: 'INFLUX_TLS_CA_FILE=/nowhere/ca.pem: cannot read it: ENOENT' });
  });

  it('the write target carries the settings', () => {
    const tls = { verify: false, caFile: undefined };
    expect(influxWriteTarget({ api: 'v1', url: 'https://db:8086', db: 'd', rp: undefined, username: undefined, password: undefined, tls }).tls).toBe(tls);
  });
});
