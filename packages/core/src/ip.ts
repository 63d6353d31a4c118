// IPv4 address and CIDR parsing. Strict on purpose: dotted quad, decimal, no leading
// zeros (Go's netip and Kubernetes' CEL `isIP` refuse them too), prefix 0..32.

/** A parsed IPv4 CIDR block: the address as written, its prefix length, and the network it names. */
export interface Ipv4Cidr {
  /** The address part as a 32-bit unsigned integer (host bits may be set, as `isCIDR` allows). */
  readonly address: number;
  readonly prefixLength: number;
  /** The address with host bits cleared. */
  readonly network: number;
}

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';

/** Regular expression source (no anchors flags) matching exactly the strings `parseIpv4` accepts. */
export const IPV4_PATTERN = `^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`;
/** Regular expression source matching exactly the strings `parseIpv4Cidr` accepts. */
export const IPV4_CIDR_PATTERN = `^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}/(?:3[0-2]|[12]?[0-9])$`;

/** Parses a dotted-quad IPv4 address to a 32-bit unsigned integer; undefined when invalid. */
export function parseIpv4(text: string): number | undefined {
  if (typeof text !== 'string' || text.length < 7 || text.length > 15) return undefined;
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 46) {
      if (digits === 0) return undefined;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
      if (dots > 3) return undefined;
    } else if (code >= 48 && code <= 57) {
      if (digits > 0 && octet === 0) return undefined; // leading zero
      octet = octet * 10 + (code - 48);
      digits++;
      if (octet > 255) return undefined;
    } else {
      return undefined;
    }
  }
  if (dots !== 3 || digits === 0) return undefined;
  return value * 256 + octet;
}

export function isIpv4(text: string): boolean {
  return parseIpv4(text) !== undefined;
}

/** Parses `a.b.c.d/n` (IPv4 only); undefined when invalid. */
export function parseIpv4Cidr(text: string): Ipv4Cidr | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = parseIpv4(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (address === undefined || !/^(?:3[0-2]|[12]?[0-9])$/.test(prefixText)) return undefined;
  const prefixLength = Number(prefixText);
  return { address, prefixLength, network: networkOf(address, prefixLength) };
}

export function isIpv4Cidr(text: string): boolean {
  return parseIpv4Cidr(text) !== undefined;
}

/** Formats a 32-bit unsigned integer as a dotted quad. */
export function formatIpv4(value: number): string {
  return `${(value >>> 24) & 255}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** The canonical form of a CIDR block: network address and prefix, e.g. `10.0.0.0/8`. */
export function formatIpv4Cidr(cidr: Ipv4Cidr): string {
  return `${formatIpv4(cidr.network)}/${cidr.prefixLength}`;
}

export function cidrContains(cidr: Ipv4Cidr, address: number): boolean {
  return networkOf(address, cidr.prefixLength) === cidr.network;
}

function networkOf(address: number, prefixLength: number): number {
  if (prefixLength === 0) return 0;
  const mask = (0xffffffff << (32 - prefixLength)) >>> 0;
  return (address & mask) >>> 0;
}
