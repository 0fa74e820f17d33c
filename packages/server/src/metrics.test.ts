import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Tally } from './metrics.ts';

/** The value of a sample line of a scrape, by its name with labels, e.g. `x_total{kind="message"}`. */
async function scrape(registry: Registry): Promise<Map<string, number>> {
  const text = await registry.metrics();
  return new Map(
    text
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => {
        const at = line.lastIndexOf(' ');
        return [line.slice(0, at), Number(line.slice(at + 1))];
      }),
  );
}

describe('Tally', () => {
  it('hands what was added to its counter when scraped, once', async () => {
    const registry = new Registry();
    const tally = new Tally({ name: 'delivered_total', help: 'h', registers: [registry] });
    expect((await scrape(registry)).get('delivered_total')).toBe(0);
    tally.add(3);
    tally.add(1);
    expect((await scrape(registry)).get('delivered_total')).toBe(4);
    // A second scrape does not count the same additions again.
    expect((await scrape(registry)).get('delivered_total')).toBe(4);
    tally.add(2);
    expect((await scrape(registry)).get('delivered_total')).toBe(6);
  });

  it('keeps a labelled tally per value of its label', async () => {
    const registry = new Registry();
    const tally = new Tally({ name: 'sent_total', help: 'h', labelNames: ['kind'] as const, registers: [registry] });
    tally.add(1, 'message');
    tally.add(1, 'message');
    tally.add(5, 'system');
    let samples = await scrape(registry);
    expect(samples.get('sent_total{kind="message"}')).toBe(2);
    expect(samples.get('sent_total{kind="system"}')).toBe(5);
    tally.add(1, 'message');
    samples = await scrape(registry);
    expect(samples.get('sent_total{kind="message"}')).toBe(3);
    expect(samples.get('sent_total{kind="system"}')).toBe(5);
  });
});
