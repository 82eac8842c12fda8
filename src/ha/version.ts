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
};

/** Whether a release announcing `announced` has `command`; true when either is unknown. */
export function haHasCommand(announced: string, command: string): boolean {
  const since = COMMAND_SINCE[command];
  const v = parseHaVersion(announced);
  if (since === undefined || v === null) return true;
  return v[0] > since[0] || (v[0] === since[0] && v[1] >= since[1]);
}
