/**
 * How far HA's clock is from ours, for display only (/health `ha.clockOffsetSeconds` and the
 * metric ha_ingestor_ha_clock_offset_seconds). Gaps never depend on it: they are computed from
 * HA's own timestamps (src/ha/resync.ts).
 *
 * A sample is the arrival time (our clock) of a result's frames minus the newest HA time of the
 * live events in them (EncodeResult.liveHaMaxMs): the offset plus the delivery delay, which is
 * never negative. So the smallest sample of a recent window is the best estimate (NTP's idea).
 * Positive: HA's clock is behind ours.
 */

/** Samples kept: at a home's rate a few minutes, at full speed a fraction of a second. */
export const CLOCK_SAMPLES = 256;

export class ClockOffset {
  private readonly samples: number[] = [];
  private next = 0;

  /** `arrivalMs`: when the frames arrived (our clock); `haMs`: their newest live HA time. */
  sample(arrivalMs: number, haMs: number): void {
    if (haMs < 0) return;
    if (this.samples.length < CLOCK_SAMPLES) this.samples.push(arrivalMs - haMs);
    else this.samples[this.next] = arrivalMs - haMs;
    this.next = (this.next + 1) % CLOCK_SAMPLES;
  }

  /** Our clock minus HA's, ms (minimum over the recent samples); null before any live event. */
  get offsetMs(): number | null {
    return this.samples.length === 0 ? null : Math.min(...this.samples);
  }

  get offsetSeconds(): number | null {
    const ms = this.offsetMs;
    return ms === null ? null : ms / 1000;
  }
}
