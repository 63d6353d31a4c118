import type { ClientEvent, ProbeEvent } from './timeline.js';

/**
 * An SVG timeline of one failover: probe results of both nodes (green answered, red silent) and
 * client requests (coloured by the node that answered, grey when unanswered), with markers.
 */
export function failoverSvg(input: {
  title: string;
  from: number;
  to: number;
  probes: readonly ProbeEvent[];
  client: readonly ClientEvent[];
  markers: { t: number; label: string }[];
}): string {
  const width = 900;
  const left = 110;
  const right = 20;
  const span = Math.max(1, input.to - input.from);
  const x = (t: number) => left + ((t - input.from) / span) * (width - left - right);
  const rows = { vm1: 60, vm2: 100, client: 150 };
  const parts: string[] = [];
  parts.push(`<text x="10" y="24" font-size="15" font-weight="bold">${escapeXml(input.title)}</text>`);
  for (const [label, y] of Object.entries({
    'probe vm1': rows.vm1,
    'probe vm2': rows.vm2,
    client: rows.client,
  })) {
    parts.push(`<text x="10" y="${y + 5}" font-size="12">${label}</text>`);
    parts.push(`<line x1="${left}" y1="${y}" x2="${width - right}" y2="${y}" stroke="#ddd"/>`);
  }
  for (const p of input.probes) {
    if (p.t < input.from || p.t > input.to) continue;
    parts.push(
      `<circle cx="${x(p.t).toFixed(1)}" cy="${rows[p.backend]}" r="5" fill="${p.ok ? '#2a9d3a' : '#d33'}"><title>${p.backend} ${p.ok ? 'answered' : 'silent'}</title></circle>`,
    );
  }
  const colour: Record<string, string> = { vm1: '#1f6fd1', vm2: '#e08a00' };
  for (const c of input.client) {
    if (c.t < input.from || c.t > input.to) continue;
    const fill = c.ok ? (colour[c.who ?? ''] ?? '#000') : '#aaa';
    parts.push(
      `<rect x="${x(c.t).toFixed(1)}" y="${rows.client - 8}" width="3" height="16" fill="${fill}"/>`,
    );
  }
  for (const m of input.markers) {
    const mx = x(m.t).toFixed(1);
    parts.push(`<line x1="${mx}" y1="36" x2="${mx}" y2="175" stroke="#555" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${mx}" y="${190}" font-size="11" text-anchor="middle">${escapeXml(m.label)}</text>`);
  }
  for (let s = 0; s <= span / 1000; s += 1) {
    const tx = x(input.from + s * 1000).toFixed(1);
    parts.push(`<text x="${tx}" y="215" font-size="10" text-anchor="middle">${s}s</text>`);
  }
  parts.push(
    `<text x="${left}" y="240" font-size="11">probes: green answered, red silent · client: blue vm1, orange vm2, grey no answer</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="255" font-family="sans-serif" style="background:#fff">\n${parts.join('\n')}\n</svg>\n`;
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
