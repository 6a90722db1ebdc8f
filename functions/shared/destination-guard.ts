/**
 * Which network destinations formfleet's outgoing connections may reach: the one address check shared by the
 * worker's browser gate (functions/worker/network-guard.ts) and webhook delivery (functions/webhooks/). Both
 * talk to untrusted third parties (directory sites, webhook receivers) from a Lambda function that sits next
 * to the runtime API on loopback, the credentials endpoints on link-local addresses and whatever private
 * network it can see. A destination is admitted by resolving its name here, refusing it when ANY address is in
 * a blocked range (policy BROWSER_NETWORK), and handing back exactly one checked address: the caller connects
 * to that address, never to the name again, so DNS rebinding has no gap between check and use.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { type BlockedRange, BROWSER_NETWORK } from '#policy';

/** All addresses a host name resolves to (a destination is refused if any of them is blocked). */
export type Resolver = (host: string) => Promise<string[]>;

export interface BlockedRanges {
  readonly ipv4: readonly BlockedRange[];
  readonly ipv6: readonly BlockedRange[];
}

/** The address to connect to, a refusal (the kind of address, in words), or a name that did not resolve. */
export type Admission = { address: string } | { refused: string } | { failed: string };

export type CompiledRanges = Record<'ipv4' | 'ipv6', { kind: string; list: BlockList }[]>;

/** Node's BlockList per range (it matches IPv4-mapped IPv6 addresses against IPv4 ranges too). */
export function compileRanges(ranges: BlockedRanges): CompiledRanges {
  const compile = (range: BlockedRange, type: 'ipv4' | 'ipv6') => {
    const [network = '', bits = ''] = range.cidr.split('/');
    const list = new BlockList();
    list.addSubnet(network, Number(bits), type);
    return { kind: range.kind, list };
  };
  return {
    ipv4: ranges.ipv4.map((range) => compile(range, 'ipv4')),
    ipv6: ranges.ipv6.map((range) => compile(range, 'ipv6')),
  };
}

/** BROWSER_NETWORK's ranges: everything no third party on the internet is served from. */
export const POLICY_RANGES: BlockedRanges = {
  ipv4: BROWSER_NETWORK.blockedIpv4,
  ipv6: BROWSER_NETWORK.blockedIpv6,
};
const COMPILED_POLICY_RANGES = compileRanges(POLICY_RANGES);

/** The refusal of an address: the kind of the range it is in, or undefined when it may be reached. */
export function blockedKind(
  address: string,
  ranges: CompiledRanges = COMPILED_POLICY_RANGES,
): string | undefined {
  const kindOf = (a: string, type: 'ipv4' | 'ipv6') => ranges[type].find((r) => r.list.check(a, type))?.kind;
  const family = isIP(address);
  if (family === 4) return kindOf(address, 'ipv4');
  if (family !== 6) return 'not an IP address';
  const words = ipv6Words(address);
  // IPv4-mapped (::ffff:0:0/96) and NAT64's well-known prefix (64:ff9b::/96) carry an IPv4 address.
  const prefix = words.slice(0, 6).join(':');
  if (prefix === '0:0:0:0:0:65535' || prefix === '100:65435:0:0:0:0') {
    const v4 = words
      .slice(6)
      .flatMap((w) => [w >> 8, w & 0xff])
      .join('.');
    return kindOf(v4, 'ipv4');
  }
  return kindOf(address, 'ipv6');
}

/** The eight 16-bit words of an IPv6 address (a trailing dotted quad and a zone id allowed). */
function ipv6Words(address: string): number[] {
  let text = address.split('%')[0] ?? '';
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const parse = (part: string | undefined) =>
    part ? part.split(':').map((word) => Number.parseInt(word, 16)) : [];
  const [left, right] = text.split('::');
  const head = parse(left);
  if (right === undefined) return head;
  const tail = parse(right);
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** A URL's host without IPv6 brackets, lowercased. */
export function bareHost(host: string): string {
  return host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

export const defaultResolve: Resolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);

export interface AdmitOptions {
  /** The refused ranges. @default BROWSER_NETWORK's */
  ranges?: CompiledRanges;
  /** @default every address of dns.lookup */
  resolve?: Resolver;
  /** `host:port` keys let through although their address is blocked (the local runtime's own sites). */
  allowed?: ReadonlySet<string>;
  /** Addresses let through although a blocked range holds them (the local runtime's loopback receivers). */
  permitted?: (address: string) => boolean;
  /** A name must resolve within this. @default BROWSER_NETWORK.resolveTimeoutMs */
  resolveTimeoutMs?: number;
}

/**
 * Decides one destination: the address to connect to (one of those its name resolved to, every one of them
 * checked), a refusal, or a failure to resolve (which is not a refusal: the destination is unreachable).
 */
export async function admitDestination(
  host: string,
  port: number,
  options: AdmitOptions = {},
): Promise<Admission> {
  const name = bareHost(host);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) return { refused: `port ${port}` };
  let addresses: string[];
  if (isIP(name)) addresses = [name];
  else {
    try {
      addresses = await withTimeout(
        (options.resolve ?? defaultResolve)(name),
        options.resolveTimeoutMs ?? BROWSER_NETWORK.resolveTimeoutMs,
      );
    } catch {
      addresses = [];
    }
    if (addresses.length === 0) return { failed: `${name} does not resolve` };
  }
  if (!options.allowed?.has(`${name}:${port}`)) {
    for (const address of addresses) {
      if (options.permitted?.(address)) continue;
      const kind = blockedKind(address, options.ranges ?? COMPILED_POLICY_RANGES);
      if (kind) return { refused: address === name ? kind : `resolves to ${address}, ${kind}` };
    }
  }
  // IPv4 first, as Node did before v17: a Lambda function outside a dual-stack VPC has no IPv6 route, and the
  // caller connects to one checked address.
  return { address: addresses.find((address) => isIP(address) === 4) ?? (addresses[0] as string) };
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
