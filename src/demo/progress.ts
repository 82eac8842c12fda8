/** The demo's progress line, from the ingestor's /metrics once a second. */

export async function readMetrics(httpPort: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

export class Progress {
  private readonly timer: NodeJS.Timeout;
  private last = { at: Date.now(), events: 0 };
  private readonly tty = process.stdout.isTTY === true;

  constructor(
    private readonly httpPort: number,
    private readonly events: number,
  ) {
    this.timer = setInterval(() => void this.show().catch(() => {}), 1000);
  }

  private async show(): Promise<void> {
    const m = await readMetrics(this.httpPort);
    const received = m.get('ha_ingestor_events_received_total') ?? 0;
    const now = Date.now();
    const perSecond = ((received - this.last.events) * 1000) / Math.max(1, now - this.last.at);
    this.last = { at: now, events: received };
    const line = `events ${received}/${this.events}  ${Math.round(perSecond)}/s  written ${m.get('ha_ingestor_points_written_total') ?? 0}  in flight ${m.get('ha_ingestor_encoder_batches_in_flight') ?? 0} batches, ${m.get('ha_ingestor_writer_queue_lines') ?? 0} points  spool ${m.get('ha_ingestor_spool_bytes') ?? 0} B`;
    process.stdout.write(this.tty ? `\r${line.padEnd(100)}` : `${line}\n`);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
