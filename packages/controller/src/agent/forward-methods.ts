/**
 * Gives `wrapper` every method of `inner` it does not define itself, calling through to `inner`.
 * The agent's timing and background wrappers of its ports must not drop a method a port gains
 * later (optional ones would otherwise vanish without a compile error).
 */
export function forwardMethods<T extends object>(wrapper: T, inner: object): T {
  const target = wrapper as Record<string, unknown>;
  const source = inner as Record<string, unknown>;
  for (
    let proto: object | null = inner;
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor' || name in target || typeof source[name] !== 'function') continue;
      target[name] = (...args: unknown[]) =>
        (source[name] as (...a: unknown[]) => unknown).apply(inner, args);
    }
  }
  return wrapper;
}
