/**
 * Which WebSocket commands a Home Assistant release has, read from the `ha_version` it announces
 * in auth_required/auth_ok. HA logs an ERROR line ("Received invalid command: …") for every
 * command it does not know, so the ingestor does not send what the release cannot have.
 *
 * Versions: `0.96.5`, `2021.12.0`, `2022.9.0b3`, `2025.1.0.dev20241201` → [major, minor].
 * Anything else (`unknown`, a custom build's name) is unknown: every command is sent as before
 * and unknown_command is tolerated where it always was.
 *
 * Since when (HA's releases):
 * - supported_features (coalescing): HA's own client, home-assistant-js-websocket lib/socket.ts,
 *   sends it only when `atLeastHaVersion(haVersion, 2022, 9)`; older releases answer
 *   unknown_command.
 * - history/history_during_period: HA 2022.5 (from our knowledge of HA's release notes, not read
 *   from its source here); older releases are asked over REST (/api/history/period), as they were
 *   after answering unknown_command.
 * - config/{area,device,entity}_registry/list exist long before the oldest release we know runs
 *   (0.96), but only when the `config` integration is loaded (homeassistant/components/config/
 *   __init__.py sets them up in its async_setup): src/enrich/registries.ts asks get_config's
 *   `components` first, not the version.
 * - Long-term statistics (src/import/statistics.ts): `recorder/list_statistic_ids` and
 *   `recorder/statistics_during_period` are registered by homeassistant/components/recorder/
 *   websocket_api.py (home-assistant/core dfbe53eb8ea80795f6b033a6d3c3054b7a496fde, async_setup).
 *   Before, the same two commands lived in the history integration as `history/…` (the schema in
 *   homeassistant/components/history/__init__.py: start_time, end_time, statistic_ids, period
 *   5minute|hour|day|month). The release of the move is taken from HA's clients, not read in HA's
 *   source: the frontend tries recorder/ then history/; third-party clients switch at 2022.10 or
 *   2022.11, so recorder/ is sent from 2022.11 on and history/ from 2021.9 (the 5-minute period
 *   and the `period` key) to 2022.10; an unknown_command on either is answered by trying the
 *   other once.
 */

export type HaVersion = readonly [major: number, minor: number];

/** [major, minor] of an announced version, or null when it cannot be read. */
export function parseHaVersion(announced: string): HaVersion | null {
  const m = /^(\d{1,4})\.(\d{1,3})(?:$|[.b])/.exec(announced);
  return m === null ? null : [Number(m[1]), Number(m[2])];
}

/** The first release that answers each command (only those older releases lack). */
export const COMMAND_SINCE: Readonly<Record<string, HaVersion>> = {
  supported_features: [2022, 9],
  'history/history_during_period': [2022, 5],
  'recorder/list_statistic_ids': [2022, 11],
  'recorder/statistics_during_period': [2022, 11],
  'history/list_statistic_ids': [2021, 9],
  'history/statistics_during_period': [2021, 9],
};

/** The prefix of the statistics commands a release has: recorder/ or history/, or null (none). */
export type StatisticsPrefix = 'recorder' | 'history';

/** Which statistics commands to send first to a release announcing `announced` (unknown: recorder/). */
export function statisticsPrefix(announced: string): StatisticsPrefix | null {
  if (haHasCommand(announced, 'recorder/statistics_during_period')) return 'recorder';
  return haHasCommand(announced, 'history/statistics_during_period') ? 'history' : null;
}

/** Whether a release announcing `announced` has `command`; true when either is unknown. */
export function haHasCommand(announced: string, command: string): boolean {
  const since = COMMAND_SINCE[command];
  const v = parseHaVersion(announced);
  if (since === undefined || v === null) return true;
  return v[0] > since[0] || (v[0] === since[0] && v[1] >= since[1]);
}
