import { describe, expect, it } from 'vitest';
import { forwardMethods } from '../../src/agent/forward-methods.js';

class Port {
  calls: string[] = [];
  base(): string {
    return 'base';
  }
  extra(value: string): string {
    this.calls.push(value);
    return `extra ${value}`;
  }
}

describe('forwardMethods', () => {
  it("forwards the inner object's methods the wrapper lacks, on the inner object", () => {
    const inner = new Port();
    const wrapper = forwardMethods<{ base(): string; extra?(v: string): string }>(
      { base: () => 'wrapped' },
      inner,
    );
    expect(wrapper.base()).toBe('wrapped');
    expect(wrapper.extra?.('x')).toBe('extra x');
    expect(inner.calls).toEqual(['x']);
  });

  it('leaves data properties alone', () => {
    const wrapper = forwardMethods<Record<string, unknown>>({}, new Port());
    expect(wrapper.calls).toBeUndefined();
    expect(wrapper.constructor).toBe(Object);
  });
});
