import { describe, expect, it } from 'vitest';
import { createPollPacer } from '../../server/src/core/poll-pacing.js';

// RFC 8628 §3.5 pacing, kept in memory so that a pending poll writes nothing.
const code = (interval = 5) => ({ interval, expiresAt: 600_000 });

describe('poll pacing', () => {
  it('lets the first poll through and answers one sooner than the interval as early, adding 5 s', () => {
    const pacer = createPollPacer();
    expect(pacer.poll(1, 0, code(), 5)).toEqual({ early: false, interval: 5 });
    expect(pacer.poll(1, 4_999, code(), 5)).toEqual({ early: true, interval: 10 });
    // The longer interval is in force from now on: 9.9 s later is early again.
    expect(pacer.poll(1, 14_900, code(), 5)).toEqual({ early: true, interval: 15 });
    expect(pacer.poll(1, 29_900, code(), 5)).toEqual({ early: false, interval: 15 });
  });

  it('takes a code it has not seen as never polled, at its stored interval', () => {
    const pacer = createPollPacer();
    expect(pacer.poll(2, 10_000, code(10), 5)).toEqual({ early: false, interval: 10 });
    expect(pacer.poll(2, 19_999, code(10), 5)).toEqual({ early: true, interval: 15 });
  });

  it('keeps each code apart and forgets a code on request', () => {
    const pacer = createPollPacer();
    pacer.poll(1, 0, code(), 5);
    expect(pacer.poll(2, 1_000, code(), 5).early).toBe(false);
    expect(pacer.size).toBe(2);
    pacer.forget(1);
    expect(pacer.size).toBe(1);
    expect(pacer.poll(1, 1_000, code(), 5).early).toBe(false);
  });

  it('sweeps out codes that expired without being forgotten', () => {
    const pacer = createPollPacer();
    pacer.poll(0, 0, { interval: 5, expiresAt: 1_000 }, 5);
    for (let id = 1; id <= 10_000; id++) pacer.poll(id, 2_000, { interval: 5, expiresAt: 600_000 }, 5);
    expect(pacer.size).toBe(10_000);
  });
});
