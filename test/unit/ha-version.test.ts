/** The announced ha_version decides which commands are sent (src/ha/version.ts). */
import { describe, expect, it } from 'vitest';
import { haHasCommand, parseHaVersion, statisticsPrefix } from '../../src/ha/version.js';

describe('parseHaVersion', () => {
  it.each([
    ['0.96.5', [0, 96]],
    ['2021.12.0', [2021, 12]],
    ['2022.9.0b3', [2022, 9]],
    ['2025.1.0.dev20241201', [2025, 1]],
    ['2022.9', [2022, 9]],
    ['unknown', null],
    ['', null],
    ['dev', null],
    ['v2022.9.0', null],
  ] as const)('%j → %j', (announced, expected) => {
    expect(parseHaVersion(announced)).toEqual(expected);
  });
});

describe('haHasCommand', () => {
  it.each([
    ['0.96.5', 'supported_features', false],
    ['2021.12.0', 'supported_features', false],
    ['2022.8.7', 'supported_features', false],
    ['2022.9.0', 'supported_features', true],
    ['2022.10.0b1', 'supported_features', true],
    ['2025.11.0', 'supported_features', true],
    ['2022.4.0', 'history/history_during_period', false],
    ['2022.5.0', 'history/history_during_period', true],
    ['0.96.5', 'history/history_during_period', false],
    // Unknown version: sent as before (unknown_command tolerated).
    ['unknown', 'supported_features', true],
    ['my-custom-build', 'supported_features', true],
    // Commands without a known first release: always sent.
    ['0.96.5', 'get_states', true],
  ] as const)('%s has %s: %s', (announced, command, expected) => {
    expect(haHasCommand(announced, command)).toBe(expected);
  });
});

describe('statistics commands by release (src/ha/version.ts statisticsPrefix)', () => {
  it.each([
    ['2025.11.0', 'recorder'],
    ['2022.11.0', 'recorder'],
    ['2022.10.5', 'history'],
    ['2021.9.0', 'history'],
    ['2021.8.8', null],
    ['0.96.5', null],
    ['unknown', 'recorder'],
  ])('%s → %s', (version, prefix) => {
    expect(statisticsPrefix(version)).toBe(prefix);
  });
});
